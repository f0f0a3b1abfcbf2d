// The metrics of a RocksEventStore, a Projector and a Repository, sharing one registry: what each counts,
// in a text a strict parser of the Prometheus format accepts.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "ledger.h"
#include "prometheus_text.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projector.h"

namespace {

using namespace strata;
namespace fs = std::filesystem;

// A ledger as an aggregate, to load through a Repository.
class Book : public Aggregate<Book, Events<ledger::Opened, ledger::Credited, ledger::Debited, ledger::Noted>> {
 public:
  std::int64_t balance = 0;
  static constexpr auto kFields = fields(field("balance", &Book::balance));
  void apply(const ledger::Opened&) {}
  void apply(const ledger::Credited& e) { balance += e.amount; }
  void apply(const ledger::Debited& e) { balance -= e.amount; }
  void apply(const ledger::Noted&) {}
};

TEST_CASE("a store, a projector and a repository count their work in one registry") {
  std::string dir = (fs::temp_directory_path() / "strata-metrics-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  auto metrics = std::make_shared<MetricsRegistry>();
  {
    RocksEventStore::Options options;
    options.sync = false;
    options.metrics = metrics;
    options.rocksdb_statistics = true;
    auto store = RocksEventStore::open(options, dir).value();
    ledger::append_history(*store, 30, 3);
    // A version conflict is counted by its code, and acknowledges nothing.
    CHECK(store->append(ledger::sid("ledger-0"), ExpectedVersion::no_stream(), {to_event_data(ledger::Opened{"x"})})
              .status()
              .code() == StatusCode::kWrongExpectedVersion);

    ProjectorOptions projector_options;
    projector_options.metrics = metrics;
    Projector projector(*store, store->projection_storage(), ledger::Ledger(), projector_options);
    REQUIRE(projector.start().ok());
    REQUIRE(projector.wait_for(store->head_position(), std::chrono::seconds(20)).ok());

    RepositoryOptions repository_options;
    repository_options.metrics = metrics;
    repository_options.metrics_name = "book";
    Repository<Book> books(*store, repository_options);
    REQUIRE(books.load(ledger::sid("ledger-1")).ok());
    REQUIRE(books.load(ledger::sid("ledger-2")).ok());

    const std::string text = metrics->prometheus_text();
    const auto e = testing::parse_prometheus(text);
    REQUIRE_MESSAGE(e.error.empty(), e.error, "\n", text);
    const std::vector<std::pair<std::string, std::string>> s{{"store", dir}};
    CHECK(e.value("strata_store_appends_total", s) == 30);
    CHECK(e.value("strata_store_appended_events_total", s) == 30);
    CHECK(e.value("strata_store_appended_bytes_total", s).value() > 300);
    CHECK(e.value("strata_store_commit_seconds_count", s) == 30);
    CHECK(e.value("strata_store_commit_groups_total", s).value() >= 1);
    CHECK(e.value("strata_store_commit_group_appends_total", s) == 30);  // the conflict wrote nothing
    CHECK(e.value("strata_store_write_seconds_count", s).value() >= 1);
    CHECK(e.value("strata_store_append_errors_total", {{"store", dir}, {"code", "wrong expected version"}}) == 1);
    CHECK(e.value("strata_store_head_position", s) == 30);
    CHECK(e.value("strata_store_failed", s) == 0);
    CHECK(e.value("strata_store_write_stalled", s) == 0);
    CHECK(e.value("strata_store_block_cache_hits_total", s).has_value());
    CHECK(e.value("strata_store_pending_compaction_bytes", s).has_value());
    const std::vector<std::pair<std::string, std::string>> p{{"projection", "test.ledger"}};
    CHECK(e.value("strata_projector_position", p) == 30);
    CHECK(e.value("strata_projector_lag_events", p) == 0);
    CHECK(e.value("strata_projector_applied_total", p).value() > 0);
    CHECK(e.value("strata_projector_state", {{"projection", "test.ledger"}, {"state", "live"}}) == 1);
    CHECK(e.value("strata_projector_state", {{"projection", "test.ledger"}, {"state", "failed"}}) == 0);
    CHECK(e.value("strata_repository_load_seconds_count", {{"aggregate", "book"}}) == 2);
    CHECK(e.value("strata_repository_replayed_events_total", {{"aggregate", "book"}}) == 20);
  }
  // Closed store, stopped projector: their scrape-time values are gone, the counters stay.
  const auto e = testing::parse_prometheus(metrics->prometheus_text());
  CHECK(e.error.empty());
  CHECK_FALSE(e.value("strata_store_head_position", {{"store", dir}}).has_value());
  CHECK_FALSE(e.value("strata_projector_position", {{"projection", "test.ledger"}}).has_value());
  CHECK(e.value("strata_store_appends_total", {{"store", dir}}) == 30);
  fs::remove_all(dir);
}

}  // namespace
