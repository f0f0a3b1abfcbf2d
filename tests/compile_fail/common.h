// Shared by the compile-fail cases: a well-formed event list to break in one place each.
#pragma once
#include <strata/core/aggregate.h>
#include <strata/core/memory_event_store.h>
#include <strata/core/repository.h>
#include <strata/core/testing/scenario.h>

struct Started {
  static constexpr std::string_view kType = "cf.started.v1";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Started::n));
  bool operator==(const Started&) const = default;
};
struct Stopped {
  static constexpr std::string_view kType = "cf.stopped.v1";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Stopped::n));
  bool operator==(const Stopped&) const = default;
};
struct Unlisted {
  static constexpr std::string_view kType = "cf.unlisted.v1";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Unlisted::n));
};
