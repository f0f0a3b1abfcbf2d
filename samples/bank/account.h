// The bank sample's Account aggregate: open, deposit, withdraw with an insufficient-funds rejection.
//
//   strata::Repository<bank::Account> accounts(store);
//   bank::Account acct = accounts.create(id);
//   acct.open("Alice");
//   acct.deposit(10'000);
//   accounts.save(acct);
//
// Thread safety: an Account is a value owned by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/status.h"

namespace bank {

struct Opened {
  static constexpr std::string_view kType = "bank.opened.v1";
  std::string owner;
  static constexpr auto kFields = strata::fields(strata::field("owner", &Opened::owner));
  bool operator==(const Opened&) const = default;
};

struct Deposited {
  static constexpr std::string_view kType = "bank.deposited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &Deposited::cents));
  bool operator==(const Deposited&) const = default;
};

struct Withdrawn {
  static constexpr std::string_view kType = "bank.withdrawn.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &Withdrawn::cents));
  bool operator==(const Withdrawn&) const = default;
};

class Account : public strata::Aggregate<Account, strata::Events<Opened, Deposited, Withdrawn>> {
 public:
  // Commands: validate, then record. kRejected for a business rule, never a state change.
  strata::Status open(std::string owner) {
    if (opened_) return strata::Status::rejected("account is already open");
    if (owner.empty()) return strata::Status::rejected("an account needs an owner");
    record(Opened{std::move(owner)});
    return {};
  }
  strata::Status deposit(std::int64_t cents) {
    if (!opened_) return strata::Status::rejected("account is not open");
    if (cents <= 0) return strata::Status::rejected("a deposit must be positive, got " + std::to_string(cents));
    record(Deposited{cents});
    return {};
  }
  strata::Status withdraw(std::int64_t cents) {
    if (!opened_) return strata::Status::rejected("account is not open");
    if (cents <= 0) return strata::Status::rejected("a withdrawal must be positive, got " + std::to_string(cents));
    if (cents > balance_)
      return strata::Status::rejected("insufficient funds: balance " + std::to_string(balance_) + ", requested " +
                                      std::to_string(cents));
    record(Withdrawn{cents});
    return {};
  }

  const std::string& owner() const noexcept { return owner_; }
  std::int64_t balance() const noexcept { return balance_; }
  bool is_open() const noexcept { return opened_; }

 private:
  friend Aggregate;
  // Folds: no rules, no I/O; replaying history never fails.
  void apply(const Opened& e) {
    opened_ = true;
    owner_ = e.owner;
  }
  void apply(const Deposited& e) { balance_ += e.cents; }
  void apply(const Withdrawn& e) { balance_ -= e.cents; }

  bool opened_ = false;
  std::string owner_;
  std::int64_t balance_ = 0;

 public:
  // The state's field table: it makes Account snapshottable.
  static constexpr std::uint32_t kSnapshotVersion = 1;
  static constexpr auto kFields =
      strata::fields(strata::field("opened", &Account::opened_), strata::field("owner", &Account::owner_),
                     strata::field("balance", &Account::balance_));
};

}  // namespace bank
