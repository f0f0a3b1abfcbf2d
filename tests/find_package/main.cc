// Appends and reads back one event through an installed strata.
#include <strata/core/core.h>

#include <cstdio>

struct Pinged {
  static constexpr std::string_view kType = "consumer.pinged.v1";
  std::int64_t n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Pinged::n));
};

int main() {
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
  std::puts("consumer: ok");
  return 0;
}
