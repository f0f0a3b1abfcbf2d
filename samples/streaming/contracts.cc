#include "streaming/contracts.h"

#include <algorithm>
#include <utility>

#include "strata/core/event.h"

namespace streaming::contracts {

namespace {

constexpr std::string_view kContractPrefix = "contract-";
// The steps of one title: "license:<title>", "show:<title>".
constexpr std::string_view kLicense = "license:";
constexpr std::string_view kShow = "show:";

std::string step_of(std::string_view prefix, std::string_view title) {
  return std::string(prefix) + std::string(title);
}

}  // namespace

std::string_view contract_state_name(ContractState state) noexcept {
  switch (state) {
    case ContractState::kNew:
      return "new";
    case ContractState::kDrafted:
      return "drafted";
    case ContractState::kSigned:
      return "signed";
    case ContractState::kActivationRequested:
      return "activation requested";
    case ContractState::kActive:
      return "active";
    case ContractState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

// ---- Contract ----

strata::Status Contract::draft(std::string studio, std::int64_t cents, std::vector<std::string> titles,
                               std::vector<std::string> regions) {
  STRATA_RETURN_IF_ERROR(expect(ContractState::kNew, "draft"));
  if (studio.empty()) return strata::Status::rejected("a contract needs a studio");
  if (cents <= 0) return strata::Status::rejected("a contract's amount must be positive, got " + std::to_string(cents));
  if (titles.empty() || regions.empty()) return strata::Status::rejected("a contract covers titles in regions");
  record(Drafted{std::move(studio), cents, std::move(titles), std::move(regions)});
  return {};
}

strata::Status Contract::sign(std::string signed_by) {
  STRATA_RETURN_IF_ERROR(expect(ContractState::kDrafted, "sign"));
  record(Signed{std::move(signed_by)});
  return {};
}

strata::Status Contract::request_activation(std::chrono::milliseconds payment_window,
                                            std::chrono::milliseconds step_window) {
  STRATA_RETURN_IF_ERROR(expect(ContractState::kSigned, "activate"));
  if (payment_window.count() <= 0 || step_window.count() <= 0)
    return strata::Status::rejected("an activation needs positive payment and step windows");
  record(ActivationRequested{key(), studio_, cents_, titles_, regions_, payment_window.count(), step_window.count()});
  return {};
}

strata::Status Contract::activate() {
  STRATA_RETURN_IF_ERROR(expect(ContractState::kActivationRequested, "complete the activation of"));
  record(Activated{});
  return {};
}

strata::Status Contract::cancel(std::string reason) {
  if (state_ == ContractState::kNew || state_ == ContractState::kCancelled)
    return strata::Status::rejected("cannot cancel " + id().str() + ": it is " +
                                    std::string(contract_state_name(state_)));
  record(Cancelled{std::move(reason)});
  return {};
}

std::string Contract::key() const { return id().str().substr(kContractPrefix.size()); }

strata::Status Contract::expect(ContractState state, std::string_view command) const {
  if (state_ == state) return {};
  return strata::Status::rejected("cannot " + std::string(command) + " " + id().str() + ": it is " +
                                  std::string(contract_state_name(state_)) + ", not " +
                                  std::string(contract_state_name(state)));
}

void Contract::apply(const Drafted& e) {
  state_ = ContractState::kDrafted;
  studio_ = e.studio;
  cents_ = e.cents;
  titles_ = e.titles;
  regions_ = e.regions;
}

void Contract::apply(const Cancelled& e) {
  state_ = ContractState::kCancelled;
  cancel_reason_ = e.reason;
}

strata::Result<strata::StreamId> contract_stream(std::string_view key) {
  return strata::StreamId::parse(std::string(kContractPrefix) + std::string(key));
}

// ---- Activation ----

void Activation::handle(const ActivationRequested& e) {
  record(ActivationStarted{e});
  // Undone last: a deal that falls through leaves a cancelled contract.
  step_completed("request", CancelContract{e.contract});
  for (const std::string& title : e.titles)
    publish(step_of(kLicense, title), LicenseTitle{e.contract, title, e.regions});
  schedule("licensing", std::chrono::milliseconds(e.step_window_ms));
}

void Activation::handle(const TitleLicensed& m) {
  const std::string step = step_of(kLicense, m.title);
  if (completed(step)) return;
  if (phase() != strata::SagaPhase::kRunning) {
    // Licensed after the deal fell through: nothing else will undo it.
    publish("unlicense:" + m.title, HideTitle{m.contract, m.title});
    return;
  }
  step_completed_publishing(step, HideTitle{m.contract, m.title});
  if (!every_title(kLicense)) return;
  cancel_deadline("licensing");
  publish("charge", ChargeRequested{terms_.contract, terms_.studio, terms_.cents});
  schedule("payment", std::chrono::milliseconds(terms_.payment_window_ms));
}

void Activation::handle(const PaymentCaptured& m) {
  if (paid_cents_ > 0) return;  // confirmed twice: charged once, nothing more to do
  record(PaymentReceived{m.cents, m.reference});
  if (phase() != strata::SagaPhase::kRunning) {
    // Captured after the deal fell through (a late confirmation): the money goes back.
    publish("late-refund", RefundRequested{terms_.contract});
    return;
  }
  cancel_deadline("payment");
  step_completed_publishing("charge", RefundRequested{terms_.contract});
  for (const std::string& title : terms_.titles) publish(step_of(kShow, title), ShowTitle{terms_.contract, title});
  schedule("showing", std::chrono::milliseconds(terms_.step_window_ms));
}

void Activation::handle(const PaymentDeclined& m) { compensate("payment declined: " + m.reason); }

void Activation::handle(const strata::DeadlineReached& d) {
  if (d.name == "payment") {
    compensate("no payment within " + std::to_string(terms_.payment_window_ms) + " ms");
  } else {
    compensate("the titles were not " + std::string(d.name == "licensing" ? "licensed" : "shown") + " within " +
               std::to_string(terms_.step_window_ms) + " ms");
  }
}

void Activation::handle(const TitleShown& m) {
  const std::string step = step_of(kShow, m.title);
  if (phase() != strata::SagaPhase::kRunning || completed(step)) return;
  step_completed(step);  // hiding the title undoes it, with its licence
  if (every_title(kShow)) send("activate", ActivateContract{terms_.contract});
}

void Activation::handle(const strata::CommandSucceeded& c) {
  if (c.step != "activate") return;
  cancel_deadline("showing");
  step_completed("activate");
  complete();
}

void Activation::handle(const PaymentRefunded& m) { record(RefundConfirmed{m.cents, m.reference}); }

bool Activation::every_title(std::string_view prefix) const {
  return std::all_of(terms_.titles.begin(), terms_.titles.end(),
                     [&](const std::string& title) { return completed(step_of(prefix, title)); });
}

bool Activation::completed(std::string_view step) const {
  const auto& steps = saga().steps;
  return std::any_of(steps.begin(), steps.end(), [&](const strata::SagaState::Step& s) { return s.name == step; });
}

// ---- Service ----

std::string deal_correlation_id(std::string_view key) { return "deal-" + std::string(key); }

namespace {

strata::SagaRunnerOptions runner_options(const ServiceContext& context) {
  strata::SagaRunnerOptions o;
  o.first_backoff = context.pace.first_backoff;
  o.max_backoff = context.pace.max_backoff;
  o.poll_interval = context.pace.poll_interval;
  return o;
}

// Publishes what the saga decided to send (its message records) and nothing else of contracts' log.
strata::RelayOptions contracts_relay(const ServiceContext& context) {
  strata::RelayOptions o = relay_options(context, "contracts");
  o.selection.event_types = {std::string(strata::saga::MessageSent::kType)};
  strata::add_saga_messages(o.mapping);
  return o;
}

}  // namespace

Service::Service(const ServiceContext& context)
    : context_(context),
      contracts_(context.store),
      runner_(context.store, context.storage, runner_options(context)),
      relay_(context.store, context.storage, context.transport, contracts_relay(context)),
      from_catalog_(context.store, context.storage, context.transport,
                    inbox_options(context, "contracts-from-catalog", "catalog")),
      from_payments_(context.store, context.storage, context.transport,
                     inbox_options(context, "contracts-from-payments", "payments")) {
  runner_.on_command<ActivateContract>([this](const ActivateContract& c, const strata::CommandContext& ctx) {
    return change_contract(c.contract, ctx, [](Contract& k) { return k.activate(); });
  });
  runner_.on_command<CancelContract>([this](const CancelContract& c, const strata::CommandContext& ctx) {
    // Why: the reason the saga gave when it began to compensate.
    STRATA_ASSIGN_OR_RETURN(Activation saga, runner_.load(c.contract));
    const std::string reason = saga.saga().compensation_reason;
    return change_contract(c.contract, ctx, [&](Contract& k) { return k.cancel(reason); });
  });
  runner_.attach<TitleLicensed, TitleShown>(from_catalog_);
  runner_.attach<PaymentCaptured, PaymentDeclined, PaymentRefunded>(from_payments_);
}

Service::~Service() { (void)stop(); }

strata::Status Service::start() {
  STRATA_RETURN_IF_ERROR(runner_.start());
  STRATA_RETURN_IF_ERROR(relay_.start());
  STRATA_RETURN_IF_ERROR(from_catalog_.start());
  return from_payments_.start();
}

strata::Status Service::stop() {
  strata::Status inboxes[] = {from_catalog_.stop(), from_payments_.stop()};
  strata::Status relay = relay_.stop();
  strata::Status runner = runner_.stop();
  for (strata::Status& s : inboxes) STRATA_RETURN_IF_ERROR(s);
  STRATA_RETURN_IF_ERROR(relay);
  return runner;
}

strata::Status Service::open_deal(const DealTerms& terms) {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, contract_stream(terms.contract));
  strata::Metadata m;
  m.correlation_id = deal_correlation_id(terms.contract);
  Contract contract = contracts_.create(stream);
  STRATA_RETURN_IF_ERROR(contract.draft(terms.studio, terms.cents, terms.titles, terms.regions));
  STRATA_RETURN_IF_ERROR(contract.sign(terms.studio));
  STRATA_RETURN_IF_ERROR(contract.request_activation(terms.payment_window, terms.step_window));
  // All or nothing: a process that stops halfway leaves no contract that waits for its activation.
  auto saved = contracts_.save(contract, m);
  if (saved.status().code() == strata::StatusCode::kWrongExpectedVersion)
    return strata::Status::rejected("contract-" + terms.contract + " exists");
  return saved.status();
}

strata::Status Service::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(runner_.wait_idle(timeout));
  STRATA_RETURN_IF_ERROR(relay_.wait_for(context_.store.head_position(), timeout));
  return wait_quiet({&from_catalog_, &from_payments_}, quiet, timeout);
}

strata::Result<Contract> Service::contract(std::string_view key) const {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, contract_stream(key));
  return contracts_.load(stream);
}

strata::Result<Activation> Service::activation(std::string_view key) const { return runner_.load(key); }

// A command of the saga, saved under its idempotency key: carried out again after a crash, it appends
// nothing.
strata::Status Service::change_contract(std::string_view key, const strata::CommandContext& ctx,
                                        const std::function<strata::Status(Contract&)>& command) {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, contract_stream(key));
  STRATA_ASSIGN_OR_RETURN(Contract contract, contracts_.load(stream));
  STRATA_RETURN_IF_ERROR(command(contract));
  return contracts_.save_idempotent(contract, ctx.key, ctx.metadata).status();
}

strata::Result<std::vector<ContractSummary>> list_contracts(strata::EventStore& store,
                                                            strata::ProjectionStorage& storage) {
  strata::Repository<Contract> contracts(store);
  // Not started: only its queries are used, which read the sagas' streams.
  strata::SagaRunner<Activation> sagas(store, storage);
  std::vector<ContractSummary> out;
  std::string after(kContractPrefix);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(strata::StreamList page, store.list_streams(after, 100));
    for (const strata::StreamInfo& info : page.streams) {
      if (!info.stream_id.starts_with(kContractPrefix)) return out;
      STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, strata::StreamId::parse(info.stream_id));
      STRATA_ASSIGN_OR_RETURN(Contract contract, contracts.load(stream));
      ContractSummary summary{contract, strata::SagaPhase::kNew, "", 0, 0, 0};
      auto saga = sagas.load(contract.key());
      if (saga.ok()) {
        summary.saga = saga->phase();
        summary.compensation_reason = saga->saga().compensation_reason;
        summary.paid_cents = saga->paid_cents();
        summary.refunded_cents = saga->refunded_cents();
        summary.pending_deadlines = saga->saga().deadlines.size();
      } else if (saga.status().code() != strata::StatusCode::kNotFound) {
        return saga.status();
      }
      out.push_back(std::move(summary));
    }
    if (page.next_after.empty()) return out;
    after = page.next_after;
  }
}

}  // namespace streaming::contracts
