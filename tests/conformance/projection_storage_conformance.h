// The ProjectionStorage conformance suite, written once and run over every implementation.
//
// A storage's test file defines a fixture and runs the suite over it as a test case of its own:
//
//   struct MemoryStorageFixture {
//     static constexpr bool kDurable = false;                   // true: open() again keeps what was committed
//     std::unique_ptr<strata::ProjectionStorage> open();        // the same data on each call if durable
//   };
//   STRATA_PROJECTION_STORAGE_CONFORMANCE(MemoryStorageFixture)
//
// The suite is compiled once (projection_storage_conformance.cc) against the ProjectionStorageFixture
// interface. Each case makes a fresh fixture, so every case starts from an empty storage.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/projections/projection_storage.h"

namespace strata::conformance {

// A storage that belongs to a store, handed to the suite (which owns what open() returns) while the
// store stays with the fixture: every call goes to `s`. Tests that watch a storage's calls derive
// from it and override those.
class BorrowedStorage : public ProjectionStorage {
 public:
  explicit BorrowedStorage(ProjectionStorage& s) : s_(s) {}
  Result<std::optional<ProjectionState>> load_state(std::string_view p) override { return s_.load_state(p); }
  Status commit(const ProjectionWriteBatch& b) override { return s_.commit(b); }
  Result<std::optional<std::string>> get(std::string_view p, Generation g, std::string_view m,
                                         std::string_view k) override {
    return s_.get(p, g, m, k);
  }
  Status scan(std::string_view p, Generation g, std::string_view m, std::string_view prefix, const ScanOptions& o,
              RowVisitor v) override {
    return s_.scan(p, g, m, prefix, o, v);
  }
  Result<std::vector<ParkedEvent>> list_parked(std::string_view p, Generation g, Position after,
                                               std::size_t n) override {
    return s_.list_parked(p, g, after, n);
  }
  Result<std::optional<ParkedEvent>> get_parked(std::string_view p, Generation g, Position at) override {
    return s_.get_parked(p, g, at);
  }
  Result<std::vector<std::string>> list_projections() override { return s_.list_projections(); }
  Status drop_projection(std::string_view p) override { return s_.drop_projection(p); }

 private:
  ProjectionStorage& s_;
};

// "key=value" per row, in scan order: compact expectations for whole scans.
inline std::string render_rows(ProjectionStorage& storage, std::string_view projection, Generation generation,
                               std::string_view model, std::string_view prefix = {}, ScanOptions options = {}) {
  std::string out;
  Status s = storage.scan(projection, generation, model, prefix, options,
                          [&](std::string_view k, std::string_view v) -> Status {
                            out.append(k).append("=").append(v).append("\n");
                            return {};
                          });
  if (!s.ok()) return "error: " + s.to_string();
  return out;
}

inline std::string render_batch_rows(const ProjectionWriteBatch& batch, ProjectionStorage& storage,
                                     Generation generation, std::string_view model, std::string_view prefix = {},
                                     ScanOptions options = {}) {
  std::string out;
  Status s =
      batch.scan(storage, generation, model, prefix, options, [&](std::string_view k, std::string_view v) -> Status {
        out.append(k).append("=").append(v).append("\n");
        return {};
      });
  if (!s.ok()) return "error: " + s.to_string();
  return out;
}

inline ParkedEvent parked_event(Generation generation, Position position, std::string error = "boom") {
  ParkedEvent p;
  p.generation = generation;
  p.event.stream_id = "account-" + strata::to_string(position);
  p.event.version = 3;
  p.event.position = position;
  p.event.id = EventId::generate();
  p.event.type = "test.happened.v1";
  p.event.timestamp =
      Timestamp(std::chrono::microseconds(1'700'000'000'000'000 + static_cast<std::int64_t>(position.value())));
  p.event.metadata.correlation_id = "req-7";
  p.event.metadata.headers = {{"tenant", "acme"}};
  p.event.payload = R"({"n":)" + strata::to_string(position) + "}";
  p.error = Status::invalid_argument(std::move(error));
  p.attempts = 5;
  p.parked_at = Timestamp(std::chrono::microseconds(1'800'000'000'000'000));
  return p;
}

// "k0042": keys that sort like their numbers.
inline std::string fmt_key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%04d", i);
  return buf;
}

inline ProjectionState state_at(Position checkpoint, Generation generation = 1) {
  ProjectionState s;
  s.generation = generation;
  s.checkpoint = checkpoint;
  return s;
}

// What the suite asks of a storage's fixture.
class ProjectionStorageFixture {
 public:
  virtual ~ProjectionStorageFixture() = default;
  // Whether open() again keeps what was committed: the reopen case runs only then.
  virtual bool durable() const = 0;
  // A storage; the same data on each call if durable.
  virtual std::unique_ptr<ProjectionStorage> open() = 0;
};

// A storage's fixture type as a ProjectionStorageFixture.
template <class Fixture>
class ProjectionStorageFixtureOf final : public ProjectionStorageFixture {
 public:
  bool durable() const override { return Fixture::kDurable; }
  std::unique_ptr<ProjectionStorage> open() override { return fixture_.open(); }

 private:
  Fixture fixture_;
};

// The suite's cases, as subcases of the calling test case (see STRATA_PROJECTION_STORAGE_CONFORMANCE).
void projection_storage_conformance(ProjectionStorageFixture& fixture);

}  // namespace strata::conformance

// A test case "projection storage conformance<Fixture>" that runs the suite over a fresh Fixture.
#define STRATA_PROJECTION_STORAGE_CONFORMANCE(Fixture)                              \
  TEST_CASE("projection storage conformance<" #Fixture ">") {                       \
    ::strata::conformance::ProjectionStorageFixtureOf<Fixture> conformance_fixture; \
    ::strata::conformance::projection_storage_conformance(conformance_fixture);     \
  }
