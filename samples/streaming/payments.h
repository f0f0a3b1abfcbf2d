// The payments service: the Payment aggregate, the ledger read model (what was captured and refunded),
// and the service that charges and refunds studios through a payment provider when the contracts
// service asks.
//
// The provider is a third party behind strata::Gateway, outside every transaction of ours: each call
// carries the idempotency key of the saga step that asked for it, so a call repeated after a timeout or
// a crash is performed once. It answers at once (accepted, declined) or later through its webhook —
// possibly late, possibly twice. A payment is requested, then pending, captured or declined, and a
// captured one may be refunded; a second confirmation of a captured payment changes nothing.
//
//   auto provider = std::make_unique<strata::testing::FaultyProvider>();
//   streaming::payments::Service payments(context, std::move(provider));
//   STRATA_RETURN_IF_ERROR(payments.start());
//   ...
//   STRATA_ASSIGN_OR_RETURN(strata::ReadModelReader ledger, payments.ledger());
//
// Thread safety: a Payment is a value owned by one thread at a time. Every method of Service may be
// called from any thread; inbox handlers run on the inbox's threads, the webhook on the provider's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/repository.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/messaging/gateway.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/relay.h"
#include "strata/projections/projection.h"
#include "strata/projections/projector.h"
#include "strata/projections/read_model.h"
#include "streaming/messages.h"
#include "streaming/service.h"

namespace streaming::payments {

// ---- the Payment aggregate, in streams "payment-<contract>" ----

struct Requested {
  static constexpr std::string_view kType = "payment.requested.v1";
  std::string contract;
  std::string studio;
  std::int64_t cents = 0;
  std::string charge_key;  // the idempotency key the provider is called with
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Requested::contract), strata::field("studio", &Requested::studio),
                     strata::field("cents", &Requested::cents), strata::field("charge_key", &Requested::charge_key));
  bool operator==(const Requested&) const = default;
};

// The provider took the charge; its answer comes through the webhook.
struct Pending {
  static constexpr std::string_view kType = "payment.pending.v1";
  static constexpr auto kFields = strata::fields();
  bool operator==(const Pending&) const = default;
};

struct Captured {
  static constexpr std::string_view kType = "payment.captured.v1";
  std::string contract;
  std::int64_t cents = 0;
  std::string reference;  // the provider's
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Captured::contract), strata::field("cents", &Captured::cents),
                     strata::field("reference", &Captured::reference));
  bool operator==(const Captured&) const = default;
};

struct Declined {
  static constexpr std::string_view kType = "payment.declined.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Declined::contract), strata::field("reason", &Declined::reason));
  bool operator==(const Declined&) const = default;
};

struct Refunded {
  static constexpr std::string_view kType = "payment.refunded.v1";
  std::string contract;
  std::int64_t cents = 0;
  std::string reference;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Refunded::contract), strata::field("cents", &Refunded::cents),
                     strata::field("reference", &Refunded::reference));
  bool operator==(const Refunded&) const = default;
};

enum class PaymentState : std::uint8_t { kNew, kRequested, kPending, kCaptured, kDeclined, kRefunded };

// "new", "requested", "pending", "captured", "declined", "refunded".
std::string_view payment_state_name(PaymentState state) noexcept;

class Payment : public strata::Aggregate<Payment, strata::Events<Requested, Pending, Captured, Declined, Refunded>> {
 public:
  // Commands: kRejected when the payment is not in a state that allows them; nothing is recorded then.
  strata::Status request(std::string contract, std::string studio, std::int64_t cents, std::string charge_key);
  // After request().
  strata::Status pending();
  // After request() or pending(): the provider's answer, at once or through its webhook.
  strata::Status capture(std::string reference);
  strata::Status decline(std::string reason);
  // After capture().
  strata::Status refund(std::string reference);

  PaymentState state() const noexcept { return state_; }
  const std::string& contract() const noexcept { return contract_; }
  const std::string& studio() const noexcept { return studio_; }
  std::int64_t cents() const noexcept { return cents_; }
  const std::string& charge_key() const noexcept { return charge_key_; }
  const std::string& reference() const noexcept { return reference_; }

 private:
  friend Aggregate;
  strata::Status expect(std::initializer_list<PaymentState> states, std::string_view command) const;

  void apply(const Requested& e);
  void apply(const Pending&) { state_ = PaymentState::kPending; }
  void apply(const Captured& e);
  void apply(const Declined&) { state_ = PaymentState::kDeclined; }
  void apply(const Refunded&) { state_ = PaymentState::kRefunded; }

  PaymentState state_ = PaymentState::kNew;
  std::string contract_;
  std::string studio_;
  std::int64_t cents_ = 0;
  std::string charge_key_;
  std::string reference_;
};

// The stream of the payment for `contract`.
strata::Result<strata::StreamId> payment_stream(std::string_view contract);

// ---- the read side: the ledger ----

// One payment, keyed by its stream id.
struct LedgerEntry {
  std::string contract;
  std::string studio;
  std::string state;  // payment_state_name()
  std::int64_t requested = 0;
  std::int64_t captured = 0;
  std::int64_t refunded = 0;
  std::vector<std::string> references;  // of the capture and the refund
  std::string declined;                 // the reason
  static constexpr auto kFields = strata::fields(
      strata::field("contract", &LedgerEntry::contract), strata::field("studio", &LedgerEntry::studio),
      strata::field("state", &LedgerEntry::state), strata::field("requested", &LedgerEntry::requested),
      strata::field("captured", &LedgerEntry::captured), strata::field("refunded", &LedgerEntry::refunded),
      strata::field("references", &LedgerEntry::references), strata::field("declined", &LedgerEntry::declined));
  bool operator==(const LedgerEntry&) const = default;

  // What the deal leaves with us.
  std::int64_t kept() const noexcept { return captured - refunded; }
};

class Ledger : public strata::Projection<Ledger, strata::Events<Requested, Pending, Captured, Declined, Refunded>> {
 public:
  static constexpr std::string_view kName = "payments.ledger";
  static constexpr strata::ReadModel<LedgerEntry> kPayments{"payments"};

  strata::Status handle(const Requested& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Pending& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Captured& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Declined& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Refunded& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
};

// Every payment in the ledger, in order of their stream ids.
strata::Result<std::vector<std::pair<std::string, LedgerEntry>>> ledger_entries(const strata::ReadModelSource& ledger);

// ---- the service ----

class Service {
 public:
  // REQUIRES: `provider` has no answer callback yet; the service sets it.
  Service(const ServiceContext& context, std::unique_ptr<strata::Gateway> provider);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Starts the relay, the inbox and the ledger's projector; stop() stops them. Then asks the provider
  // again about every payment still pending, on a thread of its own: the answers the provider was to
  // send to a process that stopped are lost with it (the provider double lives in this process), and a
  // real provider's webhook can be lost too. The call repeats the charge's idempotency key, so nothing is
  // charged twice; its answer is recorded as the webhook's would be.
  [[nodiscard]] strata::Status start();
  [[nodiscard]] strata::Status stop();
  // Waits until the relay has published the whole log and the inbox has seen no message for `quiet`.
  [[nodiscard]] strata::Status wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  // The ledger once it has caught up with the store. kUnavailable after `timeout`.
  [[nodiscard]] strata::Result<strata::ReadModelReader> ledger(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // How many payments wait for the provider's answer (pending in the ledger, once it has caught up).
  [[nodiscard]] strata::Result<std::size_t> pending_payments(
      std::chrono::milliseconds timeout = std::chrono::seconds(1));

  // Answers from the provider's webhook for a payment decided before (a confirmation sent twice): ignored.
  std::uint64_t repeated_answers() const noexcept { return repeated_answers_.load(); }

 private:
  // A charge whose answer may come through the webhook.
  struct Call {
    strata::StreamId payment;
    std::string correlation_id;
  };

  strata::Status charge(const ChargeRequested& m, strata::InboxContext& ctx);
  strata::Status refund(const RefundRequested& m, strata::InboxContext& ctx);
  void answered(const strata::GatewayAnswer& answer);
  strata::Status record_answer(const Call& call, const strata::GatewayAnswer& answer);
  // What start() asks the provider again, until it answers or stop() is called.
  void reconcile(const std::stop_token& stop);
  strata::Status reconcile_one(const strata::StreamId& stream, const std::stop_token& stop);

  ServiceContext context_;
  strata::Repository<Payment> payments_;
  std::mutex mu_;
  // The charges this process made, by key: where their webhook answers go. Guarded by mu_.
  std::map<std::string, Call> calls_;
  std::atomic<std::uint64_t> repeated_answers_{0};
  // Declared after what its webhook uses, and before the inbox that calls it: destroyed in between.
  std::unique_ptr<strata::Gateway> provider_;
  strata::Relay relay_;
  strata::Inbox inbox_;
  strata::Projector projector_;
  std::jthread reconciler_;
};

}  // namespace streaming::payments
