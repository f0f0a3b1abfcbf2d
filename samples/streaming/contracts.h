// The contracts service: the Contract aggregate, the Activation saga that brings a signed deal to life
// across the three services, and the service that runs them.
//
// A contract is drafted (studio, amount, titles, regions), signed, and asked to be activated; the
// activation makes it active, or it is cancelled. Asking starts the Activation saga (a process manager,
// orchestration), which coordinates the other services through messages only:
//
//   1. each title is licensed in the catalog for the contract's regions (LicenseTitle; undone by
//      HideTitle), before the "licensing" deadline (the step window);
//   2. once every title is licensed, the studio is charged (ChargeRequested, under the saga step's
//      idempotency key, which payments passes to the provider; undone by RefundRequested), and the
//      payment has until the "payment" deadline (the contract's payment window);
//   3. once the payment is captured, the titles are shown (ShowTitle), before the "showing" deadline
//      (the step window);
//   4. once every title is shown, the contract is activated (a local command) and the saga completes.
// A running saga always has one deadline pending: whichever service stops answering, the deal ends. A
// declined payment, or a deadline reached, compensates newest first: the payment is refunded if it was
// captured, the titles are hidden, then the contract is cancelled. A payment captured after that (a late
// confirmation) is refunded; a payment confirmed twice is charged once.
//
//   streaming::contracts::Service contracts(context);
//   STRATA_RETURN_IF_ERROR(contracts.start());
//   STRATA_RETURN_IF_ERROR(contracts.open_deal(terms));   // drafted, signed, activation requested
//   STRATA_ASSIGN_OR_RETURN(streaming::contracts::Activation saga, contracts.activation("trilogy"));
//
// Thread safety: Contract and Activation are values owned by one thread at a time. Every method of
// Service may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event_store.h"
#include "strata/core/repository.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/process_manager.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/saga_runner.h"
#include "strata/projections/projection_storage.h"
#include "streaming/messages.h"
#include "streaming/service.h"

namespace streaming::contracts {

// ---- the Contract aggregate, in streams "contract-<key>" ----

struct Drafted {
  static constexpr std::string_view kType = "contract.drafted.v1";
  std::string studio;
  std::int64_t cents = 0;
  std::vector<std::string> titles;  // title stream ids
  std::vector<std::string> regions;
  static constexpr auto kFields =
      strata::fields(strata::field("studio", &Drafted::studio), strata::field("cents", &Drafted::cents),
                     strata::field("titles", &Drafted::titles), strata::field("regions", &Drafted::regions));
  bool operator==(const Drafted&) const = default;
};

struct Signed {
  static constexpr std::string_view kType = "contract.signed.v1";
  std::string signed_by;
  static constexpr auto kFields = strata::fields(strata::field("signed_by", &Signed::signed_by));
  bool operator==(const Signed&) const = default;
};

// Starts the Activation saga: it carries all the saga needs to know.
struct ActivationRequested {
  static constexpr std::string_view kType = "contract.activation_requested.v1";
  std::string contract;
  std::string studio;
  std::int64_t cents = 0;
  std::vector<std::string> titles;
  std::vector<std::string> regions;
  std::int64_t payment_window_ms = 0;  // how long the saga waits for the payment, once requested
  std::int64_t step_window_ms = 0;     // how long it waits for the licences, and for the titles shown
  static constexpr auto kFields = strata::fields(
      strata::field("contract", &ActivationRequested::contract), strata::field("studio", &ActivationRequested::studio),
      strata::field("cents", &ActivationRequested::cents), strata::field("titles", &ActivationRequested::titles),
      strata::field("regions", &ActivationRequested::regions),
      strata::field("payment_window_ms", &ActivationRequested::payment_window_ms),
      strata::field("step_window_ms", &ActivationRequested::step_window_ms));
  bool operator==(const ActivationRequested&) const = default;
};

struct Activated {
  static constexpr std::string_view kType = "contract.activated.v1";
  static constexpr auto kFields = strata::fields();
  bool operator==(const Activated&) const = default;
};

struct Cancelled {
  static constexpr std::string_view kType = "contract.cancelled.v1";
  std::string reason;
  static constexpr auto kFields = strata::fields(strata::field("reason", &Cancelled::reason));
  bool operator==(const Cancelled&) const = default;
};

enum class ContractState : std::uint8_t { kNew, kDrafted, kSigned, kActivationRequested, kActive, kCancelled };

// "new", "drafted", "signed", "activation requested", "active", "cancelled".
std::string_view contract_state_name(ContractState state) noexcept;

class Contract
    : public strata::Aggregate<Contract, strata::Events<Drafted, Signed, ActivationRequested, Activated, Cancelled>> {
 public:
  // Commands: kRejected when a rule forbids them, and nothing is recorded.
  strata::Status draft(std::string studio, std::int64_t cents, std::vector<std::string> titles,
                       std::vector<std::string> regions);
  strata::Status sign(std::string signed_by);
  strata::Status request_activation(std::chrono::milliseconds payment_window, std::chrono::milliseconds step_window);
  strata::Status activate();
  strata::Status cancel(std::string reason);

  // The contract's key: its stream id without "contract-".
  std::string key() const;
  ContractState state() const noexcept { return state_; }
  const std::string& studio() const noexcept { return studio_; }
  std::int64_t cents() const noexcept { return cents_; }
  const std::vector<std::string>& titles() const noexcept { return titles_; }
  const std::vector<std::string>& regions() const noexcept { return regions_; }
  const std::string& cancel_reason() const noexcept { return cancel_reason_; }

 private:
  friend Aggregate;
  strata::Status expect(ContractState state, std::string_view command) const;

  void apply(const Drafted& e);
  void apply(const Signed&) { state_ = ContractState::kSigned; }
  void apply(const ActivationRequested&) { state_ = ContractState::kActivationRequested; }
  void apply(const Activated&) { state_ = ContractState::kActive; }
  void apply(const Cancelled& e);

  ContractState state_ = ContractState::kNew;
  std::string studio_;
  std::int64_t cents_ = 0;
  std::vector<std::string> titles_;
  std::vector<std::string> regions_;
  std::string cancel_reason_;
};

// The stream of the contract with key `key`: "contract-<key>".
strata::Result<strata::StreamId> contract_stream(std::string_view key);

// ---- the Activation saga, in streams "activation-<contract key>" ----

// The saga's commands for its own service's Contract aggregate.
struct ActivateContract {
  static constexpr std::string_view kType = "contract.activate.v1";
  std::string contract;
  static constexpr auto kFields = strata::fields(strata::field("contract", &ActivateContract::contract));
  bool operator==(const ActivateContract&) const = default;
};

struct CancelContract {
  static constexpr std::string_view kType = "contract.cancel.v1";
  std::string contract;
  static constexpr auto kFields = strata::fields(strata::field("contract", &CancelContract::contract));
  bool operator==(const CancelContract&) const = default;
};

// The saga's own events.
struct ActivationStarted {
  static constexpr std::string_view kType = "activation.started.v1";
  ActivationRequested terms;
  static constexpr auto kFields = strata::fields(strata::field("terms", &ActivationStarted::terms));
  bool operator==(const ActivationStarted&) const = default;
};

struct PaymentReceived {
  static constexpr std::string_view kType = "activation.payment_received.v1";
  std::int64_t cents = 0;
  std::string reference;
  static constexpr auto kFields = strata::fields(strata::field("cents", &PaymentReceived::cents),
                                                 strata::field("reference", &PaymentReceived::reference));
  bool operator==(const PaymentReceived&) const = default;
};

struct RefundConfirmed {
  static constexpr std::string_view kType = "activation.refund_confirmed.v1";
  std::int64_t cents = 0;
  std::string reference;
  static constexpr auto kFields = strata::fields(strata::field("cents", &RefundConfirmed::cents),
                                                 strata::field("reference", &RefundConfirmed::reference));
  bool operator==(const RefundConfirmed&) const = default;
};

class Activation
    : public strata::ProcessManager<
          Activation, strata::Events<ActivationStarted, PaymentReceived, RefundConfirmed>,
          strata::Triggers<ActivationRequested, TitleLicensed, PaymentCaptured, PaymentDeclined, PaymentRefunded,
                           TitleShown, strata::DeadlineReached, strata::CommandSucceeded>> {
 public:
  static constexpr std::string_view kName = "activation";
  static std::string correlate(const ActivationRequested& e) { return e.contract; }
  static std::string correlate(const TitleLicensed& m) { return m.contract; }
  static std::string correlate(const TitleShown& m) { return m.contract; }
  static std::string correlate(const PaymentCaptured& m) { return m.contract; }
  static std::string correlate(const PaymentDeclined& m) { return m.contract; }
  static std::string correlate(const PaymentRefunded& m) { return m.contract; }

  void handle(const ActivationRequested& e);
  void handle(const TitleLicensed& m);
  void handle(const PaymentCaptured& m);
  void handle(const PaymentDeclined& m);
  void handle(const strata::DeadlineReached& d);
  void handle(const TitleShown& m);
  void handle(const strata::CommandSucceeded& c);
  void handle(const PaymentRefunded& m);

  // The money: captured (by the provider, for this deal) and refunded.
  std::int64_t paid_cents() const noexcept { return paid_cents_; }
  std::int64_t refunded_cents() const noexcept { return refunded_cents_; }

 private:
  friend ProcessManager;
  // Whether every title has completed its step "<prefix><title>".
  bool every_title(std::string_view prefix) const;
  bool completed(std::string_view step) const;

  void apply(const ActivationStarted& e) { terms_ = e.terms; }
  void apply(const PaymentReceived& e) { paid_cents_ = e.cents; }
  void apply(const RefundConfirmed& e) { refunded_cents_ = e.cents; }

  ActivationRequested terms_;
  std::int64_t paid_cents_ = 0;
  std::int64_t refunded_cents_ = 0;
};

// ---- the service ----

// What a deal is: the contract's key and terms, and how long its payment may take.
struct DealTerms {
  std::string contract;  // the key: "trilogy"
  std::string studio;
  std::int64_t cents = 0;
  std::vector<std::string> titles;
  std::vector<std::string> regions;
  std::chrono::milliseconds payment_window{0};
  std::chrono::milliseconds step_window{0};  // for the licences, and again for showing the titles
};

// The correlation id of the deal for contract `key`: "deal-<key>". Every event of the deal, in every
// service, carries it.
std::string deal_correlation_id(std::string_view key);

class Service {
 public:
  explicit Service(const ServiceContext& context);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Starts the saga runner, the relay and the inboxes; stop() stops them.
  [[nodiscard]] strata::Status start();
  [[nodiscard]] strata::Status stop();

  // The deal as one commit of its contract — drafted, signed, activation requested — with the deal's
  // correlation id; it starts the saga. kRejected when the contract exists.
  [[nodiscard]] strata::Status open_deal(const DealTerms& terms);

  // Waits until the runner has handled the log, the relay has published it and the inboxes have seen
  // no message for `quiet`.
  [[nodiscard]] strata::Status wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);

  [[nodiscard]] strata::Result<Contract> contract(std::string_view key) const;
  // The deal's saga. kNotFound before it started.
  [[nodiscard]] strata::Result<Activation> activation(std::string_view key) const;

 private:
  strata::Status change_contract(std::string_view key, const strata::CommandContext& ctx,
                                 const std::function<strata::Status(Contract&)>& command);

  ServiceContext context_;
  strata::Repository<Contract> contracts_;
  strata::SagaRunner<Activation> runner_;
  strata::Relay relay_;
  // Their handlers deliver to the runner: declared after it, destroyed before it.
  strata::Inbox from_catalog_;
  strata::Inbox from_payments_;
};

// Every contract in `store` with its saga, as a report shows them. `storage` is the contracts
// service's (the saga runner's rows); nothing is written to it.
struct ContractSummary {
  Contract contract;
  strata::SagaPhase saga = strata::SagaPhase::kNew;
  std::string compensation_reason;
  std::int64_t paid_cents = 0;
  std::int64_t refunded_cents = 0;
  std::size_t pending_deadlines = 0;
};
strata::Result<std::vector<ContractSummary>> list_contracts(strata::EventStore& store,
                                                            strata::ProjectionStorage& storage);

}  // namespace streaming::contracts
