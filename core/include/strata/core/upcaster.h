// Event evolution: upcasters turn stored records of an older event type into the current one at read
// time, so a store written by last year's code loads in this year's.
//
// Each version of an event is its own struct with its own persisted kType. An upcaster names its source
// type and returns the next version; chains (v1 -> v2 -> v3) follow by themselves. A one-to-many upcaster
// (splitting an event) takes an `emit` callable instead of returning; emitting nothing drops the record.
// Retired<"name"> drops every record of a type no code handles any more.
//
//   struct DepositedV1 { static constexpr std::string_view kType = "bank.deposited.v1"; std::int64_t cents; ... };
//   struct Deposited   { static constexpr std::string_view kType = "bank.deposited.v2"; std::int64_t cents;
//                        std::string currency; ... };
//   struct DepositedV1ToV2 {
//     using From = DepositedV1;
//     static Deposited upcast(const DepositedV1& e) { return {e.cents, "USD"}; }
//   };
//   struct SplitOpenedWithDeposit {
//     using From = OpenedWithDepositV1;
//     template <class Emit> static void upcast(const OpenedWithDepositV1& e, Emit& emit) {
//       emit(Opened{e.owner});
//       emit(Deposited{e.cents, "USD"});
//     }
//   };
//   class Account : public strata::Aggregate<Account, strata::Events<Opened, Deposited>,
//                                            strata::Upcasters<DepositedV1ToV2, SplitOpenedWithDeposit,
//                                                              strata::Retired<"bank.interest.v1">>> { ... };
//
// Mistakes are compile errors with a sentence: an upcaster whose source is not a declared event type,
// one whose result is neither a listed event nor the source of another upcaster, two types with the same
// kType among the events and the upcasters' sources.
//
// Thread safety: all of this is types and pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "strata/core/codec.h"

namespace strata {

// The upcasters of an aggregate (or any typed reader of the log), in any order.
template <class... Us>
struct Upcasters {};

// A string usable as a template argument: Retired<"bank.interest.v1">.
template <std::size_t N>
struct FixedString {
  char chars[N]{};
  constexpr FixedString(const char (&s)[N]) noexcept {
    std::copy_n(s, N, chars);
  }  // NOLINT(google-explicit-constructor)
  constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
};

// Records of this type are skipped by whoever lists it: the type is retired.
template <FixedString Name>
struct Retired {
  static constexpr std::string_view kRetiredType = Name.view();
};

}  // namespace strata
