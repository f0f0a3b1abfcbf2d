// The personal-data (crypto-shredding) conformance suite, over every backend that keeps subject keys,
// with the fixtures of store_conformance.h:
//
//   STRATA_STORE_CONFORMANCE(personal_data_conformance, "personal data conformance", MemoryFixture)
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "conformance/store_conformance.h"
#include "strata/core/aggregate.h"
#include "strata/core/event_store.h"
#include "strata/core/personal_data.h"
#include "strata/core/repository.h"

namespace strata::conformance::personal {

struct Registered {
  static constexpr std::string_view kType = "test.customer.registered.v1";
  std::string customer;
  std::string email;
  std::int64_t age = 0;
  std::string plan;
  static constexpr auto kFields = strata::fields(
      strata::field("customer", &Registered::customer),
      strata::field("email", &Registered::email).personal(&Registered::customer),
      strata::field("age", &Registered::age).personal(&Registered::customer), strata::field("plan", &Registered::plan));
};

struct Moved {
  static constexpr std::string_view kType = "test.customer.moved.v1";
  std::string customer;
  std::optional<std::string> address;
  static constexpr auto kFields = strata::fields(strata::field("customer", &Moved::customer),
                                                 strata::field("address", &Moved::address).personal(&Moved::customer));
};

class Customer : public strata::Aggregate<Customer, strata::Events<Registered, Moved>> {
 public:
  void register_as(std::string customer, std::string email, std::int64_t age) {
    record(Registered{std::move(customer), std::move(email), age, "gold"});
  }
  void move(std::string address) { record(Moved{customer_, std::move(address)}); }
  const std::string& email() const { return email_; }
  std::int64_t age() const { return age_; }
  const std::string& address() const { return address_; }
  const std::string& plan() const { return plan_; }

 private:
  friend Aggregate;
  void apply(const Registered& e) {
    customer_ = e.customer;
    email_ = e.email;
    age_ = e.age;
    plan_ = e.plan;
  }
  void apply(const Moved& e) { address_ = e.address.value_or(""); }
  std::string customer_, email_, address_, plan_;
  std::int64_t age_ = 0;

 public:
  // Snapshots hold the state's personal fields sealed, as events do.
  static constexpr auto kFields =
      strata::fields(strata::field("customer", &Customer::customer_),
                     strata::field("email", &Customer::email_).personal(&Customer::customer_),
                     strata::field("age", &Customer::age_).personal(&Customer::customer_),
                     strata::field("address", &Customer::address_).personal(&Customer::customer_),
                     strata::field("plan", &Customer::plan_));
};

inline std::string payloads(EventStore& store, const StreamId& id) {
  std::string all;
  const StreamSlice slice = store.read_stream(id, ReadDirection::kForward, 0, 100).value();
  for (const auto& e : slice.events) all += e.payload + "\n";
  return all;
}

}  // namespace strata::conformance::personal

namespace strata::conformance {

// The suite's cases, as subcases of the calling test case (see STRATA_STORE_CONFORMANCE).
void personal_data_conformance(StoreFixture& fixture);

}  // namespace strata::conformance
