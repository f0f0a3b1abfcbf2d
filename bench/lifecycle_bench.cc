// Personal data and multi-stream appends on RocksEventStore, each against a baseline in the same run:
//
//   append_personal_vs_plain   typed one-event appends (encode + append, sync off) of an event with two
//                              personal fields ÷ the same event with the two fields plain
//   replay_personal_vs_plain   an aggregate loaded from a 50,000-event stream of those events ÷ plain
//   multi_append_vs_single     events/s of appends of one event to each of two streams (append_multi)
//                              ÷ appends of one event to one stream
//
// Two stores side by side (one for each side of a ratio), rounds interleaved with the order alternating,
// the summary the median of the per-round ratios.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_summary.h"
#include "strata/core/aggregate.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

struct PlainRegistered {
  static constexpr std::string_view kType = "bench.registered.v1";
  std::string customer, email, phone, plan;
  std::int64_t credit = 0;
  static constexpr auto kFields =
      fields(field("customer", &PlainRegistered::customer), field("email", &PlainRegistered::email),
             field("phone", &PlainRegistered::phone), field("plan", &PlainRegistered::plan),
             field("credit", &PlainRegistered::credit));
};

struct PersonalRegistered {
  static constexpr std::string_view kType = "bench.registered.v1";
  std::string customer, email, phone, plan;
  std::int64_t credit = 0;
  static constexpr auto kFields =
      fields(field("customer", &PersonalRegistered::customer),
             field("email", &PersonalRegistered::email).personal(&PersonalRegistered::customer),
             field("phone", &PersonalRegistered::phone).personal(&PersonalRegistered::customer),
             field("plan", &PersonalRegistered::plan), field("credit", &PersonalRegistered::credit));
};

template <class E>
class Customer : public Aggregate<Customer<E>, Events<E>> {
 public:
  std::int64_t credit() const { return credit_; }

 private:
  friend Aggregate<Customer<E>, Events<E>>;
  void apply(const E& e) {
    credit_ += e.credit;
    email_ = e.email;
  }
  std::int64_t credit_ = 0;
  std::string email_;
};

template <class E>
E make_event(int i) {
  E e;
  e.customer = "c-" + std::to_string(i % 1000);
  e.email = "customer" + std::to_string(i) + "@example.com";
  e.phone = "+44 20 7946 " + std::to_string(1000 + i % 9000);
  e.plan = "gold";
  e.credit = i % 100;
  return e;
}

template <class E>
double append_round(RocksEventStore& store, int round, int n) {
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int k = round * n + i;
    const auto id = StreamId::parse("customer-" + std::to_string(k % 1000)).value();
    EventData data;
    if constexpr (has_personal_fields<E>()) {
      data = to_event_data(make_event<E>(k), EventId::generate(), {}, store.personal_data()).value();
    } else {
      data = to_event_data(make_event<E>(k));
    }
    if (!store.append(id, ExpectedVersion::any(), data).ok()) std::abort();
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class E>
void fill_stream(RocksEventStore& store, const StreamId& id, int n) {
  std::vector<EventData> batch;
  for (int i = 0; i < n; ++i) {
    E e = make_event<E>(i);
    e.customer = "c-replayed";
    if constexpr (has_personal_fields<E>()) {
      batch.push_back(to_event_data(e, EventId::generate(), {}, store.personal_data()).value());
    } else {
      batch.push_back(to_event_data(e));
    }
    if (batch.size() == 100) {
      if (!store.append(id, ExpectedVersion::any(), batch).ok()) std::abort();
      batch.clear();
    }
  }
}

template <class E>
double replay_round(RocksEventStore& store, const StreamId& id, std::int64_t expected) {
  RepositoryOptions options;
  options.snapshots = SnapshotPolicy::never();
  Repository<Customer<E>> repo(store, options);
  const auto start = Clock::now();
  auto c = repo.load(id);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  if (!c.ok() || c->credit() != expected) std::abort();
  return took;
}

double append_single_round(RocksEventStore& store, int round, int n) {
  const std::string payload = R"({"amount":1250,"currency":"EUR","note":"a transfer between two accounts"})";
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int k = round * n + i;
    const auto id = StreamId::parse("acct-" + std::to_string(k % 1000)).value();
    if (!store.append(id, ExpectedVersion::any(), EventData{EventId::generate(), "bench.moved.v1", payload, {}}).ok())
      std::abort();
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

double append_multi_round(RocksEventStore& store, int round, int n) {
  const std::string payload = R"({"amount":1250,"currency":"EUR","note":"a transfer between two accounts"})";
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int k = round * n + i;
    const auto from = StreamId::parse("acct-" + std::to_string(k % 1000)).value();
    const auto to = StreamId::parse("acct-" + std::to_string((k + 1) % 1000)).value();
    const EventData out[] = {EventData{EventId::generate(), "bench.moved.v1", payload, {}}};
    const EventData in[] = {EventData{EventId::generate(), "bench.moved.v1", payload, {}}};
    const StreamAppend parts[] = {{from, ExpectedVersion::any(), out}, {to, ExpectedVersion::any(), in}};
    if (!store.append_multi(parts).ok()) std::abort();
  }
  return 2 * n / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main() {
  bench::TempDir dir("strata-bench-lifecycle");
  RocksEventStore::Options options;
  options.sync = false;
  auto plain = RocksEventStore::open(options, dir.path() + "/plain").value();
  auto personal = RocksEventStore::open(options, dir.path() + "/personal").value();

  // Appends: 2,000 one-event appends per round and store.
  constexpr int kAppendRounds = 21, kAppends = 2'000;
  append_round<PlainRegistered>(*plain, 0, kAppends);  // warm-up (and the subjects' keys)
  append_round<PersonalRegistered>(*personal, 0, kAppends);
  std::vector<double> append_ratio, plain_rate, personal_rate;
  for (int round = 1; round <= kAppendRounds; ++round) {
    double tp = 0, tq = 0;
    if (round % 2 == 0) {
      tp = append_round<PlainRegistered>(*plain, round, kAppends);
      tq = append_round<PersonalRegistered>(*personal, round, kAppends);
    } else {
      tq = append_round<PersonalRegistered>(*personal, round, kAppends);
      tp = append_round<PlainRegistered>(*plain, round, kAppends);
    }
    append_ratio.push_back(tp / tq);
    plain_rate.push_back(kAppends / tp);
    personal_rate.push_back(kAppends / tq);
  }

  // Replay: one 50,000-event stream per store.
  constexpr int kReplayed = 50'000, kReplayRounds = 15;
  const auto replayed = StreamId::parse("customer-replayed").value();
  fill_stream<PlainRegistered>(*plain, replayed, kReplayed);
  fill_stream<PersonalRegistered>(*personal, replayed, kReplayed);
  std::int64_t expected = 0;
  for (int i = 0; i < kReplayed; ++i) expected += i % 100;
  replay_round<PlainRegistered>(*plain, replayed, expected);
  replay_round<PersonalRegistered>(*personal, replayed, expected);
  std::vector<double> replay_ratio, plain_replay, personal_replay;
  for (int round = 1; round <= kReplayRounds; ++round) {
    double tp = 0, tq = 0;
    if (round % 2 == 0) {
      tp = replay_round<PlainRegistered>(*plain, replayed, expected);
      tq = replay_round<PersonalRegistered>(*personal, replayed, expected);
    } else {
      tq = replay_round<PersonalRegistered>(*personal, replayed, expected);
      tp = replay_round<PlainRegistered>(*plain, replayed, expected);
    }
    replay_ratio.push_back(tp / tq);
    plain_replay.push_back(kReplayed / tp);
    personal_replay.push_back(kReplayed / tq);
  }

  // Multi-stream appends: events/s, two streams per append against one.
  constexpr int kMultiRounds = 21, kMultiAppends = 2'000;
  auto single_store = RocksEventStore::open(options, dir.path() + "/single").value();
  auto multi_store = RocksEventStore::open(options, dir.path() + "/multi").value();
  append_single_round(*single_store, 0, kMultiAppends);
  append_multi_round(*multi_store, 0, kMultiAppends);
  std::vector<double> multi_ratio, single_rate, multi_rate;
  for (int round = 1; round <= kMultiRounds; ++round) {
    double s = 0, m = 0;
    if (round % 2 == 0) {
      s = append_single_round(*single_store, round, kMultiAppends);
      m = append_multi_round(*multi_store, round, kMultiAppends);
    } else {
      m = append_multi_round(*multi_store, round, kMultiAppends);
      s = append_single_round(*single_store, round, kMultiAppends);
    }
    multi_ratio.push_back(m / s);
    single_rate.push_back(s);
    multi_rate.push_back(m);
  }

  using bench::median;
  using bench::print_summary;
  print_summary("append_personal_vs_plain", median(append_ratio), "ratio");
  print_summary("append_plain_events_per_s", median(plain_rate), "events/s");
  print_summary("append_personal_events_per_s", median(personal_rate), "events/s");
  print_summary("replay_personal_vs_plain", median(replay_ratio), "ratio");
  print_summary("replay_plain_events_per_s", median(plain_replay), "events/s");
  print_summary("replay_personal_events_per_s", median(personal_replay), "events/s");
  print_summary("multi_append_vs_single", median(multi_ratio), "ratio");
  print_summary("multi_append_events_per_s", median(multi_rate), "events/s");
  print_summary("single_append_events_per_s", median(single_rate), "events/s");
  return 0;
}
