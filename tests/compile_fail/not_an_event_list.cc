// expect: the second argument of Aggregate must be strata::Events<E1, E2, \.\.\.>
#include <tuple>
#include "common.h"

class Machine : public strata::Aggregate<Machine, std::tuple<Started>> {};

int main() { Machine m; }
