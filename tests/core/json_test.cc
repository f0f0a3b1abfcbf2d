#include "strata/core/json.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using strata::Limits;
using strata::Status;
using strata::StatusCode;
namespace json = strata::json;

namespace {

// The string `s` written as a JSON string.
std::string quoted(std::string_view s) {
  std::string out;
  json::Writer w(out);
  w.string(s);
  return out;
}

// The status of validate_object with default limits, rendered.
std::string validate(std::string_view text, const Limits& limits = {}) {
  return json::validate_object(text, limits).to_string();
}

// Reads field "v" of `text` as a string; "error: <status>" when that fails.
std::string read_string_field(std::string_view text) {
  std::string out;
  Status s = json::read(text, Limits{}, [&](json::Value& root) {
    return root.for_each_field(
        [&](std::string_view key, json::Value& v) -> Status { return key == "v" ? v.get(out) : Status(); });
  });
  return s.ok() ? out : "error: " + s.to_string();
}

// Renders any JSON document by walking it with Value: scalars by type, containers recursively.
Status render(json::Value& v, std::string& out) {
  STRATA_ASSIGN_OR_RETURN(json::Type type, v.type());
  switch (type) {
    case json::Type::kObject:
      out += '{';
      STRATA_RETURN_IF_ERROR(v.for_each_field([&](std::string_view key, json::Value& field) -> Status {
        out += std::string(key) + ':';
        STRATA_RETURN_IF_ERROR(render(field, out));
        out += ';';
        return {};
      }));
      out += '}';
      return {};
    case json::Type::kArray:
      out += '[';
      STRATA_RETURN_IF_ERROR(v.for_each_element([&](json::Value& element) -> Status {
        STRATA_RETURN_IF_ERROR(render(element, out));
        out += ';';
        return {};
      }));
      out += ']';
      return {};
    case json::Type::kNumber: {
      std::string_view raw;
      STRATA_RETURN_IF_ERROR(v.get_raw_json(raw));
      out += "n" + std::string(raw);
      return {};
    }
    case json::Type::kString: {
      std::string_view s;
      STRATA_RETURN_IF_ERROR(v.get_string_view(s));
      out += "s" + std::string(s);
      return {};
    }
    case json::Type::kBoolean: {
      bool b = false;
      STRATA_RETURN_IF_ERROR(v.get(b));
      out += b ? "true" : "false";
      return {};
    }
    case json::Type::kNull:
      out += v.is_null() ? "null" : "?";
      return {};
  }
  return Status::internal("unreachable");
}

std::string render(std::string_view text, const Limits& limits = {}) {
  std::string out;
  Status s = json::read(text, limits, [&](json::Value& root) { return render(root, out); });
  return s.ok() ? out : "error: " + s.to_string();
}

std::string nested_arrays(std::size_t depth) {
  return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

}  // namespace

TEST_CASE("the writer produces compact json with commas and keys in place") {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.key("n");
  w.int64(-5);
  w.key("u");
  w.uint64(18446744073709551615u);
  w.key("list");
  w.begin_array();
  w.boolean(true);
  w.null();
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.string("x");
  w.end_array();
  w.key("raw");
  w.raw(R"({"a":[1]})");
  w.key("d");
  w.float64(2);
  w.end_object();
  CHECK(out == R"({"n":-5,"u":18446744073709551615,"list":[true,null,{},[],"x"],"raw":{"a":[1]},"d":2.0})");
  CHECK(&w.output() == &out);
}

TEST_CASE("the writer escapes quotes, backslashes and control characters and passes utf-8 through") {
  CHECK(quoted("plain") == R"("plain")");
  CHECK(quoted("say \"hi\"") == R"("say \"hi\"")");
  CHECK(quoted("C:\\dir\\") == R"("C:\\dir\\")");
  CHECK(quoted("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(quoted(std::string("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");
  CHECK(quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(quoted("/") == R"("/")");
  CHECK(quoted("") == R"("")");
}

TEST_CASE(
    "the writer spells doubles so that they read back as doubles, and non-finite ones so that no parser reads them") {
  auto spell = [](double d) {
    std::string out;
    json::Writer(out).float64(d);
    return out;
  };
  CHECK(spell(2) == "2.0");
  CHECK(spell(-0.0) == "-0.0");
  CHECK(spell(0.1) == "0.1");
  CHECK(spell(1e300) == "1e+300");
  CHECK(spell(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(spell(std::numeric_limits<double>::infinity()) == "Infinity");
  CHECK(spell(-std::numeric_limits<double>::infinity()) == "-Infinity");
  // What the writer emits for them is never accepted as a payload: null would be, and then fail to load.
  for (double d : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    std::string out;
    json::Writer w(out);
    w.begin_object();
    w.key("price");
    w.float64(d);
    w.end_object();
    CHECK(validate(out) ==
          "invalid argument: field \"price\": non-finite number " + spell(d) +
              ": strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles");
  }
}

TEST_CASE("read walks objects, arrays and scalars in document order") {
  CHECK(render(R"({"a":1,"b":[true,false,null],"c":{"d":"x","e":-2.5e3},"f":[]})") ==
        "{a:n1;b:[true;false;null;];c:{d:sx;e:n-2.5e3;};f:[];}");
  CHECK(render(R"( [ 1 , "two" ] )") == "[n1;stwo;]");
  CHECK(render(" { \"k\" : 7 } ") == "{k:n7;}");
}

TEST_CASE("read unescapes \\u escapes, surrogate pairs and the short escapes") {
  CHECK(read_string_field(R"({"v":"caf\u00e9"})") == "caf\xc3\xa9");
  CHECK(read_string_field(R"({"v":"\u20AC"})") == "\xe2\x82\xac");
  CHECK(read_string_field(R"({"v":"\ud83d\ude00"})") == "\xf0\x9f\x98\x80");
  CHECK(read_string_field(R"({"v":"\"\\\/\b\f\n\r\t"})") == "\"\\/\b\f\n\r\t");
  CHECK(read_string_field(R"({"v":"\u0000"})") == std::string("\0", 1));
  CHECK(read_string_field("{\"v\":\"\xf0\x9f\x98\x80 raw\"}") == "\xf0\x9f\x98\x80 raw");
}

TEST_CASE("read refuses bad escapes, lone surrogates and invalid utf-8 with kInvalidArgument") {
  CHECK(read_string_field(R"({"v":"\x"})") == "error: invalid argument: malformed json: invalid string escape");
  CHECK(read_string_field(R"({"v":"\u12"})") == "error: invalid argument: malformed json: invalid string escape");
  CHECK(read_string_field(R"({"v":"\ud800"})") == "error: invalid argument: malformed json: invalid string escape");
  CHECK(read_string_field(R"({"v":"\udc00\ud800"})") ==
        "error: invalid argument: malformed json: invalid string escape");
  CHECK(read_string_field("{\"v\":\"\xff\"}") == "error: invalid argument: malformed json: invalid utf-8");
  CHECK(read_string_field("{\"v\":\"\xc3\"}") == "error: invalid argument: malformed json: invalid utf-8");
  CHECK(read_string_field("{\"v\":\"\xed\xa0\x80\"}") == "error: invalid argument: malformed json: invalid utf-8");
}

TEST_CASE("reading a value as the wrong type names the expected and the actual type") {
  auto read_first = [](std::string_view text, auto& out) {
    Status s = json::read(text, Limits{}, [&](json::Value& root) {
      return root.for_each_element([&](json::Value& e) { return e.get(out); });
    });
    return s.to_string();
  };
  std::int64_t i = 0;
  std::string str;
  bool b = false;
  double d = 0;
  CHECK(read_first(R"(["7"])", i) == "invalid argument: expected a signed 64-bit integer, got a string");
  CHECK(read_first(R"([1.5])", i) == "invalid argument: expected a signed 64-bit integer, got 1.5");
  CHECK(read_first(R"([01])", i) == "invalid argument: expected a signed 64-bit integer, got 01");
  CHECK(read_first(R"([7])", str) == "invalid argument: expected a string, got a number");
  CHECK(read_first(R"([null])", b) == "invalid argument: expected a boolean, got null");
  CHECK(read_first(R"([{}])", d) == "invalid argument: expected a number, got an object");
  std::string_view view;
  Status s = json::read(R"([[1]])", Limits{}, [&](json::Value& root) {
    return root.for_each_element([&](json::Value& e) { return e.get_string_view(view); });
  });
  CHECK(s.to_string() == "invalid argument: expected a string, got an array");
  s = json::read(R"({"a":1})", Limits{},
                 [&](json::Value& root) { return root.for_each_element([](json::Value&) { return Status(); }); });
  CHECK(s.to_string() == "invalid argument: expected an array, got an object");
  s = json::read(R"([1])", Limits{}, [&](json::Value& root) {
    return root.for_each_field([](std::string_view, json::Value&) { return Status(); });
  });
  CHECK(s.to_string() == "invalid argument: expected an object, got an array");
}

TEST_CASE("get_raw_json gives a value's text unparsed") {
  std::vector<std::string> raws;
  Status s =
      json::read(R"({"o":{"x":[1, 2]},"a":[ {} ],"n":-1.5e2 ,"s":"q\"","t":true})", Limits{}, [&](json::Value& root) {
        return root.for_each_field([&](std::string_view, json::Value& v) -> Status {
          std::string_view raw;
          STRATA_RETURN_IF_ERROR(v.get_raw_json(raw));
          raws.emplace_back(raw);
          return {};
        });
      });
  REQUIRE(s.ok());
  CHECK(raws == std::vector<std::string>{R"({"x":[1, 2]})", "[ {} ]", "-1.5e2", R"("q\"")", "true"});
}

TEST_CASE("the status a read callback returns is the status of read") {
  Status s = json::read("{}", Limits{}, [](json::Value&) { return Status::rejected("mine"); });
  CHECK(s == Status::rejected("mine"));
  s = json::read(R"({"a":1,"b":2,"c":3})", Limits{}, [](json::Value& root) {
    int seen = 0;
    return root.for_each_field([&](std::string_view key, json::Value&) -> Status {
      if (++seen == 2) return Status::not_found(std::string(key));
      return {};
    });
  });
  CHECK(s == Status::not_found("b"));
}

TEST_CASE("read refuses empty, truncated and garbage documents with kInvalidArgument") {
  CHECK(render("") == "error: invalid argument: malformed json: empty document");
  CHECK(render("   ").rfind("error: invalid argument: malformed json", 0) == 0);
  CHECK(render("{\"a\":").rfind("error: invalid argument: malformed json", 0) == 0);
  CHECK(render("{\"a\":1").rfind("error: invalid argument: malformed json", 0) == 0);
  CHECK(render("{\"a\":\"unterminated}") == "error: invalid argument: malformed json: unclosed string");
  CHECK(render("[1,2").rfind("error: invalid argument: malformed json", 0) == 0);
  CHECK(render("garbage").rfind("error: invalid argument", 0) == 0);
  CHECK(render("{\"a\" 1}").rfind("error: invalid argument", 0) == 0);
  CHECK(render("{\"a\":tru}").rfind("error: invalid argument", 0) == 0);
  CHECK(render("{'a':1}").rfind("error: invalid argument", 0) == 0);
  CHECK(render("42") == "error: invalid argument: expected a json object, got a scalar");
  CHECK(render("\"s\"") == "error: invalid argument: expected a json object, got a scalar");
}

TEST_CASE("read of an empty view without data refuses it as an empty document") {
  CHECK(render(std::string_view()) == "error: invalid argument: malformed json: empty document");
  CHECK(validate(std::string_view()) == "invalid argument: malformed json: empty document");
}

TEST_CASE("a number whose exponent has more than 18 digits reads as validate_object accepts it") {
  // simdjson's On Demand refuses these where its DOM parser, which validates appended payloads, accepts
  // them: found by fuzzing (tests/fuzz/corpus/event_payload/long_exponent).
  auto read_double = [](std::string_view text) -> std::string {
    double d = -1;
    Status s = json::read(text, Limits{}, [&](json::Value& root) {
      return root.for_each_field([&](std::string_view, json::Value& v) { return v.get(d); });
    });
    return s.ok() ? std::to_string(d) : "error: " + s.to_string();
  };
  CHECK(validate(R"({"v":1e-0000000000000000000000001})") == "ok");
  CHECK(validate(R"({"v":-95477.8e-80311111111111111111100})") == "ok");
  CHECK(validate(R"({"v":0e99999999999999999999})") == "ok");
  CHECK(read_double(R"({"v":1e-0000000000000000000000001})") == "0.100000");
  CHECK(read_double(R"({"v":25E+00000000000000000000000002})") == "2500.000000");
  CHECK(read_double(R"({"v":-95477.8e-80311111111111111111100})") == "-0.000000");
  CHECK(read_double(R"({"v":0e99999999999999999999})") == "0.000000");
  // Beyond the range of a double: refused on both paths, as strata's number model says.
  CHECK(read_double(R"({"v":1.5e+99999999999999999999})").find("number out of range: 1.5e+99999999999999999999") !=
        std::string::npos);
  CHECK(validate(R"({"v":1.5e+99999999999999999999})").rfind("invalid argument: ", 0) == 0);
}

TEST_CASE("read is lazy: it does not check content after the root value or in parts not read") {
  // Documented: validate_object is the strict check; read only answers for what the callback reads.
  CHECK(render("{} trailing") == "{}");
  Status s = json::read(R"({"a":1,"skipped":[1,2,{"x":"y"}],"b":2})", Limits{}, [](json::Value& root) {
    return root.for_each_field([](std::string_view, json::Value&) { return Status(); });
  });
  CHECK(s.ok());
}

TEST_CASE("read refuses a document larger than max_payload_bytes before parsing it") {
  Limits limits;
  limits.max_payload_bytes = 16;
  CHECK(render(R"({"a":"123456789"})", limits) ==
        "error: invalid argument: json document of 17 bytes exceeds the limit of 16 bytes");
  CHECK(render(R"({"a":"12345678"})", limits) == "{a:s12345678;}");
  CHECK(render(std::string(Limits{}.max_payload_bytes + 1, ' ')) ==
        "error: invalid argument: json document of 1048577 bytes exceeds the limit of 1048576 bytes");
}

TEST_CASE("read refuses nesting deeper than max_json_depth in the parts it reads") {
  Limits limits;
  limits.max_json_depth = 4;
  CHECK(render(nested_arrays(4), limits) == "{a:[[[];];];}");
  CHECK(render(nested_arrays(5), limits) ==
        "error: invalid argument: malformed json: nested deeper than the limit of 4");
  CHECK(render(nested_arrays(64)).rfind("{a:[[[", 0) == 0);
  CHECK(render(nested_arrays(65)) == "error: invalid argument: malformed json: nested deeper than the limit of 64");
}

TEST_CASE("read of a deeply nested megabyte is a clear error, never a crash") {
  const std::size_t n = Limits{}.max_payload_bytes / 2 - 8;
  std::string deep = "{\"a\":" + std::string(n, '[') + std::string(n, ']') + "}";
  CHECK(render(deep) == "error: invalid argument: malformed json: nested deeper than the limit of 64");
  std::string unclosed = "{\"a\":" + std::string(n, '[');
  CHECK(render(unclosed).rfind("error: invalid argument", 0) == 0);
}

TEST_CASE("a read may start another read from inside its callback") {
  std::string inner;
  Status s = json::read(R"({"outer":"x","after":"y"})", Limits{}, [&](json::Value& root) {
    return root.for_each_field([&](std::string_view key, json::Value& v) -> Status {
      if (key == "outer") {
        STRATA_RETURN_IF_ERROR(
            json::read(R"({"inner":"z"})", Limits{}, [&](json::Value& r) { return render(r, inner); }));
      }
      std::string value;
      STRATA_RETURN_IF_ERROR(v.get(value));
      inner += "|" + std::string(key) + "=" + value;
      return {};
    });
  });
  CHECK(s.ok());
  CHECK(inner == "{inner:sz;}|outer=x|after=y");
}

TEST_CASE("validate_object accepts one well-formed object") {
  CHECK(validate("{}") == "ok");
  CHECK(validate(R"( {"a":[1,2.5,-3e2,true,false,null,"s",{"b":{}}]} )") == "ok");
  CHECK(validate(R"({"e":"\u00e9\ud83d\ude00\n"})") == "ok");
  CHECK(validate("{\"e\":\"caf\xc3\xa9\"}") == "ok");
}

TEST_CASE("validate_object refuses anything but one well-formed object") {
  CHECK(validate("[1,2]") == "invalid argument: payload must be a json object");
  CHECK(validate("42") == "invalid argument: payload must be a json object");
  CHECK(validate("\"s\"") == "invalid argument: payload must be a json object");
  CHECK(validate("null") == "invalid argument: payload must be a json object");
  CHECK(validate("") == "invalid argument: malformed json: empty document");
  CHECK(validate("{} {}").rfind("invalid argument: malformed json", 0) == 0);
  CHECK(validate("{} x").rfind("invalid argument: malformed json", 0) == 0);
  CHECK(validate("{\"a\":").rfind("invalid argument: malformed json", 0) == 0);
  CHECK(validate("{\"a\":1,}").rfind("invalid argument: malformed json", 0) == 0);
  CHECK(validate("{\"a\":\"\xff\"}") == "invalid argument: malformed json: invalid utf-8");
  CHECK(validate(R"({"a":"\ud800"})") == "invalid argument: malformed json: invalid string escape");
  CHECK(validate("{\"a\":\"raw\ttab\"}").rfind("invalid argument: malformed json", 0) == 0);
  CHECK(validate("{\"a\":01}") == "invalid argument: malformed json: invalid number");
  CHECK(validate("{\"a\":1.}") == "invalid argument: malformed json: invalid number");
  CHECK(validate("{\"a\":-}") == "invalid argument: malformed json: invalid number");
  CHECK(validate("{\"a\":+1}").rfind("invalid argument: malformed json", 0) == 0);
}

TEST_CASE("validate_object refuses non-finite numbers in any spelling, naming the field") {
  const std::string model = ": strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles";
  CHECK(validate(R"({"a":NaN})") == "invalid argument: field \"a\": non-finite number NaN" + model);
  CHECK(validate(R"({"a":1,"b":{"c":[1.5, -Infinity]}})") ==
        "invalid argument: field \"c\": non-finite number -Infinity" + model);
  CHECK(validate(R"({"s":"NaN, Infinity", "k\"NaN":2, "x" : inf})") ==
        "invalid argument: field \"x\": non-finite number inf" + model);
  CHECK(validate(R"({"a":nan})") == "invalid argument: field \"a\": non-finite number nan" + model);
  CHECK(validate(R"({"a":-inf})") == "invalid argument: field \"a\": non-finite number -inf" + model);
  CHECK(validate(R"({"a":Infinity})") == "invalid argument: field \"a\": non-finite number Infinity" + model);
}

TEST_CASE("numbers beyond strata's number model are refused as out of range, not as malformed") {
  const std::string model = "; strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles";
  CHECK(validate(R"({"n":123456789012345678901})") ==
        "invalid argument: field \"n\": number out of range: 123456789012345678901 is an integer beyond 64 bits" +
            model);
  CHECK(validate(R"({"n":18446744073709551616})") ==
        "invalid argument: field \"n\": number out of range: 18446744073709551616 is an integer beyond 64 bits" +
            model);
  CHECK(validate(R"({"n":-9223372036854775809})") ==
        "invalid argument: field \"n\": number out of range: -9223372036854775809 is an integer beyond 64 bits" +
            model);
  CHECK(validate(R"({"a":[{"d":1e400}]})") ==
        "invalid argument: field \"d\": number out of range: 1e400 is beyond the range of a double" + model);
  CHECK(json::validate_object(R"({"n":123456789012345678901})", Limits{}).code() == StatusCode::kInvalidArgument);
  // The edges of the model are accepted.
  CHECK(validate(R"({"u":18446744073709551615,"i":-9223372036854775808,"d":1.7976931348623157e308})") == "ok");
  CHECK(validate(R"({"tiny":1e-400})") == "ok");
  CHECK(validate(R"({"tiny":0.0000000000000000001e-300})") == "ok");
  CHECK(validate("{\"d\":" + std::string(400, '9') + ".5}") ==
        "invalid argument: field \"d\": number out of range: " + std::string(40, '9') +
            "... is beyond the range of a double" + model);
  CHECK(validate(R"({"d":0.001e312})") ==
        "invalid argument: field \"d\": number out of range: 0.001e312 is beyond the range of a double" + model);
}

TEST_CASE("validate_object enforces max_payload_bytes and max_json_depth, the root object being depth 1") {
  Limits limits;
  limits.max_payload_bytes = 8;
  CHECK(validate(R"({"a":12})", limits) == "ok");
  CHECK(validate(R"({"a":123})", limits) == "invalid argument: payload of 9 bytes exceeds the limit of 8 bytes");
  CHECK(validate(nested_arrays(64)) == "ok");
  CHECK(validate(nested_arrays(65)) == "invalid argument: malformed json: nested deeper than the limit of 64");
  limits = Limits{};
  limits.max_json_depth = 3;
  CHECK(validate(nested_arrays(3), limits) == "ok");
  CHECK(validate(nested_arrays(4), limits) == "invalid argument: malformed json: nested deeper than the limit of 3");
  // The limit changes between calls on the same thread: the parser follows it both ways.
  CHECK(validate(nested_arrays(4)) == "ok");
  const std::size_t n = Limits{}.max_payload_bytes / 2 - 8;
  CHECK(validate("{\"a\":" + std::string(n, '[') + std::string(n, ']') + "}") ==
        "invalid argument: malformed json: nested deeper than the limit of 64");
}
