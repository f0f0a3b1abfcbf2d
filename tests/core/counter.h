// A small aggregate for the core tests: a named counter that can be opened, added to and closed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/core/aggregate.h"

namespace counter {

struct Opened {
  static constexpr std::string_view kType = "test.counter.opened.v1";
  std::string name;
  static constexpr auto kFields = strata::fields(strata::field("name", &Opened::name));
  bool operator==(const Opened&) const = default;
};

struct Added {
  static constexpr std::string_view kType = "test.counter.added.v1";
  std::int64_t amount = 0;
  std::optional<std::string> note;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Added::amount), strata::field("note", &Added::note));
  bool operator==(const Added&) const = default;
};

struct Closed {
  static constexpr std::string_view kType = "test.counter.closed.v1";
  static constexpr auto kFields = strata::fields();
  bool operator==(const Closed&) const = default;
};

class Counter : public strata::Aggregate<Counter, strata::Events<Opened, Added, Closed>> {
 public:
  strata::Status open(std::string name) {
    if (opened_) return strata::Status::rejected("counter \"" + name_ + "\" is already open");
    record(Opened{std::move(name)});
    return {};
  }
  strata::Status add(std::int64_t amount, std::optional<std::string> note = std::nullopt) {
    if (amount <= 0) return strata::Status::invalid_argument("amount must be positive");
    if (!opened_ || closed_) return strata::Status::rejected("counter is not open");
    record(Added{amount, std::move(note)});
    return {};
  }
  strata::Status close() {
    if (closed_) return strata::Status::rejected("counter is already closed");
    record(Closed{});
    return {};
  }

  const std::string& name() const { return name_; }
  std::int64_t total() const { return total_; }
  bool is_closed() const { return closed_; }
  // The note of the last Added event, "-" when it had none.
  const std::string& last_note() const { return last_note_; }
  int folds() const { return folds_; }

 private:
  friend Aggregate;
  void apply(const Opened& e) {
    opened_ = true;
    name_ = e.name;
    ++folds_;
  }
  void apply(const Added& e) {
    total_ += e.amount;
    last_note_ = e.note.value_or("-");
    ++folds_;
  }
  void apply(const Closed&) {
    closed_ = true;
    ++folds_;
  }

  bool opened_ = false;
  bool closed_ = false;
  std::string name_;
  std::int64_t total_ = 0;
  std::string last_note_ = "-";
  int folds_ = 0;
};

}  // namespace counter
