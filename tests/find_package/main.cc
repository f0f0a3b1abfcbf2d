// Appends and reads back one event through an installed strata.
#include <strata/core/core.h>
#include <strata/eventstore/eventstore.h>
#include <strata/messaging/jetstream_transport.h>
#include <strata/messaging/messaging.h>
#include <strata/projections/projections.h>

#include <cstdio>
#include <filesystem>

struct Pinged {
  static constexpr std::string_view kType = "consumer.pinged.v1";
  std::int64_t n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Pinged::n));
};

int main(int argc, char** argv) {
  // The durable store: open, append, close, reopen, read back.
  const std::filesystem::path dir = std::filesystem::path(argc > 1 ? argv[1] : ".") / "consumer-store";
  std::filesystem::remove_all(dir);
  {
    auto rocks = strata::RocksEventStore::open({}, dir.string());
    std::vector<strata::EventData> one{strata::to_event_data(Pinged{7})};
    if (!rocks.ok() ||
        !(*rocks)->append(strata::StreamId::parse("ping-2").value(), strata::ExpectedVersion::no_stream(), one).ok()) {
      std::puts("consumer: rocks append failed");
      return 1;
    }
  }
  {
    auto rocks = strata::RocksEventStore::open({}, dir.string());
    if (!rocks.ok() || (*rocks)->head_position() != 1) {
      std::puts("consumer: rocks reopen failed");
      return 1;
    }
  }
  std::filesystem::remove_all(dir);

  strata::MemoryEventStore store;
  auto id = strata::StreamId::parse("ping-1").value();
  std::vector<strata::EventData> events{strata::to_event_data(Pinged{42})};
  auto r = store.append(id, strata::ExpectedVersion::no_stream(), events);
  auto read = store.read_stream(id, strata::ReadDirection::kForward, 1, 10);
  Pinged back;
  if (!r.ok() || !read.ok() || !strata::decode_json(read->events.at(0).payload, back).ok() || back.n != 42) {
    std::puts("consumer: failed");
    return 1;
  }
  // Every library links: projection storage, messaging and the JetStream transport (refusing options
  // without servers, so no broker is needed here).
  strata::MemoryProjectionStorage storage;
  strata::InProcessTransport transport;
  if (!storage.list_projections().ok() || !transport.health().available ||
      strata::JetStreamTransport::connect({}).status().code() != strata::StatusCode::kInvalidArgument) {
    std::puts("consumer: messaging failed");
    return 1;
  }
  std::puts("consumer: ok");
  return 0;
}
