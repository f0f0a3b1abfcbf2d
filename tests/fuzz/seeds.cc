// Writes the seed corpora of the fuzz targets into <corpus dir>/<target>/: a handful of small valid
// inputs each, the binary ones made by strata's own encoders so that they follow the persisted grammars
// exactly. Run it again when a grammar gains a case, and commit what it writes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "format.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/core/personal_data.h"
#include "strata/projections/backend/projection_records.h"

namespace {

namespace format = strata::detail::format;
std::filesystem::path root;

void seed(std::string_view target, std::string_view name, std::string_view bytes) {
  const std::filesystem::path dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

strata::EventId id(int n) { return strata::EventId::derive("strata.fuzz.seed", static_cast<std::uint64_t>(n)); }

strata::Timestamp at(std::int64_t us) { return strata::Timestamp(std::chrono::microseconds(us)); }

strata::Metadata sample_metadata() {
  strata::Metadata m;
  m.correlation_id = "req-7";
  m.causation_id = id(1).to_string();
  m.headers = {{"tenant", "acme"}, {"source", "web"}};
  return m;
}

std::string metadata_bytes(const strata::Metadata& m) {
  std::string out;
  strata::encode_metadata(m, out);
  return out;
}

std::string log_value(std::string_view stream, strata::Version version, int n, std::string_view type,
                      const strata::Metadata& m, std::string_view payload) {
  std::string out;
  format::encode_log_head(stream, version, out);
  format::encode_body_head(id(n), at(1'700'000'000'000'000 + n), type, metadata_bytes(m), out);
  out += payload;
  return out;
}

strata::ParkedEvent parked(int n, strata::Status error, const strata::Metadata& m) {
  strata::ParkedEvent p;
  p.generation = 1;
  p.event.stream_id = "account-42";
  p.event.version = 3;
  p.event.position = 1234;
  p.event.id = id(n);
  p.event.type = "bank.deposited.v1";
  p.event.timestamp = at(1'700'000'000'000'000);
  p.event.metadata = m;
  p.event.payload = R"({"account":"account-42","cents":500})";
  p.error = std::move(error);
  p.attempts = 3;
  p.parked_at = at(1'700'000'000'100'000);
  return p;
}

void core_seeds() {
  seed("event_json", "full.json",
       R"({"id":"order-1","cents":-500,"priority":3,"sequence":18446744073709551615,"ratio":0.25,"paid":true,)"
       R"("version":7,"position":1234,"note":"gift \"wrap\"\n\u00e9","lines":[{"sku":"a-1","qty":2,"price":9.5},)"
       R"({"sku":"b","qty":0,"price":1e-3}],"flags":[true,false],"tags":{"vip":1,"region":-2},)"
       R"("gift":{"sku":"card","qty":1,"price":0.0},"groups":[["x","y"],[]]})");
  seed("event_json", "minimal.json",
       R"({"id":"","cents":0,"priority":0,"sequence":0,"ratio":0,"paid":false,"version":0,"position":0,)"
       R"("lines":[],"flags":[],"tags":{},"groups":[]})");
  seed("event_json", "nulls_unknown.json",
       R"({"extra":{"deep":[1,2,{"x":null}]},"id":"o","cents":1,"priority":-2147483648,"sequence":1,)"
       R"("ratio":-1.5e300,"paid":true,"version":1,"position":2,"note":null,"lines":[],"flags":[true],)"
       R"("tags":{"":0},"gift":null,"groups":[[""]]})");

  seed("event_payload", "deposited", "bank.deposited.v1\n{\"account\":\"account-42\",\"cents\":500}");
  seed("event_payload", "values",
       "shop.ordered.v2\n{\"s\":\"caf\\u00e9 \\\"q\\\"\",\"i\":-9223372036854775808,\"u\":18446744073709551615,"
       "\"d\":-0.0,\"e\":1.5e-300,\"b\":[true,false,null],\"o\":{}}");
  seed("event_payload", "depth8", "deep.v1\n{\"a\":{\"b\":[[[[[[1]]]]]]}}");
  seed("event_payload", "no_type", "{\"x\":[1,2.5,\"three\"]}");

  seed("stream_id", "account", "account-42");
  seed("stream_id", "no_category", "singleton");
  seed("stream_id", "all_classes", "Order.2024:eu_west-7-b");
  seed("stream_id", "longest", std::string(127, 'a') + "z");

  seed("event_id", "lower", "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
  seed("event_id", "upper", "1B4E28BA-2FA1-41D2-883F-0016D3CCA427");
  seed("event_id", "raw", id(2).as_bytes());

  seed("metadata", "ids_and_headers", metadata_bytes(sample_metadata()));
  strata::Metadata only_correlation;
  only_correlation.correlation_id = "req-1";
  seed("metadata", "correlation_only", metadata_bytes(only_correlation));
  strata::Metadata only_headers;
  only_headers.headers = {{"k", std::string(200, 'v')}};
  seed("metadata", "long_header", metadata_bytes(only_headers));

  strata::SnapshotRecord snapshot{42, 0x1234567890abcdefull, 1, R"({"balance":1500,"owner":"ada"})"};
  seed("snapshot", "account", strata::encode_snapshot(snapshot));
  seed("snapshot", "empty_payload", strata::encode_snapshot(strata::SnapshotRecord{1, 7, 2, ""}));
}

void eventstore_seeds() {
  seed("eventstore_log", "with_metadata",
       log_value("account-42", 3, 1, "bank.deposited.v1", sample_metadata(), R"({"cents":500})"));
  seed("eventstore_log", "no_metadata", log_value("a", 1, 2, "t.v1", {}, "{}"));
  {
    std::string tombstone;
    format::encode_log_tombstone("account-7", 3, id(4), tombstone);
    seed("eventstore_log", "tombstone", tombstone);
  }
  seed("eventstore_log", "long_stream",
       log_value(std::string(128, 's'), 1'000'000, 3, "x.y.v12", {}, R"({"big":[1,2,3]})"));

  std::string v(1, '\0');
  format::encode_stream_record({7, 0}, v);
  seed("eventstore_records", "streams_value", v);
  v.assign(1, '\0');
  format::encode_stream_record({7, format::kHasLife, 1, 5, 6, 1}, v);
  seed("eventstore_records", "streams_value_deleted", v);
  v.assign(1, '\1');
  format::encode_copy_head(1234, v);
  format::encode_body_head(id(4), at(1'700'000'000'000'000), "bank.deposited.v1", metadata_bytes(sample_metadata()), v);
  v += R"({"cents":500})";
  seed("eventstore_records", "events_copy", v);
  v.assign(1, '\1');
  format::encode_run(5000, 64, v);
  seed("eventstore_records", "events_run", v);
  v.assign(1, '\2');
  format::encode_event_id_value(300, v);
  seed("eventstore_records", "event_ids_value", v);
  v.assign(1, '\3');
  format::PositionKey pk = format::position_key(77);
  v.append(pk.data(), pk.size());
  seed("eventstore_records", "log_key", v);
  v.assign(1, '\4');
  format::StreamVersionKey ek = format::events_key(7, 3);
  v.append(ek.data(), ek.size());
  seed("eventstore_records", "events_key", v);
  v.assign(1, '\5');
  v += static_cast<char>(10);
  v += format::snapshot_key("account-42", 12, 0xfeedull, 1);
  seed("eventstore_records", "snapshots_key", v);
}

void projection_seeds() {
  std::string v(1, '\0');
  v += strata::encode_projection_state(strata::ProjectionState{});
  seed("projection_records", "state_new", v);
  v.assign(1, '\0');
  v += strata::encode_projection_state(strata::ProjectionState{2, 900, 3, 450});
  seed("projection_records", "state_rebuilding", v);
  v.assign(1, '\1');
  v += strata::encode_row_key(1, "accounts", "account-42");
  seed("projection_records", "row_key", v);
  v.assign(1, '\1');
  v += strata::encode_row_key(0xffffffffffffffffull, std::string(255, 'm'), "");
  seed("projection_records", "row_key_edges", v);

  for (std::string_view target : {"projection_parked", "inbox_parked"}) {
    seed(target, "rejected",
         strata::encode_parked_event(parked(5, strata::Status::rejected("insufficient funds"), {})));
    seed(target, "with_metadata",
         strata::encode_parked_event(parked(6, strata::Status::internal("handler threw"), sample_metadata())));
  }
  strata::Metadata message;
  message.correlation_id = "req-9";
  message.headers = {{"Strata-Message-Id", "msg-1"}, {"Strata-Correlation-Id", "req-9"}, {"Strata-Type", "x.v1"}};
  seed("inbox_parked", "message",
       strata::encode_parked_event(parked(7, strata::Status::unavailable("broker down"), message)));
}

void saga_seeds() {
  seed("saga_fold", "happy_path",
       "strata.saga.trigger_handled.v1 {\"type\":\"deal.signed.v1\",\"id\":\"e-1\"}\n"
       "strata.saga.command_issued.v1 {\"step\":\"reserve\",\"key\":\"s/reserve\",\"type\":\"hold.v1\","
       "\"payload\":\"{}\",\"compensation\":false,\"attempt\":1}\n"
       "strata.saga.deadline_scheduled.v1 {\"id\":\"s/deadline/pay/1\",\"name\":\"pay\",\"due_us\":1700000000000000}\n"
       "strata.saga.command_answered.v1 {\"step\":\"reserve\",\"compensation\":false,\"succeeded\":true,"
       "\"reason\":\"\"}\n"
       "strata.saga.step_completed.v1 {\"step\":\"reserve\",\"compensation_kind\":\"command\","
       "\"compensation_type\":\"release.v1\",\"compensation_payload\":\"{}\"}\n"
       "strata.saga.message_sent.v1 {\"step\":\"notify\",\"key\":\"s/notify\",\"type\":\"n.v1\",\"payload\":\"{}\","
       "\"compensation\":false}\n"
       "strata.saga.deadline_cancelled.v1 {\"id\":\"s/deadline/pay/1\"}\n"
       "strata.saga.completed.v1 {}\n");
  seed("saga_fold", "compensation",
       "strata.saga.step_completed.v1 {\"step\":\"a\",\"compensation_kind\":\"message\",\"compensation_type\":\"u.v1\","
       "\"compensation_payload\":\"{}\"}\n"
       "strata.saga.deadline_scheduled.v1 {\"id\":\"d1\",\"name\":\"t\",\"due_us\":-5}\n"
       "strata.saga.deadline_fired.v1 {\"id\":\"d1\"}\n"
       "strata.saga.compensation_started.v1 {\"reason\":\"payment failed\"}\n"
       "strata.saga.command_issued.v1 {\"step\":\"a\",\"key\":\"s/a/compensate\",\"type\":\"undo.v1\","
       "\"payload\":\"{}\",\"compensation\":true,\"attempt\":2}\n"
       "strata.saga.needs_attention.v1 {\"step\":\"a\",\"reason\":\"still failing\"}\n"
       "strata.saga.command_issued.v1 {\"step\":\"a\",\"key\":\"s/a/compensate\",\"type\":\"undo.v1\","
       "\"payload\":\"{}\",\"compensation\":true,\"attempt\":3}\n"
       "strata.saga.step_compensated.v1 {\"step\":\"a\",\"skipped\":false}\n"
       "strata.saga.compensated.v1 {}\n");
  seed("saga_fold", "unknown_and_bad",
       "strata.saga.from_the_future.v9 {}\nstrata.saga.command_answered.v1 {\"step\":1}\n");
}

}  // namespace

// Payloads holding personal-field tokens: one of a subject with a key, one of a forgotten subject (the
// fuzzer's key store knows both), and a damaged one.
void personal_seeds() {
  // The keys of the fuzzer's key store (personal_token_fuzzer.cc).
  strata::MemorySubjectKeyStore keys;
  (void)keys.create_key("s", std::string(32, '\x5a'));
  (void)keys.create_key("f", std::string(32, '\x33'));
  strata::PersonalData personal(keys);
  std::string a = R"({"customer":"s","email":)", b = R"({"customer":"f","email":)";
  (void)personal.seal("s", R"("ann@example.com")", a);
  (void)personal.seal("f", "41", b);
  a += "}";
  b += "}";
  seed("personal_token", "sealed", a);
  seed("personal_token", "forgotten", b);
  std::string damaged = a;
  damaged[damaged.size() - 5] ^= 1;
  seed("personal_token", "damaged", damaged);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  core_seeds();
  eventstore_seeds();
  projection_seeds();
  saga_seeds();
  personal_seeds();
  return 0;
}
