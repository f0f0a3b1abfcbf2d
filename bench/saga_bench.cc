// Sagas run to completion in one service, on a durable RocksEventStore (every commit fsynced) with the
// SagaRunner's checkpoint in the store's projection storage. Each saga is a Fulfilment process manager
// started by an OrderPlaced event appended to the store; its three steps are commands on the order's
// local aggregate (reserve, charge, ship), each carried out by the runner's command handler (load,
// change, save_idempotent with the step's key) and each sent when the previous one's CommandSucceeded
// arrives; the third one's answer completes the saga. After each round every saga is checked to be
// kCompleted with its three steps; one that is not fails the binary (exit code 1).
//
//   sagas_per_s         800 sagas started by 4 writer threads appending their OrderPlaced events as fast
//                       as they can, ÷ the time from the first append until the runner is idle; median of
//                       3 rounds (interleaved with those below), each on a fresh store. A saga is 8 fsynced
//                       commits: its starting event, the runner's handling of it, and per step the
//                       handler's save and the answer; all but the first are made one after another, by
//                       the runner's one thread that follows the log and carries out commands.
//   saga_step_p50_ms, saga_step_p99_ms  one step: from the commit of its command_issued record to the
//                       commit of its command_answered record in the saga's stream (both records' commit
//                       timestamps, read back after the round), over every step of 250 sagas run 4 at a
//                       time (each writer starts its next saga when its previous one has ended); medians of
//                       3 rounds' percentiles. A step includes the command handler's own durable save.
//
// The step latencies are not taken from the backlog rounds: there each command waits behind the rest of
// the backlog in the runner's log, so its latency is the backlog's length ÷ sagas_per_s, not the step's
// cost (the human-readable line shows them, with the closed loop's throughput).
//
// It is not a Google Benchmark binary: each figure comes from timed runs of a pipeline; arguments are
// ignored. 15 to 60 s on a 2-core machine, depending on how fast its fsyncs are at the time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_summary.h"
#include "strata/core/aggregate.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/process_manager.h"
#include "strata/messaging/saga_runner.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int kSagas = 800;
constexpr int kClosedLoopSagas = 250;
constexpr int kWriters = 4;
constexpr int kRounds = 3;
constexpr auto kIdleTimeout = std::chrono::minutes(2);

// ---- the shop's events and commands ----
struct OrderPlaced {  // a local event: starts a saga
  static constexpr std::string_view kType = "shop.order_placed.v1";
  std::string order;
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("order", &OrderPlaced::order), field("cents", &OrderPlaced::cents));
};
struct ReserveStock {
  static constexpr std::string_view kType = "shop.reserve_stock.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &ReserveStock::order));
};
struct ReleaseStock {
  static constexpr std::string_view kType = "shop.release_stock.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &ReleaseStock::order));
};
struct ChargeOrder {
  static constexpr std::string_view kType = "shop.charge_order.v1";
  std::string order;
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("order", &ChargeOrder::order), field("cents", &ChargeOrder::cents));
};
struct RefundOrder {
  static constexpr std::string_view kType = "shop.refund_order.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &RefundOrder::order));
};
struct ShipOrder {
  static constexpr std::string_view kType = "shop.ship_order.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &ShipOrder::order));
};

// ---- the local aggregate the commands act on ----
struct StockReserved {
  static constexpr std::string_view kType = "shop.stock_reserved.v1";
  static constexpr auto kFields = fields();
};
struct OrderCharged {
  static constexpr std::string_view kType = "shop.order_charged.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &OrderCharged::cents));
};
struct OrderShipped {
  static constexpr std::string_view kType = "shop.order_shipped.v1";
  static constexpr auto kFields = fields();
};
struct StockReleased {
  static constexpr std::string_view kType = "shop.stock_released.v1";
  static constexpr auto kFields = fields();
};
struct OrderRefunded {
  static constexpr std::string_view kType = "shop.order_refunded.v1";
  static constexpr auto kFields = fields();
};
// The compensations (release, refund) are never needed here; they are registered so that a saga that
// fails a step ends compensated, and the check after the round names it.
class Order : public Aggregate<Order, Events<StockReserved, OrderCharged, OrderShipped, StockReleased, OrderRefunded>> {
 public:
  Status reserve() {
    if (reserved_) return Status::rejected("stock already reserved");
    record(StockReserved{});
    return {};
  }
  Status charge(std::int64_t cents) {
    if (!reserved_) return Status::rejected("cannot charge an order whose stock is not reserved");
    if (charged_) return Status::rejected("order already charged");
    record(OrderCharged{cents});
    return {};
  }
  Status ship() {
    if (!charged_) return Status::rejected("cannot ship an order that is not charged");
    if (shipped_) return Status::rejected("order already shipped");
    record(OrderShipped{});
    return {};
  }
  Status release() {
    if (reserved_) record(StockReleased{});
    return {};
  }
  Status refund() {
    if (charged_) record(OrderRefunded{});
    return {};
  }

 private:
  friend Aggregate;
  void apply(const StockReserved&) { reserved_ = true; }
  void apply(const OrderCharged&) { charged_ = true; }
  void apply(const OrderShipped&) { shipped_ = true; }
  void apply(const StockReleased&) { reserved_ = false; }
  void apply(const OrderRefunded&) { charged_ = false; }
  bool reserved_ = false;
  bool charged_ = false;
  bool shipped_ = false;
};

// ---- the process manager ----
struct FulfilmentStarted {
  static constexpr std::string_view kType = "shop.fulfilment_started.v1";
  std::string order;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("order", &FulfilmentStarted::order), field("cents", &FulfilmentStarted::cents));
};

class Fulfilment
    : public ProcessManager<Fulfilment, Events<FulfilmentStarted>, Triggers<OrderPlaced, CommandSucceeded>> {
 public:
  static constexpr std::string_view kName = "fulfilment";
  static std::string correlate(const OrderPlaced& e) { return e.order; }

  void handle(const OrderPlaced& e) {
    record(FulfilmentStarted{e.order, e.cents});
    send("reserve", ReserveStock{order_});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step == "reserve") {
      step_completed("reserve", ReleaseStock{order_});
      send("charge", ChargeOrder{order_, cents_});
    } else if (s.step == "charge") {
      step_completed("charge", RefundOrder{order_});
      send("ship", ShipOrder{order_});
    } else if (s.step == "ship") {
      step_completed("ship");
      complete();
    }
  }

 private:
  friend ProcessManager;
  void apply(const FulfilmentStarted& e) {
    order_ = e.order;
    cents_ = e.cents;
  }
  std::string order_;
  std::int64_t cents_ = 0;
};

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

std::string order_key(int i) { return "o" + std::to_string(i); }

double percentile_of(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? std::nan("") : sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

struct Round {
  double sagas_per_s = 0;
  std::vector<double> step_ms;  // sorted
};

// The step latencies of one saga's stream: each command_issued to the next command_answered of its step.
void collect_steps(EventStore& store, const std::string& key, std::vector<double>& out) {
  auto slice = store.read_stream(sid(std::string(Fulfilment::kName) + "-" + key), ReadDirection::kForward, 1, 1'000);
  if (!slice.ok()) throw std::runtime_error("saga " + key + ": " + slice.status().to_string());
  std::optional<std::pair<std::string, Timestamp>> issued;
  int steps = 0;
  for (const RecordedEvent& e : slice->events) {
    if (e.type == saga::CommandIssued::kType) {
      saga::CommandIssued c;
      if (!decode_json(e.payload, c).ok()) throw std::runtime_error("saga " + key + ": undecodable command_issued");
      issued.emplace(c.step, e.timestamp);
    } else if (e.type == saga::CommandAnswered::kType) {
      saga::CommandAnswered a;
      if (!decode_json(e.payload, a).ok()) throw std::runtime_error("saga " + key + ": undecodable command_answered");
      if (!issued || issued->first != a.step)
        throw std::runtime_error("saga " + key + ": an answer for step \"" + a.step + "\" without its command");
      out.push_back(std::chrono::duration<double, std::milli>(e.timestamp - issued->second).count());
      issued.reset();
      ++steps;
    }
  }
  if (steps != 3) throw std::runtime_error("saga " + key + ": " + std::to_string(steps) + " answered steps, not 3");
}

// The service under measurement: a durable store, the orders' repository, and the saga runner with a
// command handler per step that loads the order, applies the command and saves it under the step's
// idempotency key.
struct Service {
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<Repository<Order>> orders;
  std::unique_ptr<SagaRunner<Fulfilment>> runner;

  explicit Service(const std::string& dir) {
    RocksEventStore::Options options;
    options.sync = true;
    options.block_cache_bytes = std::size_t{64} << 20;
    store = RocksEventStore::open(options, dir).value();
    orders = std::make_unique<Repository<Order>>(*store);
    runner = std::make_unique<SagaRunner<Fulfilment>>(*store, store->projection_storage());
    auto on = [repo = orders.get()](auto action) {
      return [repo, action](const auto& c, const CommandContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Order o, repo->load_or_create(sid("order-" + c.order)));
        STRATA_RETURN_IF_ERROR(action(o, c));
        return repo->save_idempotent(o, ctx.key, ctx.metadata).status();
      };
    };
    runner->on_command<ReserveStock>(on([](Order& o, const ReserveStock&) { return o.reserve(); }));
    runner->on_command<ChargeOrder>(on([](Order& o, const ChargeOrder& c) { return o.charge(c.cents); }));
    runner->on_command<ShipOrder>(on([](Order& o, const ShipOrder&) { return o.ship(); }));
    runner->on_command<ReleaseStock>(on([](Order& o, const ReleaseStock&) { return o.release(); }));
    runner->on_command<RefundOrder>(on([](Order& o, const RefundOrder&) { return o.refund(); }));
  }

  // Appends the event that starts saga `i`.
  void place(int i) {
    Metadata m;
    m.correlation_id = "checkout-" + order_key(i);
    throw_if_error(store
                       ->append(sid("checkout-" + order_key(i)), ExpectedVersion::no_stream(),
                                to_event_data(OrderPlaced{order_key(i), 1'999 + i}, EventId::generate(), m))
                       .status());
  }
};

// Wakes the threads waiting for a saga to end after each commit, so that they look at their saga once
// per commit rather than polling it.
class CommitSignal {
 public:
  explicit CommitSignal(EventStore& store)
      : subscription_(store.subscribe_commits([this](Position) {
          {
            std::lock_guard lock(mu_);
            ++commits_;
          }
          cv_.notify_all();
        })) {}

  // Returns once `ended()` is true; it is called again after each commit. Throws after `timeout`.
  template <class Ended>
  void wait_until(Ended ended, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mu_);
    for (;;) {
      const std::uint64_t seen = commits_;
      lock.unlock();
      if (ended()) return;
      if (Clock::now() >= deadline) throw std::runtime_error("a saga did not end in time");
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return commits_ != seen; });
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t commits_ = 0;  // GUARDED_BY(mu_)
  CommitSubscription subscription_;
};

enum class Load {
  kBacklog,     // the writers append every starting event as fast as they can
  kClosedLoop,  // each writer starts a saga when its previous one has ended
};

// Every saga completed with its three steps (or an exception naming the first that did not); the
// latencies of their steps, sorted.
std::vector<double> check_and_collect(Service& s, int n) {
  std::vector<double> steps;
  for (int i = 0; i < n; ++i) {
    auto st = s.runner->status(order_key(i));
    if (!st.ok()) throw std::runtime_error("saga " + order_key(i) + ": " + st.status().to_string());
    if (st->phase != SagaPhase::kCompleted || st->completed_steps.size() != 3)
      throw std::runtime_error("saga " + order_key(i) + " is " + std::string(saga_phase_name(st->phase)) + " with " +
                               std::to_string(st->completed_steps.size()) + " completed steps, not completed with 3");
    collect_steps(*s.store, order_key(i), steps);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

// Starts `n` sagas from kWriters threads, waits until the runner is idle, checks that every saga
// completed, and measures.
Round run_round(const std::string& dir, int n, Load load) {
  Service s(dir);
  CommitSignal commits(*s.store);
  throw_if_error(s.runner->start());
  const auto began = Clock::now();
  std::vector<std::thread> writers;
  std::mutex failure_mu;
  std::string failure;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      try {
        for (int i = w; i < n; i += kWriters) {
          s.place(i);
          if (load == Load::kClosedLoop)
            commits.wait_until(
                [&] {
                  auto p = s.runner->load(order_key(i));
                  return p.ok() && p->saga().ended();
                },
                kIdleTimeout);
        }
      } catch (const std::exception& ex) {
        std::lock_guard lock(failure_mu);
        failure = ex.what();
      }
    });
  }
  for (auto& w : writers) w.join();
  if (!failure.empty()) throw std::runtime_error("starting the sagas failed: " + failure);
  Status idle = s.runner->wait_idle(kIdleTimeout);
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  if (!idle.ok()) throw std::runtime_error("the runner did not finish: " + idle.to_string());
  if (const SagaRunnerStatus st = s.runner->runner_status(); !st.last_error.ok())
    throw std::runtime_error("the runner reported an error: " + st.last_error.to_string());
  Round r;
  r.sagas_per_s = n / seconds;
  r.step_ms = check_and_collect(s, n);
  throw_if_error(s.runner->stop());
  return r;
}

}  // namespace

int main() {
  try {
    strata::bench::TempDir dir("strata-saga-bench");
    // Backlog and closed-loop rounds interleaved, so that both see the machine's fsyncs as they are.
    std::vector<double> rates, backlog_p50, backlog_p99, closed_rates, closed_p50, closed_p99;
    for (int round = 0; round < kRounds; ++round) {
      const Round b = run_round(dir.sub("backlog" + std::to_string(round)), kSagas, Load::kBacklog);
      std::printf("round %d: %d sagas in a backlog: %.0f sagas/s; step p50 %.2f ms, p99 %.2f ms (%zu steps)\n", round,
                  kSagas, b.sagas_per_s, percentile_of(b.step_ms, 0.5), percentile_of(b.step_ms, 0.99),
                  b.step_ms.size());
      std::fflush(stdout);
      rates.push_back(b.sagas_per_s);
      backlog_p50.push_back(percentile_of(b.step_ms, 0.5));
      backlog_p99.push_back(percentile_of(b.step_ms, 0.99));

      const Round c = run_round(dir.sub("closed" + std::to_string(round)), kClosedLoopSagas, Load::kClosedLoop);
      std::printf(
          "round %d: %d sagas, %d at a time: %.0f sagas/s; step p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu steps)\n",
          round, kClosedLoopSagas, kWriters, c.sagas_per_s, percentile_of(c.step_ms, 0.5),
          percentile_of(c.step_ms, 0.99), c.step_ms.empty() ? 0.0 : c.step_ms.back(), c.step_ms.size());
      std::fflush(stdout);
      closed_rates.push_back(c.sagas_per_s);
      closed_p50.push_back(percentile_of(c.step_ms, 0.5));
      closed_p99.push_back(percentile_of(c.step_ms, 0.99));
    }
    const double sagas_per_s = strata::bench::median(rates);

    using strata::bench::median;
    std::printf(
        "sagas of 3 steps on a durable store: %.0f sagas/s from a backlog of %d (a step there waits p50 %.0f ms, "
        "p99 %.0f ms); %d at a time: %.0f sagas/s, one step p50 %.2f ms, p99 %.2f ms\n",
        sagas_per_s, kSagas, median(backlog_p50), median(backlog_p99), kWriters, median(closed_rates),
        median(closed_p50), median(closed_p99));
    using strata::bench::print_summary;
    print_summary("sagas_per_s", sagas_per_s, "sagas/s");
    print_summary("saga_step_p50_ms", median(closed_p50), "ms");
    print_summary("saga_step_p99_ms", median(closed_p99), "ms");
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bench_saga: %s\n", ex.what());
    return 1;
  }
}
