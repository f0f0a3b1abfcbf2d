// streaming contracts|payments|catalog DIR URLS PREFIX: one service per process, on its own durable
// store, over NATS JetStream. scripts/showcase.sh runs the three and reports on their stores after.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "strata/messaging/jetstream_transport.h"
#include "streaming/catalog.h"
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
strata::Status drive(contracts::Service& contracts, const std::vector<Deal>& deals) {
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

// Starts `service`, announces it, runs `work` (if any), then reports the store's head every 200 ms
// until SIGTERM or SIGINT, and stops.
template <class S>
strata::Status serve(S& service, const ServiceStore& store, const std::filesystem::path& dir, std::string_view name,
                     const std::function<strata::Status()>& work) {
  STRATA_RETURN_IF_ERROR(service.start());
  write_file(dir / (std::string(name) + ".ready"), "ready");
  fmt::print("{} runs\n", name);
  std::fflush(stdout);
  if (work) STRATA_RETURN_IF_ERROR(work());

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  const timespec every{0, 200'000'000};
  for (;;) {
    write_file(dir / (std::string(name) + ".head"), std::to_string(store.events().head_position().value()));
    if (sigtimedwait(&stop_signals, nullptr, &every) > 0) break;
  }
  fmt::print("{} stops\n", name);
  return service.stop();
}

strata::Status run(std::string_view service, const std::filesystem::path& dir, const std::string& urls,
                   const std::string& prefix) {
  STRATA_ASSIGN_OR_RETURN(ServiceStore store,
                          ServiceStore::open(dir / service, StoreMode::kOpenOrCreate, /*durable=*/true));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<strata::JetStreamTransport> transport,
                          strata::JetStreamTransport::connect(transport_options(service, urls, prefix)));
  STRATA_RETURN_IF_ERROR(wait_for_stream(*transport));
  const ServiceContext context{store.events(), store.storage(), *transport, prefix, Pace::over_network()};
  const Timing timing = Timing::over_network();
  const std::vector<Deal> deals = showcase_deals(timing);

  if (service == "catalog") {
    catalog::Service catalog(context);
    STRATA_RETURN_IF_ERROR(add_sample_catalogue(catalog));
    return serve(catalog, store, dir, service, nullptr);
  }
  if (service == "payments") {
    std::unique_ptr<strata::testing::FaultyProvider> scripted = scripted_provider(deals, timing);
    const strata::testing::FaultyProvider& provider = *scripted;
    payments::Service payments(context, std::move(scripted));
    STRATA_RETURN_IF_ERROR(serve(payments, store, dir, service, nullptr));
    fmt::print(
        "payments: the provider performed {} operations and sent {} webhook answers, {} of them repeats "
        "that payments ignored\n",
        provider.total_effects(), provider.answers_delivered(), payments.repeated_answers());
    return {};
  }
  contracts::Service contracts(context);
  return serve(contracts, store, dir, service, [&]() -> strata::Status {
    STRATA_RETURN_IF_ERROR(drive(contracts, deals));
    write_file(dir / "contracts.done", "done");
    fmt::print("every deal has ended\n");
    return {};
  });
}

}  // namespace

int run_service(std::string_view service, const std::filesystem::path& dir, const std::string& urls,
                const std::string& prefix) {
  // SIGTERM and SIGINT are taken by sigtimedwait in serve(): blocked here, before any thread starts,
  // so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const strata::Status s = run(service, dir, urls, prefix);
  if (!s.ok()) {
    fmt::print(stderr, "streaming {}: {}\n", service, s.to_string());
    return 2;
  }
  return 0;
}

}  // namespace streaming
