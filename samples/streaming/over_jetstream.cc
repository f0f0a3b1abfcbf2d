// streaming contracts|payments|catalog DIR URLS PREFIX [--chaos DEALS --seed S --rate R]: one service
// per process, on its own durable store, over NATS JetStream. scripts/showcase.sh runs the three and
// reports on their stores after; scripts/showcase-chaos.sh runs them with --chaos, kills and restarts
// them, and audits their stores after.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "strata/messaging/jetstream_transport.h"
#include "streaming/catalog.h"
#include "streaming/chaos.h"
#include "streaming/contracts.h"
#include "streaming/payments.h"
#include "streaming/scenario.h"
#include "streaming/showcase.h"
#include "streaming/stores.h"

namespace streaming {

namespace {

constexpr std::chrono::milliseconds kDealTimeout{60'000};

// Written whole or not at all: a reader never sees half a file.
void write_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path partial = path.string() + ".partial";
  std::ofstream(partial, std::ios::trunc) << text << "\n";
  std::filesystem::rename(partial, path);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

strata::JetStreamOptions transport_options(std::string_view service, const std::string& urls,
                                           const std::string& prefix) {
  strata::JetStreamOptions o;
  o.servers = split(urls, ',');
  o.connection_name = "streaming-" + std::string(service);
  o.stream = prefix;
  o.subjects = {prefix + ".>"};
  o.replicas = o.servers.size() >= 3 ? 3 : 1;
  return o;
}

// A cluster just started may take seconds to elect the leaders the stream needs; a service is ready
// once the stream has one, so that the first deal does not spend its payment window waiting.
strata::Status wait_for_stream(strata::JetStreamTransport& transport) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    strata::Status s = transport.ensure_stream();
    if (s.ok() || s.code() != strata::StatusCode::kUnavailable || std::chrono::steady_clock::now() > give_up) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Drafts, signs and requests the activation of each deal, and waits for each to end before the next:
// its saga completed or compensated, and a refund it asked for confirmed. A deal found in the store (a
// restarted process) is not opened again.
strata::Status drive(contracts::Service& contracts, const std::vector<Deal>& deals, const std::atomic<bool>& stopping) {
  for (const Deal& deal : deals) {
    const std::string& key = deal.terms.contract;
    const auto started = std::chrono::steady_clock::now();
    auto existing = contracts.contract(key);
    if (existing.status().code() == strata::StatusCode::kNotFound) {
      STRATA_RETURN_IF_ERROR(contracts.open_deal(deal.terms));
      fmt::print("{}: contract-{} drafted, signed, activation requested\n", deal.correlation_id(), key);
    } else if (!existing.ok()) {
      return existing.status();
    }
    for (;;) {
      if (stopping) return strata::Status::cancelled("stopped before every deal ended");
      auto saga = contracts.activation(key);
      if (!saga.ok() && saga.status().code() != strata::StatusCode::kNotFound) return saga.status();
      if (saga.ok() && saga->saga().ended() && saga->refunded_cents() >= deal.expected.refunded) {
        fmt::print(
            "{}: the saga {} after {} ms\n", deal.correlation_id(), strata::saga_phase_name(saga->phase()),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
        break;
      }
      if (std::chrono::steady_clock::now() - started > kDealTimeout)
        return strata::Status::unavailable(deal.correlation_id() + " did not end within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::fflush(stdout);
  }
  return {};
}

// The chaos run: opens the plan's deals at `rate` a second (those a process before this one opened are
// skipped), then waits until every saga has ended, reporting progress every two seconds.
strata::Status drive_chaos(contracts::Service& contracts, const ChaosPlan& plan, double rate,
                           const std::atomic<bool>& stopping) {
  const auto began = std::chrono::steady_clock::now();
  const auto every = std::chrono::duration<double>(1.0 / rate);
  auto next_report = began;
  std::vector<std::string> open;
  std::size_t opened = 0, existed = 0, completed = 0, compensated = 0;
  auto report = [&](bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && now < next_report) return;
    next_report = now + std::chrono::seconds(2);
    fmt::print("{:>6.1f} s: {} deals opened ({} by an earlier process), {} ended: {} completed, {} compensated\n",
               std::chrono::duration<double>(now - began).count(), opened + existed, existed, completed + compensated,
               completed, compensated);
    std::fflush(stdout);
  };
  // Polls the sagas still open; drops those that ended.
  auto poll = [&]() -> strata::Status {
    std::vector<std::string> still;
    for (const std::string& key : open) {
      auto saga = contracts.activation(key);
      if (!saga.ok() && saga.status().code() != strata::StatusCode::kNotFound) return saga.status();
      if (saga.ok() && saga->saga().ended()) {
        ++(saga->phase() == strata::SagaPhase::kCompleted ? completed : compensated);
      } else {
        still.push_back(key);
      }
    }
    open = std::move(still);
    return {};
  };

  for (std::size_t i = 0; i < plan.deals.size(); ++i) {
    if (stopping) return strata::Status::cancelled("stopped while opening deals");
    const contracts::DealTerms& terms = plan.deals[i].terms;
    strata::Status s = contracts.open_deal(terms);
    if (s.code() == strata::StatusCode::kRejected) {
      ++existed;
    } else {
      STRATA_RETURN_IF_ERROR(s);
      ++opened;
      std::this_thread::sleep_until(began + every * static_cast<double>(opened));
    }
    open.push_back(terms.contract);
    if (i % 50 == 49) STRATA_RETURN_IF_ERROR(poll());
    report(false);
  }
  while (!open.empty()) {
    if (stopping) return strata::Status::cancelled("stopped before every saga ended");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    STRATA_RETURN_IF_ERROR(poll());
    report(false);
  }
  report(true);
  return {};
}

// Runs `service`: announces it, runs `work` (if any) on a thread of its own, writes the store's head
// every 200 ms, and `status()` (if any) every second, until SIGTERM or SIGINT or a failure of `work`.
template <class S>
strata::Status serve(S& service, const ServiceStore& store, const std::filesystem::path& dir, std::string_view name,
                     const std::function<strata::Status(const std::atomic<bool>& stopping)>& work,
                     const std::function<std::string()>& status) {
  STRATA_RETURN_IF_ERROR(service.start());
  write_file(dir / (std::string(name) + ".ready"), "ready");
  fmt::print("{} runs\n", name);
  std::fflush(stdout);

  std::atomic<bool> stopping{false};
  std::atomic<bool> work_failed{false};
  strata::Status work_status;
  std::thread worker;
  if (work) {
    worker = std::thread([&] {
      work_status = work(stopping);
      if (!work_status.ok()) work_failed = true;
    });
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  const timespec every{0, 200'000'000};
  for (std::uint64_t tick = 0; !work_failed; ++tick) {
    write_file(dir / (std::string(name) + ".head"), std::to_string(store.events().head_position().value()));
    if (status && tick % 5 == 0) write_file(dir / (std::string(name) + ".status"), status());
    if (sigtimedwait(&stop_signals, nullptr, &every) > 0) break;
  }
  stopping = true;
  if (worker.joinable()) worker.join();
  fmt::print("{} stops\n", name);
  strata::Status stopped = service.stop();
  if (!work_status.ok() && work_status.code() != strata::StatusCode::kCancelled) return work_status;
  return stopped;
}

strata::Status run(std::string_view service, const std::filesystem::path& dir, const std::string& urls,
                   const std::string& prefix, const std::optional<ChaosRun>& chaos) {
  STRATA_ASSIGN_OR_RETURN(ServiceStore store,
                          ServiceStore::open(dir / service, StoreMode::kOpenOrCreate, /*durable=*/true));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<strata::JetStreamTransport> transport,
                          strata::JetStreamTransport::connect(transport_options(service, urls, prefix)));
  STRATA_RETURN_IF_ERROR(wait_for_stream(*transport));
  const ServiceContext context{store.events(), store.storage(), *transport, prefix, Pace::over_network()};
  const Timing timing = Timing::over_network();
  const std::vector<Deal> deals = showcase_deals(timing);
  const std::optional<ChaosPlan> plan = chaos ? std::optional(chaos_plan(chaos->plan)) : std::nullopt;

  if (service == "catalog") {
    catalog::Service catalog(context);
    STRATA_RETURN_IF_ERROR(plan ? add_chaos_catalogue(catalog) : add_sample_catalogue(catalog));
    return serve(catalog, store, dir, service, nullptr, nullptr);
  }
  if (service == "payments") {
    std::unique_ptr<strata::testing::FaultyProvider> scripted =
        plan ? chaos_provider(*plan) : scripted_provider(deals, timing);
    const strata::testing::FaultyProvider& provider = *scripted;
    payments::Service payments(context, std::move(scripted));
    // How many payments wait for the provider's answer: a script waits for none before it stops.
    auto pending = [&]() -> std::string {
      auto n = payments.pending_payments();
      return n.ok() ? fmt::format("pending {}", *n) : "pending unknown";
    };
    STRATA_RETURN_IF_ERROR(serve(payments, store, dir, service, nullptr, pending));
    fmt::print(
        "payments: the provider performed {} operations and sent {} webhook answers, {} of them repeats "
        "that payments ignored\n",
        provider.total_effects(), provider.answers_delivered(), payments.repeated_answers());
    return {};
  }
  contracts::Service contracts(context);
  return serve(
      contracts, store, dir, service,
      [&](const std::atomic<bool>& stopping) -> strata::Status {
        STRATA_RETURN_IF_ERROR(plan ? drive_chaos(contracts, *plan, chaos->rate, stopping)
                                    : drive(contracts, deals, stopping));
        write_file(dir / "contracts.done", "done");
        fmt::print("every deal has ended\n");
        std::fflush(stdout);
        return {};
      },
      nullptr);
}

}  // namespace

int run_service(std::string_view service, const std::filesystem::path& dir, const std::string& urls,
                const std::string& prefix, const std::optional<ChaosRun>& chaos) {
  // SIGTERM and SIGINT are taken by sigtimedwait in serve(): blocked here, before any thread starts,
  // so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const strata::Status s = run(service, dir, urls, prefix, chaos);
  if (!s.ok()) {
    fmt::print(stderr, "streaming {}: {}\n", service, s.to_string());
    return 2;
  }
  return 0;
}

}  // namespace streaming
