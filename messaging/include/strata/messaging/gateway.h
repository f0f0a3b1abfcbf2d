// Gateway: a call to a third party (a payment provider, a shipping API) from a saga or a command handler,
// behind one small interface. The third party is outside every transaction of ours, so the contract is
// the one real providers offer (Stripe-style idempotency): each request carries an idempotency key that is
// passed on to the provider, which performs the operation at most once per key and answers a repeated
// call with the first answer. A call whose outcome is unknown (kUnavailable) is therefore resolved by
// calling again with the same key, never by guessing.
//
// An answer is synchronous (accepted, declined) or comes later (kPending, then a GatewayAnswer through
// the callback — a provider's webhook), and an asynchronous answer may come late, after the caller gave
// up waiting, or more than once: whoever handles answers must be idempotent by the key.
//
//   gateway.on_answer([&](const strata::GatewayAnswer& a) { saga_runner.deliver(a); });
//   strata::GatewayRequest request{.operation = "charge", .idempotency_key = "contract-42/charge",
//                                  .payload = R"({"cents":1500})", .correlation_id = "contract-42"};
//   strata::Result<strata::GatewayResponse> response = gateway.call(request);
//   if (!response.ok()) return response.status();     // kUnavailable: call again later, same key
//   if (response->outcome == strata::GatewayOutcome::kDeclined) return strata::Status::rejected(response->reason);
//
// Thread safety: implementations allow call() from any number of threads at once. on_answer() is meant
// to be called once, before the first call. Callbacks run on a thread of the gateway, one at a time; they
// may call the gateway again but must not destroy it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "strata/core/status.h"

namespace strata {

// One call to a third party.
struct GatewayRequest {
  // What to do, in the provider's terms: "charge", "refund". Non-empty.
  std::string operation;
  // The provider performs (operation, idempotency_key) at most once. Non-empty; derive it from what the
  // call is for (the saga and its step), so that a retry after a crash sends the same key.
  std::string idempotency_key;
  // The operation's arguments (JSON text, opaque to the gateway). A retry must send the same payload.
  std::string payload;
  // How long to wait for the provider's answer before failing with kUnavailable.
  std::chrono::milliseconds timeout{5'000};
  // Carried for tracing and handed back with an asynchronous answer.
  std::string correlation_id;
};

// What the provider answered. Never renumber: tests and logs print the numbers.
enum class GatewayOutcome : std::uint8_t {
  // The operation was performed.
  kAccepted = 0,
  // The provider refused it (card declined); GatewayResponse::reason says why. A business answer, not an
  // error: calling again with the same key returns the same decline.
  kDeclined = 1,
  // Taken for processing; the answer comes later, asynchronously, through the on_answer callback.
  kPending = 2,
};

// "accepted", "declined", "pending".
std::string_view gateway_outcome_name(GatewayOutcome outcome) noexcept;

// The synchronous answer to a call.
struct GatewayResponse {
  GatewayOutcome outcome = GatewayOutcome::kAccepted;
  // The provider's id of the performed operation (a charge id), for refunds and reconciliation.
  std::string reference;
  // Why it was declined; empty otherwise.
  std::string reason;
  // The provider's answer body (JSON text, opaque to the gateway); may be empty.
  std::string payload;
};

// An answer that comes asynchronously (a provider's webhook): possibly late, possibly more than once.
struct GatewayAnswer {
  // The request's operation and key: together they name the call the answer belongs to.
  std::string operation;
  std::string idempotency_key;
  // kAccepted or kDeclined.
  GatewayOutcome outcome = GatewayOutcome::kAccepted;
  std::string reference;
  std::string reason;
  // The request's correlation id.
  std::string correlation_id;
};

using GatewayCallback = std::function<void(const GatewayAnswer&)>;

class Gateway {
 public:
  virtual ~Gateway();
  Gateway() = default;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Performs `request` at the provider, or returns the provider's first answer when the key was used
  // before. An answer — accepted, declined or pending — is OK; a declined operation is not an error.
  // Fails with:
  //   kInvalidArgument — request.operation or request.idempotency_key is empty. Nothing was sent.
  //   kUnavailable — the provider cannot be reached, does not answer within request.timeout, or the
  //     connection breaks mid-call. The operation may or may not have been performed: call again with
  //     the same key (and payload) to find out; that is retry-safe by the key.
  [[nodiscard]] virtual Result<GatewayResponse> call(const GatewayRequest& request) = 0;

  // Where asynchronous answers go. REQUIRES: called before the first call(); `callback` is quick, does not
  // throw, and is idempotent by (operation, idempotency_key), since an answer may come more than once.
  virtual void on_answer(GatewayCallback callback) = 0;
};

}  // namespace strata
