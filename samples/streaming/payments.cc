#include "streaming/payments.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <thread>
#include <utility>

#include "strata/messaging/saga_runner.h"

namespace streaming::payments {

namespace {

// How long a call to the provider may take before it counts as unanswered (kUnavailable: the inbox
// calls again with the same key, and the provider answers as it did the first time).
constexpr std::chrono::milliseconds kCallTimeout{2'000};

}  // namespace

std::string_view payment_state_name(PaymentState state) noexcept {
  switch (state) {
    case PaymentState::kNew:
      return "new";
    case PaymentState::kRequested:
      return "requested";
    case PaymentState::kPending:
      return "pending";
    case PaymentState::kCaptured:
      return "captured";
    case PaymentState::kDeclined:
      return "declined";
    case PaymentState::kRefunded:
      return "refunded";
  }
  return "unknown";
}

// ---- Payment ----

strata::Status Payment::request(std::string contract, std::string studio, std::int64_t cents, std::string charge_key) {
  STRATA_RETURN_IF_ERROR(expect({PaymentState::kNew}, "request"));
  if (cents <= 0) return strata::Status::rejected("a payment must be positive, got " + std::to_string(cents));
  record(Requested{std::move(contract), std::move(studio), cents, std::move(charge_key)});
  return {};
}

strata::Status Payment::pending() {
  STRATA_RETURN_IF_ERROR(expect({PaymentState::kRequested}, "mark pending"));
  record(Pending{});
  return {};
}

strata::Status Payment::capture(std::string reference) {
  STRATA_RETURN_IF_ERROR(expect({PaymentState::kRequested, PaymentState::kPending}, "capture"));
  record(Captured{contract_, cents_, std::move(reference)});
  return {};
}

strata::Status Payment::decline(std::string reason) {
  STRATA_RETURN_IF_ERROR(expect({PaymentState::kRequested, PaymentState::kPending}, "decline"));
  record(Declined{contract_, std::move(reason)});
  return {};
}

strata::Status Payment::refund(std::string reference) {
  STRATA_RETURN_IF_ERROR(expect({PaymentState::kCaptured}, "refund"));
  record(Refunded{contract_, cents_, std::move(reference)});
  return {};
}

strata::Status Payment::expect(std::initializer_list<PaymentState> states, std::string_view command) const {
  if (std::find(states.begin(), states.end(), state_) != states.end()) return {};
  return strata::Status::rejected("cannot " + std::string(command) + " payment-" + contract_ + ": it is " +
                                  std::string(payment_state_name(state_)));
}

void Payment::apply(const Requested& e) {
  state_ = PaymentState::kRequested;
  contract_ = e.contract;
  studio_ = e.studio;
  cents_ = e.cents;
  charge_key_ = e.charge_key;
}

void Payment::apply(const Captured& e) {
  state_ = PaymentState::kCaptured;
  reference_ = e.reference;
}

strata::Result<strata::StreamId> payment_stream(std::string_view contract) {
  return strata::StreamId::parse("payment-" + std::string(contract));
}

// ---- Ledger ----

namespace {

template <class Change>
strata::Status update(const strata::EventContext& ctx, strata::ReadModelTx& tx, Change&& change) {
  const std::string payment(ctx.stream_id());
  STRATA_ASSIGN_OR_RETURN(std::optional<LedgerEntry> entry, Ledger::kPayments.get(tx, payment));
  if (!entry) entry.emplace();
  change(*entry);
  return Ledger::kPayments.put(tx, payment, *entry);
}

}  // namespace

strata::Status Ledger::handle(const Requested& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](LedgerEntry& row) {
    row.contract = e.contract;
    row.studio = e.studio;
    row.requested = e.cents;
    row.state = payment_state_name(PaymentState::kRequested);
  });
}
strata::Status Ledger::handle(const Pending&, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [](LedgerEntry& row) { row.state = payment_state_name(PaymentState::kPending); });
}
strata::Status Ledger::handle(const Captured& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](LedgerEntry& row) {
    row.captured += e.cents;
    row.references.push_back(e.reference);
    row.state = payment_state_name(PaymentState::kCaptured);
  });
}
strata::Status Ledger::handle(const Declined& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](LedgerEntry& row) {
    row.declined = e.reason;
    row.state = payment_state_name(PaymentState::kDeclined);
  });
}
strata::Status Ledger::handle(const Refunded& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](LedgerEntry& row) {
    row.refunded += e.cents;
    row.references.push_back(e.reference);
    row.state = payment_state_name(PaymentState::kRefunded);
  });
}

strata::Result<std::vector<std::pair<std::string, LedgerEntry>>> ledger_entries(const strata::ReadModelSource& ledger) {
  return Ledger::kPayments.list(ledger);
}

// ---- Service ----

namespace {

strata::RelayOptions payments_relay(const ServiceContext& context) {
  strata::RelayOptions o = relay_options(context, "payments");
  o.selection.categories = {"payment"};
  // The outcomes the saga waits for; requests and pending calls stay in payments.
  o.mapping.publish<Captured>([](const Captured& e, const strata::EventView&) {
    return PaymentCaptured{e.contract, e.cents, e.reference};
  });
  o.mapping.publish<Declined>([](const Declined& e, const strata::EventView&) {
    return PaymentDeclined{e.contract, e.reason};
  });
  o.mapping.publish<Refunded>([](const Refunded& e, const strata::EventView&) {
    return PaymentRefunded{e.contract, e.cents, e.reference};
  });
  return o;
}

}  // namespace

Service::Service(const ServiceContext& context, std::unique_ptr<strata::Gateway> provider)
    : context_(context),
      payments_(context.store),
      provider_(std::move(provider)),
      relay_(context.store, context.storage, context.transport, payments_relay(context)),
      inbox_(context.store, context.storage, context.transport, inbox_options(context, "payments-inbox", "contracts")),
      projector_(context.store, context.storage, Ledger{}) {
  provider_->on_answer([this](const strata::GatewayAnswer& answer) { answered(answer); });
  inbox_.on<ChargeRequested>([this](const ChargeRequested& m, strata::InboxContext& ctx) { return charge(m, ctx); });
  inbox_.on<RefundRequested>([this](const RefundRequested& m, strata::InboxContext& ctx) { return refund(m, ctx); });
}

Service::~Service() { (void)stop(); }

strata::Status Service::start() {
  STRATA_RETURN_IF_ERROR(projector_.start());
  STRATA_RETURN_IF_ERROR(relay_.start());
  STRATA_RETURN_IF_ERROR(inbox_.start());
  if (!reconciler_.joinable()) reconciler_ = std::jthread([this](const std::stop_token& stop) { reconcile(stop); });
  return {};
}

strata::Status Service::stop() {
  if (reconciler_.joinable()) {
    reconciler_.request_stop();
    reconciler_.join();
  }
  strata::Status inbox = inbox_.stop();
  strata::Status relay = relay_.stop();
  strata::Status projector = projector_.stop();
  STRATA_RETURN_IF_ERROR(inbox);
  STRATA_RETURN_IF_ERROR(relay);
  return projector;
}

strata::Status Service::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(relay_.wait_for(context_.store.head_position(), timeout));
  return wait_quiet({&inbox_}, quiet, timeout);
}

strata::Result<strata::ReadModelReader> Service::ledger(std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(projector_.wait_for(context_.store.head_position(), timeout));
  return projector_.reader();
}

strata::Result<std::size_t> Service::pending_payments(std::chrono::milliseconds timeout) {
  STRATA_ASSIGN_OR_RETURN(strata::ReadModelReader reader, ledger(timeout));
  STRATA_ASSIGN_OR_RETURN(auto entries, ledger_entries(reader));
  return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(), [](const auto& e) {
    return e.second.state == payment_state_name(PaymentState::kPending);
  }));
}

// The charge is recorded as the message's effect, with the provider's answer when it gave one at once. A
// redelivered message finds its effect and does not get here, and a payment requested before is left as
// it is: one charge per payment.
strata::Status Service::charge(const ChargeRequested& m, strata::InboxContext& ctx) {
  const std::string key = strata::saga_idempotency_key(ctx.message());
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, payment_stream(m.contract));
  STRATA_ASSIGN_OR_RETURN(Payment payment, payments_.load_or_create(stream));
  if (payment.state() != PaymentState::kNew) return {};
  STRATA_RETURN_IF_ERROR(payment.request(m.contract, m.studio, m.cents, key));
  {
    // Before the call: its webhook may come before call() returns.
    std::lock_guard lock(mu_);
    calls_.insert_or_assign(key, Call{stream, ctx.metadata().correlation_id});
  }
  strata::GatewayRequest request;
  request.operation = "charge";
  request.idempotency_key = key;
  request.payload = strata::to_json(m);
  request.timeout = kCallTimeout;
  request.correlation_id = ctx.metadata().correlation_id;
  // kUnavailable: the inbox tries again later, with the same key.
  STRATA_ASSIGN_OR_RETURN(strata::GatewayResponse answer, provider_->call(request));
  switch (answer.outcome) {
    case strata::GatewayOutcome::kAccepted:
      STRATA_RETURN_IF_ERROR(payment.capture(answer.reference));
      break;
    case strata::GatewayOutcome::kDeclined:
      STRATA_RETURN_IF_ERROR(payment.decline(answer.reason));
      break;
    case strata::GatewayOutcome::kPending:
      STRATA_RETURN_IF_ERROR(payment.pending());
      break;
  }
  return ctx.save(payments_, payment).status();
}

// Refunds under the charge's own key: the provider refunds one charge at most once, whoever asks.
strata::Status Service::refund(const RefundRequested& m, strata::InboxContext& ctx) {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, payment_stream(m.contract));
  STRATA_ASSIGN_OR_RETURN(Payment payment, payments_.load_or_create(stream));
  if (payment.state() != PaymentState::kCaptured)
    return strata::Status::rejected("nothing to refund for contract " + m.contract + ": the payment is " +
                                    std::string(payment_state_name(payment.state())));
  strata::GatewayRequest request;
  request.operation = "refund";
  request.idempotency_key = payment.charge_key();
  request.payload = R"({"reference":")" + payment.reference() + R"("})";
  request.timeout = kCallTimeout;
  request.correlation_id = ctx.metadata().correlation_id;
  STRATA_ASSIGN_OR_RETURN(strata::GatewayResponse answer, provider_->call(request));
  if (answer.outcome == strata::GatewayOutcome::kPending)
    return strata::Status::unavailable("the refund of " + payment.charge_key() + " is pending at the provider");
  if (answer.outcome == strata::GatewayOutcome::kDeclined)
    return strata::Status::rejected("the provider refused to refund " + payment.charge_key() + ": " + answer.reason);
  STRATA_RETURN_IF_ERROR(payment.refund(answer.reference));
  return ctx.save(payments_, payment).status();
}

// The provider's webhook. Runs on the provider's thread; an answer that cannot be recorded is reported.
void Service::answered(const strata::GatewayAnswer& answer) {
  if (answer.operation != "charge") return;
  std::optional<Call> call;
  {
    std::lock_guard lock(mu_);
    if (auto it = calls_.find(answer.idempotency_key); it != calls_.end()) call = it->second;
  }
  strata::Status s = call ? record_answer(*call, answer)
                          : strata::Status::not_found("no charge was made with key " + answer.idempotency_key);
  if (!s.ok())
    std::fprintf(stderr, "payments: the provider's answer for %s is not recorded: %s\n", answer.idempotency_key.c_str(),
                 s.to_string().c_str());
}

void Service::reconcile(const std::stop_token& stop) {
  std::string after = "payment-";
  while (!stop.stop_requested()) {
    auto page = context_.store.list_streams(after, 100);
    if (!page.ok()) {
      std::fprintf(stderr, "payments: cannot list the pending payments: %s\n", page.status().to_string().c_str());
      return;
    }
    for (const strata::StreamInfo& info : page->streams) {
      if (!info.stream_id.starts_with("payment-")) return;
      auto stream = strata::StreamId::parse(info.stream_id);
      strata::Status s = stream.ok() ? reconcile_one(*stream, stop) : stream.status();
      if (!s.ok())
        std::fprintf(stderr, "payments: %s stays pending: %s\n", info.stream_id.c_str(), s.to_string().c_str());
    }
    if (page->next_after.empty()) return;
    after = page->next_after;
  }
}

strata::Status Service::reconcile_one(const strata::StreamId& stream, const std::stop_token& stop) {
  STRATA_ASSIGN_OR_RETURN(Payment payment, payments_.load(stream));
  if (payment.state() != PaymentState::kPending) return {};
  STRATA_ASSIGN_OR_RETURN(strata::StreamSlice first,
                          context_.store.read_stream(stream, strata::ReadDirection::kForward, 1, 1));
  const Call call{stream, first.events.empty() ? std::string() : first.events.front().metadata.correlation_id};
  {
    std::lock_guard lock(mu_);
    calls_.insert_or_assign(payment.charge_key(), call);
  }
  strata::GatewayRequest request;
  request.operation = "charge";
  request.idempotency_key = payment.charge_key();
  request.payload = strata::to_json(ChargeRequested{payment.contract(), payment.studio(), payment.cents()});
  request.timeout = kCallTimeout;
  request.correlation_id = call.correlation_id;
  auto backoff = context_.pace.first_backoff;
  for (;;) {
    auto answer = provider_->call(request);
    if (answer.ok()) {
      if (answer->outcome == strata::GatewayOutcome::kPending) return {};  // the webhook answers
      strata::GatewayAnswer a;
      a.operation = request.operation;
      a.idempotency_key = request.idempotency_key;
      a.outcome = answer->outcome;
      a.reference = answer->reference;
      a.reason = answer->reason;
      a.correlation_id = call.correlation_id;
      return record_answer(call, a);
    }
    if (answer.status().code() != strata::StatusCode::kUnavailable) return answer.status();
    std::mutex sleep_mu;
    std::unique_lock sleep_lock(sleep_mu);
    std::condition_variable_any().wait_for(sleep_lock, stop, backoff, [] { return false; });
    if (stop.stop_requested()) return answer.status();
    backoff = std::min(backoff * 2, context_.pace.max_backoff);
  }
}

strata::Status Service::record_answer(const Call& call, const strata::GatewayAnswer& answer) {
  // The answer may overtake the commit of the call it answers (the inbox saves that after call()
  // returns) or race another writer of the payment: look again for a while.
  strata::Status last;
  for (int attempt = 0; attempt < 200; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(Payment payment, payments_.load_or_create(call.payment));
    if (payment.state() == PaymentState::kPending) {
      // Caused by the record of the call it answers: the payment's newest event.
      STRATA_ASSIGN_OR_RETURN(
          strata::StreamSlice newest,
          context_.store.read_stream(call.payment, strata::ReadDirection::kBackward, strata::kEndOfStream, 1));
      strata::Metadata metadata;
      metadata.correlation_id = call.correlation_id;
      metadata.causation_id = newest.events.at(0).id.to_string();
      STRATA_RETURN_IF_ERROR(answer.outcome == strata::GatewayOutcome::kAccepted ? payment.capture(answer.reference)
                                                                                 : payment.decline(answer.reason));
      auto saved = payments_.save(payment, metadata);
      if (saved.ok()) return {};
      last = saved.status();
      if (last.code() != strata::StatusCode::kWrongExpectedVersion) return last;
    } else if (payment.state() != PaymentState::kNew) {
      ++repeated_answers_;  // decided before: a confirmation sent twice changes nothing
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return strata::Status::unavailable("payment " + call.payment.str() + " did not record its call in time" +
                                     (last.ok() ? "" : ": " + last.to_string()));
}

}  // namespace streaming::payments
