// expect: this field type has no Codec
#include "common.h"

struct Point {
  int x;
};  // no field table, no Codec<Point>
struct Moved {
  static constexpr std::string_view kType = "cf.moved.v1";
  Point to{};
  static constexpr auto kFields = strata::fields(strata::field("to", &Moved::to));
};

int main() { return static_cast<int>(strata::to_json(Moved{}).size()); }
