// The `strata` command (strata/tools/command.h): `strata --help` lists the verbs.
#include "strata/tools/command.h"

int main(int argc, char** argv) { return strata::tools::run(argc, argv); }
