// The streaming showcase's integration messages: the only types two of its services share.
//
// Three services, each with its own store, talk through a broker and nothing else: contracts (the
// Contract aggregate and the Activation saga that coordinates a deal), payments (the Payment aggregate,
// in front of a payment provider) and catalog (the Title aggregate and what each region can see).
// Each service's domain events stay private to it — their types are named after their stream's category
// ("contract.signed.v1", "title.shown.v1") — and the messages below cross between services, named after
// the service that publishes them ("contracts.license_title.v1"). A Relay publishes them from the
// sender's log and an Inbox takes them into the receiver's store, once each.
//
//   contracts -> catalog:   LicenseTitle, ShowTitle, HideTitle        (the saga's steps and compensations)
//   contracts -> payments:  ChargeRequested, RefundRequested
//   catalog -> contracts:   TitleLicensed, TitleShown                 (answers, to the saga)
//   payments -> contracts:  PaymentCaptured, PaymentDeclined, PaymentRefunded
//
// `contract` is the contract's key ("trilogy", the stream contract-trilogy) and `title` a title's
// stream id ("title-long-night-1"). Persisted in brokers and in the saga's records: never rename a type
// or a field; a change of meaning is a new ".v2" type.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/codec.h"

namespace streaming {

// ---- contracts -> catalog ----

// License `title` for `contract` in `regions`: it is reserved for the deal, not visible yet.
struct LicenseTitle {
  static constexpr std::string_view kType = "contracts.license_title.v1";
  std::string contract;
  std::string title;
  std::vector<std::string> regions;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &LicenseTitle::contract), strata::field("title", &LicenseTitle::title),
                     strata::field("regions", &LicenseTitle::regions));
  bool operator==(const LicenseTitle&) const = default;
};

// The deal is paid: show `title` in the regions `contract` licensed it for.
struct ShowTitle {
  static constexpr std::string_view kType = "contracts.show_title.v1";
  std::string contract;
  std::string title;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &ShowTitle::contract), strata::field("title", &ShowTitle::title));
  bool operator==(const ShowTitle&) const = default;
};

// The deal is off: end `contract`'s licence of `title`; it is visible nowhere under that contract.
struct HideTitle {
  static constexpr std::string_view kType = "contracts.hide_title.v1";
  std::string contract;
  std::string title;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &HideTitle::contract), strata::field("title", &HideTitle::title));
  bool operator==(const HideTitle&) const = default;
};

// ---- contracts -> payments ----

// Charge `studio` `cents` for `contract`. The message's idempotency key (strata::saga_idempotency_key)
// is the one the provider is called with.
struct ChargeRequested {
  static constexpr std::string_view kType = "contracts.charge_requested.v1";
  std::string contract;
  std::string studio;
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("contract", &ChargeRequested::contract),
                                                 strata::field("studio", &ChargeRequested::studio),
                                                 strata::field("cents", &ChargeRequested::cents));
  bool operator==(const ChargeRequested&) const = default;
};

// Give back what was captured for `contract`.
struct RefundRequested {
  static constexpr std::string_view kType = "contracts.refund_requested.v1";
  std::string contract;
  static constexpr auto kFields = strata::fields(strata::field("contract", &RefundRequested::contract));
  bool operator==(const RefundRequested&) const = default;
};

// ---- catalog -> contracts ----

struct TitleLicensed {
  static constexpr std::string_view kType = "catalog.title_licensed.v1";
  std::string contract;
  std::string title;
  static constexpr auto kFields = strata::fields(strata::field("contract", &TitleLicensed::contract),
                                                 strata::field("title", &TitleLicensed::title));
  bool operator==(const TitleLicensed&) const = default;
};

struct TitleShown {
  static constexpr std::string_view kType = "catalog.title_shown.v1";
  std::string contract;
  std::string title;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &TitleShown::contract), strata::field("title", &TitleShown::title));
  bool operator==(const TitleShown&) const = default;
};

// ---- payments -> contracts ----

struct PaymentCaptured {
  static constexpr std::string_view kType = "payments.payment_captured.v1";
  std::string contract;
  std::int64_t cents = 0;
  std::string reference;  // the provider's
  static constexpr auto kFields = strata::fields(strata::field("contract", &PaymentCaptured::contract),
                                                 strata::field("cents", &PaymentCaptured::cents),
                                                 strata::field("reference", &PaymentCaptured::reference));
  bool operator==(const PaymentCaptured&) const = default;
};

struct PaymentDeclined {
  static constexpr std::string_view kType = "payments.payment_declined.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields = strata::fields(strata::field("contract", &PaymentDeclined::contract),
                                                 strata::field("reason", &PaymentDeclined::reason));
  bool operator==(const PaymentDeclined&) const = default;
};

struct PaymentRefunded {
  static constexpr std::string_view kType = "payments.payment_refunded.v1";
  std::string contract;
  std::int64_t cents = 0;
  std::string reference;
  static constexpr auto kFields = strata::fields(strata::field("contract", &PaymentRefunded::contract),
                                                 strata::field("cents", &PaymentRefunded::cents),
                                                 strata::field("reference", &PaymentRefunded::reference));
  bool operator==(const PaymentRefunded&) const = default;
};

}  // namespace streaming
