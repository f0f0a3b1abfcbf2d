#include "strata/core/codec.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using strata::Limits;
using strata::Status;
using strata::StatusCode;

namespace {

struct Address {
  std::string street;
  std::uint32_t zip = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("street", &Address::street), strata::field("zip", &Address::zip));
  bool operator==(const Address&) const = default;
};

struct Person {
  static constexpr std::string_view kType = "test.person_registered.v2";
  std::string name;
  std::int32_t age = 0;
  bool active = false;
  Address home;
  std::optional<Address> work;
  std::optional<std::int64_t> referrer;
  std::vector<std::string> tags;
  std::vector<Address> history;
  std::map<std::string, std::int64_t> scores;
  std::vector<bool> flags;
  static constexpr auto kFields =
      strata::fields(strata::field("name", &Person::name), strata::field("age", &Person::age),
                     strata::field("active", &Person::active), strata::field("home", &Person::home),
                     strata::field("work", &Person::work), strata::field("referrer", &Person::referrer),
                     strata::field("tags", &Person::tags), strata::field("history", &Person::history),
                     strata::field("scores", &Person::scores), strata::field("flags", &Person::flags));
  bool operator==(const Person&) const = default;
};

struct Numbers {
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  double d = 0;
  static constexpr auto kFields = strata::fields(
      strata::field("i64", &Numbers::i64), strata::field("u64", &Numbers::u64), strata::field("i32", &Numbers::i32),
      strata::field("u32", &Numbers::u32), strata::field("d", &Numbers::d));
  bool operator==(const Numbers&) const = default;
};

struct Text {
  std::string s;
  static constexpr auto kFields = strata::fields(strata::field("s", &Text::s));
  bool operator==(const Text&) const = default;
};

// Doubles in every place a field table can hold one.
struct Quoted {
  static constexpr std::string_view kType = "market.quoted.v1";
  double price = 0;
  std::optional<double> bid;
  std::vector<double> history;
  std::map<std::string, double> by_venue;
  std::vector<Numbers> legs;
  std::optional<Numbers> hedge;
  static constexpr auto kFields =
      strata::fields(strata::field("price", &Quoted::price), strata::field("bid", &Quoted::bid),
                     strata::field("history", &Quoted::history), strata::field("by_venue", &Quoted::by_venue),
                     strata::field("legs", &Quoted::legs), strata::field("hedge", &Quoted::hedge));
  bool operator==(const Quoted&) const = default;
};

// A type that nests itself: its decoding recurses once per level of the input.
struct Tree {
  std::string name;
  std::vector<Tree> children;
  static constexpr auto kFields =
      strata::fields(strata::field("name", &Tree::name), strata::field("children", &Tree::children));
};

// A value type with its own Codec: money written as a string "12.34".
struct Money {
  std::int64_t cents = 0;
  bool operator==(const Money&) const = default;
};

struct Payment {
  Money amount;
  std::optional<Money> fee;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Payment::amount), strata::field("fee", &Payment::fee));
  bool operator==(const Payment&) const = default;
};

}  // namespace

template <>
struct strata::Codec<Money> {
  static void write(json::Writer& w, const Money& m) {
    w.string(std::to_string(m.cents / 100) + "." + (m.cents % 100 < 10 ? "0" : "") + std::to_string(m.cents % 100));
  }
  static Status read(json::Value& in, Money& out) {
    std::string_view s;
    STRATA_RETURN_IF_ERROR(in.get_string_view(s));
    auto dot = s.find('.');
    if (dot == std::string_view::npos || s.size() - dot != 3) return Status::invalid_argument("expected \"units.cc\"");
    out.cents = std::stoll(std::string(s.substr(0, dot))) * 100 + std::stoll(std::string(s.substr(dot + 1)));
    return {};
  }
};

namespace {

template <class T>
std::string decode_error(std::string_view text, const Limits& limits = {}) {
  T out{};
  Status s = strata::decode_json(text, out, limits);
  return s.to_string();
}

template <class T>
T decoded(std::string_view text) {
  T out{};
  strata::throw_if_error(strata::decode_json(text, out));
  return out;
}

Person sample_person() {
  Person p;
  p.name = "Ada \"the\" Lovelace";
  p.age = 36;
  p.active = true;
  p.home = {"12 St James's Sq", 1815};
  p.work = Address{"Analytical Engine Rd", 1843};
  p.referrer = 7;
  p.tags = {"math", "", "poetry"};
  p.history = {{"a", 1}, {"b", 2}};
  p.scores = {{"chess", -3}, {"go", 1'000'000'000'000}};
  p.flags = {true, false, true};
  return p;
}

}  // namespace

TEST_CASE("a struct with every kind of field encodes to compact json in field-table order") {
  CHECK(strata::to_json(sample_person()) ==
        R"({"name":"Ada \"the\" Lovelace","age":36,"active":true,"home":{"street":"12 St James's Sq","zip":1815},)"
        R"("work":{"street":"Analytical Engine Rd","zip":1843},"referrer":7,"tags":["math","","poetry"],)"
        R"("history":[{"street":"a","zip":1},{"street":"b","zip":2}],"scores":{"chess":-3,"go":1000000000000},)"
        R"("flags":[true,false,true]})");
  Person empty;
  CHECK(strata::to_json(empty) ==
        R"({"name":"","age":0,"active":false,"home":{"street":"","zip":0},"work":null,"referrer":null,"tags":[],)"
        R"("history":[],"scores":{},"flags":[]})");
}

TEST_CASE("nested structs, optionals, vectors and maps round-trip") {
  const Person p = sample_person();
  CHECK(decoded<Person>(strata::to_json(p)) == p);
  const Person empty;
  CHECK(decoded<Person>(strata::to_json(empty)) == empty);
}

TEST_CASE("encode_json appends to what the string already holds") {
  std::string out = "prefix ";
  strata::encode_json(Text{"x"}, out);
  CHECK(out == R"(prefix {"s":"x"})");
}

TEST_CASE("a Codec specialization is used for its type, also inside optional") {
  Payment p{{1234}, Money{5}};
  CHECK(strata::to_json(p) == R"({"amount":"12.34","fee":"0.05"})");
  CHECK(decoded<Payment>(strata::to_json(p)) == p);
  CHECK(decode_error<Payment>(R"({"amount":"12"})") == "invalid argument: field \"amount\": expected \"units.cc\"");
  CHECK(decoded<Payment>(R"({"amount":"0.01"})").fee == std::nullopt);
}

TEST_CASE("strings with quotes, backslashes and control characters round-trip") {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
  for (const std::string& s : {std::string("\"quoted\""), std::string("back\\slash\\"), all_controls,
                               std::string("\\u0041 is not unescaped twice"), std::string("\x7f")}) {
    CAPTURE(s);
    CHECK(decoded<Text>(strata::to_json(Text{s})).s == s);
  }
  CHECK(strata::to_json(Text{"a\"b\\c\nd\x01"}) == R"({"s":"a\"b\\c\nd\u0001"})");
}

TEST_CASE("\\u escapes and surrogate pairs in the input decode to utf-8") {
  CHECK(decoded<Text>(R"({"s":"\u0041\u00e9\u20ac\ud83d\ude00\u0000"})").s ==
        std::string("A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0", 11));
  CHECK(decoded<Text>(R"({"s":"\uD834\uDD1E"})").s == "\xf0\x9d\x84\x9e");
  CHECK(decode_error<Text>(R"({"s":"\ud834"})") ==
        "invalid argument: field \"s\": malformed json: invalid string escape");
  CHECK(decode_error<Text>(R"({"s":"\ud834\u0041"})") ==
        "invalid argument: field \"s\": malformed json: invalid string escape");
}

TEST_CASE("multi-byte utf-8 passes through unescaped and invalid utf-8 is kInvalidArgument") {
  const std::string s = "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89";
  CHECK(strata::to_json(Text{s}) == "{\"s\":\"" + s + "\"}");
  CHECK(decoded<Text>(strata::to_json(Text{s})).s == s);
  for (std::string_view bad : {"\xff", "\xc3", "\xc0\xaf", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    CAPTURE(bad);
    CHECK(decode_error<Text>("{\"s\":\"" + std::string(bad) + "\"}") ==
          "invalid argument: malformed json: invalid utf-8");
  }
  // Invalid utf-8 in a field the codec skips is still refused: the whole input is checked up front.
  CHECK(decode_error<Text>("{\"other\":\"\xff\",\"s\":\"\"}") == "invalid argument: malformed json: invalid utf-8");
}

TEST_CASE("integer limits round-trip and one past a limit is an error naming the field") {
  Numbers lo{std::numeric_limits<std::int64_t>::min(), 0, std::numeric_limits<std::int32_t>::min(), 0,
             -std::numeric_limits<double>::max()};
  Numbers hi{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::uint64_t>::max(),
             std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::uint32_t>::max(),
             std::numeric_limits<double>::max()};
  CHECK(strata::to_json(lo) ==
        R"({"i64":-9223372036854775808,"u64":0,"i32":-2147483648,"u32":0,"d":-1.7976931348623157e+308})");
  CHECK(strata::to_json(hi) ==
        R"({"i64":9223372036854775807,"u64":18446744073709551615,"i32":2147483647,"u32":4294967295,)"
        R"("d":1.7976931348623157e+308})");
  CHECK(decoded<Numbers>(strata::to_json(lo)) == lo);
  CHECK(decoded<Numbers>(strata::to_json(hi)) == hi);

  auto one = [](std::string_view field, std::string_view value) {
    std::string text =
        R"({"i64":0,"u64":0,"i32":0,"u32":0,"d":0,")" + std::string(field) + "\":" + std::string(value) + "}";
    return decode_error<Numbers>(text);
  };
  CHECK(one("i64", "9223372036854775808") ==
        "invalid argument: field \"i64\": expected a signed 64-bit integer, got 9223372036854775808");
  CHECK(one("i64", "-9223372036854775809") ==
        "invalid argument: field \"i64\": expected a signed 64-bit integer, got -9223372036854775809");
  CHECK(one("u64", "18446744073709551616") ==
        "invalid argument: field \"u64\": expected an unsigned 64-bit integer, got 18446744073709551616");
  CHECK(one("u64", "-1") == "invalid argument: field \"u64\": expected an unsigned 64-bit integer, got -1");
  CHECK(one("i32", "2147483648") ==
        "invalid argument: field \"i32\": expected a signed 32-bit integer, got 2147483648");
  CHECK(one("i32", "-2147483649") ==
        "invalid argument: field \"i32\": expected a signed 32-bit integer, got -2147483649");
  CHECK(one("u32", "4294967296") ==
        "invalid argument: field \"u32\": expected an unsigned 32-bit integer, got 4294967296");
  CHECK(one("u32", "-1") == "invalid argument: field \"u32\": expected an unsigned 32-bit integer, got -1");
  CHECK(one("i64", "1.5") == "invalid argument: field \"i64\": expected a signed 64-bit integer, got 1.5");
  CHECK(one("i64", "1e3") == "invalid argument: field \"i64\": expected a signed 64-bit integer, got 1e3");
  CHECK(one("d", "1e400") ==
        "invalid argument: field \"d\": number out of range: 1e400 is beyond the range of a double; strata's numbers "
        "are integers that fit in 64 bits (int64 or uint64) and finite doubles");
}

TEST_CASE("doubles round-trip exactly and integers read as doubles") {
  for (double d : {0.0, -0.0, 0.1, 1.0 / 3, 2.0, -1e-300, 5e-324, 1e21, 123456789.125,
                   std::numeric_limits<double>::min(), std::numeric_limits<double>::epsilon()}) {
    CAPTURE(d);
    Numbers n;
    n.d = d;
    double back = decoded<Numbers>(strata::to_json(n)).d;
    CHECK(back == d);
    CHECK(std::signbit(back) == std::signbit(d));
  }
  CHECK(decoded<Numbers>(R"({"i64":0,"u64":0,"i32":0,"u32":0,"d":42})").d == 42.0);
  CHECK(decoded<Numbers>(R"({"i64":0,"u64":0,"i32":0,"u32":0,"d":-7E-2})").d == -0.07);
}

TEST_CASE("a missing required field is kInvalidArgument naming it") {
  CHECK(decode_error<Text>("{}") == "invalid argument: missing field \"s\"");
  CHECK(decode_error<Numbers>(R"({"i64":1,"u64":2,"u32":4,"d":5})") == "invalid argument: missing field \"i32\"");
  CHECK(decode_error<Person>(R"({"name":"x","age":1,"active":true,"home":{"street":"s"},"tags":[],"history":[],)"
                             R"("scores":{},"flags":[]})") ==
        "invalid argument: field \"home\": missing field \"zip\"");
}

TEST_CASE("a missing or null optional field decodes to nullopt, also over a value that had one") {
  Person p = sample_person();
  REQUIRE(p.work.has_value());
  REQUIRE(p.referrer.has_value());
  const std::string without = R"({"name":"n","age":1,"active":false,"home":{"street":"s","zip":1},"tags":[],)"
                              R"("history":[],"scores":{},"flags":[]})";
  REQUIRE(strata::decode_json(without, p).ok());
  CHECK(p.work == std::nullopt);
  CHECK(p.referrer == std::nullopt);

  p = sample_person();
  const std::string with_nulls = R"({"name":"n","age":1,"active":false,"home":{"street":"s","zip":1},"work":null,)"
                                 R"("referrer":null,"tags":[],"history":[],"scores":{},"flags":[]})";
  REQUIRE(strata::decode_json(with_nulls, p).ok());
  CHECK(p.work == std::nullopt);
  CHECK(p.referrer == std::nullopt);
}

TEST_CASE("unknown fields are skipped, whatever they hold") {
  CHECK(decoded<Text>(R"({"before":{"deep":[1,{"x":null}]},"s":"kept","after":[[[]]],"n":1.5e9,"t":true})").s ==
        "kept");
}

TEST_CASE("a field of the wrong type is kInvalidArgument naming the field, the expected and the actual type") {
  CHECK(decode_error<Text>(R"({"s":5})") == "invalid argument: field \"s\": expected a string, got a number");
  CHECK(decode_error<Numbers>(R"({"i64":"5"})") ==
        "invalid argument: field \"i64\": expected a signed 64-bit integer, got a string");
  CHECK(decode_error<Person>(R"({"active":"yes"})") ==
        "invalid argument: field \"active\": expected a boolean, got a string");
  CHECK(decode_error<Person>(R"({"home":[]})") == "invalid argument: field \"home\": expected an object, got an array");
  CHECK(decode_error<Person>(R"({"tags":{}})") == "invalid argument: field \"tags\": expected an array, got an object");
  CHECK(decode_error<Person>(R"({"tags":["a",2]})") ==
        "invalid argument: field \"tags\": element 1: expected a string, got a number");
  CHECK(decode_error<Person>(R"({"scores":{"a":1,"b":true}})") ==
        "invalid argument: field \"scores\": field \"b\": expected a signed 64-bit integer, got a boolean");
  CHECK(decode_error<Person>(R"({"history":[{"street":"a","zip":1},{"street":null}]})") ==
        "invalid argument: field \"history\": element 1: field \"street\": expected a string, got null");
  CHECK(decode_error<Person>(R"({"work":{"street":"w","zip":"x"}})") ==
        "invalid argument: field \"work\": field \"zip\": expected an unsigned 32-bit integer, got a string");
  CHECK(decode_error<Person>(R"({"flags":[true,1]})") ==
        "invalid argument: field \"flags\": element 1: expected a boolean, got a number");
  CHECK(decode_error<Text>(R"([])") == "invalid argument: expected an object, got an array");
}

TEST_CASE("an oversize payload is kInvalidArgument naming both sizes") {
  std::string big = R"({"s":")" + std::string(Limits{}.max_payload_bytes, 'x') + "\"}";
  CHECK(decode_error<Text>(big) ==
        "invalid argument: json document of 1048584 bytes exceeds the limit of 1048576 bytes");
  Limits small;
  small.max_payload_bytes = 10;
  CHECK(decode_error<Text>(R"({"s":"123"})", small) ==
        "invalid argument: json document of 11 bytes exceeds the limit of 10 bytes");
  Text t;
  CHECK(strata::decode_json(R"({"s":"12"})", t, small).ok());
}

TEST_CASE("a payload nested deeper than the limit is kInvalidArgument, never a crash") {
  auto tree = [](std::size_t depth) {
    std::string s;
    for (std::size_t i = 1; i < depth; ++i) s += R"({"name":"n","children":[)";
    s += R"({"name":"leaf","children":[]})";
    for (std::size_t i = 1; i < depth; ++i) s += "]}";
    return s;
  };
  // Each Tree level is an object inside an array: two levels of json nesting.
  Tree t;
  REQUIRE(strata::decode_json(tree(32), t).ok());
  CHECK(t.children.size() == 1);
  std::string path;
  for (int i = 0; i < 32; ++i) path += "field \"children\": element 0: ";
  CHECK(decode_error<Tree>(tree(33)) ==
        "invalid argument: " + path + "malformed json: nested deeper than the limit of 64");
  const std::size_t levels = Limits{}.max_payload_bytes / 30;
  std::string huge = tree(levels);
  REQUIRE(huge.size() <= Limits{}.max_payload_bytes);
  CHECK(decode_error<Tree>(huge).find("malformed json: nested deeper than the limit of 64") != std::string::npos);
  Limits shallow;
  shallow.max_json_depth = 2;
  CHECK(decode_error<Person>(R"({"home":{"street":"s","zip":1}})", shallow) ==
        "invalid argument: missing field \"name\"");
  CHECK(decode_error<Person>(R"({"history":[{"street":"s","zip":1}]})", shallow) ==
        "invalid argument: field \"history\": element 0: malformed json: nested deeper than the limit of 2");
}

TEST_CASE("malformed json is kInvalidArgument") {
  for (std::string_view bad : {"", "{", R"({"s")", R"({"s":)", R"({"s":"x")", R"({"s":"x)", R"({"s" "x"})", "nonsense",
                               "\x01\x02", R"({"s":"x",})", "[}", "42"}) {
    CAPTURE(bad);
    Text t;
    Status s = strata::decode_json(bad, t);
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("a malformed literal where an optional value is expected is kInvalidArgument, not an exception") {
  CHECK(decode_error<Person>(R"({"referrer":nul})") ==
        "invalid argument: field \"referrer\": malformed json: invalid literal nul");
  CHECK(decode_error<Person>(R"({"referrer":nullx})") ==
        "invalid argument: field \"referrer\": malformed json: invalid literal nullx");
  CHECK(decode_error<Person>(R"({"work":nul,"name":"x"})") ==
        "invalid argument: field \"work\": malformed json: invalid literal nul");
  CHECK(decode_error<Person>(R"({"active":tru})") ==
        "invalid argument: field \"active\": malformed json: invalid literal tru");
  CHECK(decode_error<Person>(R"({"active":null})") ==
        "invalid argument: field \"active\": expected a boolean, got null");
}

TEST_CASE("decoding into a reused value reuses its storage: vectors shrink, maps and optionals reset") {
  Person p = sample_person();
  p.tags.reserve(64);
  const std::string* first_tag = p.tags.data();
  const std::string text = R"({"name":"short","age":2,"active":false,"home":{"street":"h","zip":9},)"
                           R"("tags":["only"],"history":[{"street":"z","zip":3}],"scores":{"new":1},"flags":[false]})";
  REQUIRE(strata::decode_json(text, p).ok());
  CHECK(strata::to_json(p) ==
        R"({"name":"short","age":2,"active":false,"home":{"street":"h","zip":9},"work":null,"referrer":null,)"
        R"("tags":["only"],"history":[{"street":"z","zip":3}],"scores":{"new":1},"flags":[false]})");
  CHECK(p.tags.data() == first_tag);
  CHECK(p.tags.capacity() >= 64);

  REQUIRE(strata::decode_json(strata::to_json(sample_person()), p).ok());
  CHECK(p == sample_person());
}

TEST_CASE("to_event_data carries the persisted type, the id, the metadata and the payload") {
  auto id = strata::EventId::generate();
  strata::Metadata meta;
  meta.correlation_id = "req-1";
  strata::EventData e = strata::to_event_data(sample_person(), id, meta);
  CHECK(e.type == "test.person_registered.v2");
  CHECK(e.id == id);
  CHECK(e.metadata == meta);
  CHECK(e.payload == strata::to_json(sample_person()));
  CHECK(strata::validate_event(e, Limits{}).ok());
  CHECK_FALSE(strata::to_event_data(sample_person()).id.is_nil());
}

namespace {

struct Random {
  std::string text;
  std::string key;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  double d = 0;
  std::vector<std::string> list;
  std::map<std::string, std::string> dict;
  static constexpr auto kFields = strata::fields(
      strata::field("text", &Random::text), strata::field("i64", &Random::i64), strata::field("u64", &Random::u64),
      strata::field("i32", &Random::i32), strata::field("u32", &Random::u32), strata::field("d", &Random::d),
      strata::field("list", &Random::list), strata::field("dict", &Random::dict));
  bool operator==(const Random&) const = default;
};

void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// A random valid utf-8 string: every ascii byte (control characters, quotes and backslashes included)
// is likely, and code points of every encoded length appear.
std::string random_text(std::mt19937_64& rng) {
  std::string s;
  const auto length = rng() % 24;
  for (std::uint64_t i = 0; i < length; ++i) {
    std::uint32_t cp = 0;
    switch (rng() % 4) {
      case 0:
        cp = static_cast<std::uint32_t>(rng() % 0x80);
        break;
      case 1:
        cp = std::string_view("\"\\/\b\f\n\r\t\x01\x1f\x7f u")[rng() % 14];
        break;
      case 2:
        cp = static_cast<std::uint32_t>(0x80 + rng() % (0xd800 - 0x80));
        break;
      default:
        cp = static_cast<std::uint32_t>(0xe000 + rng() % (0x110000 - 0xe000));
        break;
    }
    append_utf8(s, cp);
  }
  return s;
}

double random_double(std::mt19937_64& rng) {
  for (;;) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) return d;
  }
}

}  // namespace

TEST_CASE("random values of every field type round-trip through json (fixed seed)") {
  std::mt19937_64 rng(20240601);
  Random reused;
  for (int round = 0; round < 2000; ++round) {
    Random r;
    r.text = random_text(rng);
    r.i64 = static_cast<std::int64_t>(rng());
    r.u64 = rng() >> (rng() % 64);
    r.i32 = static_cast<std::int32_t>(rng());
    r.u32 = static_cast<std::uint32_t>(rng());
    r.d = random_double(rng);
    for (auto n = rng() % 4; n > 0; --n) r.list.push_back(random_text(rng));
    for (auto n = rng() % 4; n > 0; --n) r.dict[random_text(rng)] = random_text(rng);
    const std::string text = strata::to_json(r);
    CAPTURE(text);
    REQUIRE(strata::json::validate_object(text, Limits{}).ok());
    Random back;
    REQUIRE(strata::decode_json(text, back).ok());
    CHECK(back == r);
    REQUIRE(strata::decode_json(text, reused).ok());
    CHECK(reused == r);
  }
}

TEST_CASE("check_fields refuses non-finite doubles, naming the field, through optionals, vectors, maps and structs") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::string model = ": strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles";
  auto check = [](const Quoted& q) { return strata::check_fields(q).to_string(); };
  Quoted q;
  q.bid = 1.5;
  q.history = {1, 2};
  q.by_venue = {{"xnys", 3}};
  q.legs = {Numbers{}};
  CHECK(check(q) == "ok");
  Quoted bad = q;
  bad.price = nan;
  CHECK(check(bad) == "invalid argument: field \"price\": non-finite number NaN" + model);
  bad = q;
  bad.bid = inf;
  CHECK(check(bad) == "invalid argument: field \"bid\": non-finite number Infinity" + model);
  bad = q;
  bad.history.push_back(-inf);
  CHECK(check(bad) == "invalid argument: field \"history\": element 2: non-finite number -Infinity" + model);
  bad = q;
  bad.by_venue["xlon"] = nan;
  CHECK(check(bad) == "invalid argument: field \"by_venue\": field \"xlon\": non-finite number NaN" + model);
  bad = q;
  bad.legs.push_back(Numbers{});
  bad.legs[1].d = inf;
  CHECK(check(bad) == "invalid argument: field \"legs\": element 1: field \"d\": non-finite number Infinity" + model);
  bad = q;
  bad.hedge = Numbers{};
  bad.hedge->d = nan;
  CHECK(check(bad) == "invalid argument: field \"hedge\": field \"d\": non-finite number NaN" + model);
}

TEST_CASE("a typed event with a non-finite double encodes to a payload that validation refuses, naming the field") {
  Quoted q;
  q.history = {1.0, std::numeric_limits<double>::quiet_NaN()};
  const strata::EventData e = strata::to_event_data(q);
  CHECK(e.payload == R"({"price":0.0,"bid":null,"history":[1.0,NaN],"by_venue":{},"legs":[],"hedge":null})");
  CHECK(strata::validate_event(e, Limits{}).to_string() ==
        "invalid argument: invalid event \"market.quoted.v1\": field \"history\": non-finite number NaN: strata's "
        "numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles");
  // It would not load either: there is nothing a reader could make of it.
  Quoted back;
  CHECK(strata::decode_json(e.payload, back).code() == StatusCode::kInvalidArgument);
}
