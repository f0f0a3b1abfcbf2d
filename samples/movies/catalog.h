// The movies sample: a small catalogue where movie events decide which titles users can see.
//
// A Movie is an event-sourced aggregate: it is added (title, year), licensed under contracts that each
// cover some regions, made visible by an editor, and may be withdrawn. The VisibleMovies projection keeps
// two read models: "catalog", every movie with its status, and "visible", one row per region and movie
// that users in that region may watch — a movie is visible where it is licensed, once it has been made
// visible, until it is withdrawn. A user's screen is one prefix scan of "visible" by region.
//
//   strata::Projector projector(store, storage, movies::VisibleMovies{});
//   STRATA_RETURN_IF_ERROR(projector.start());
//   ...
//   STRATA_ASSIGN_OR_RETURN(auto titles, movies::titles_visible_in(projector.reader(), "DE"));
//
// show_catalog() records the sample catalogue (once: running it again changes nothing) and renders what
// each region sees.
//
// Thread safety: a Movie is a value owned by one thread at a time; see projector.h for the projection.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event_store.h"
#include "strata/core/repository.h"
#include "strata/core/status.h"
#include "strata/projections/projection.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/projector.h"
#include "strata/projections/read_model.h"

namespace movies {

struct Added {
  static constexpr std::string_view kType = "movies.added.v1";
  std::string title;
  std::int32_t year = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("title", &Added::title), strata::field("year", &Added::year));
  bool operator==(const Added&) const = default;
};

struct Licensed {
  static constexpr std::string_view kType = "movies.licensed.v1";
  std::string contract;
  std::vector<std::string> regions;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Licensed::contract), strata::field("regions", &Licensed::regions));
  bool operator==(const Licensed&) const = default;
};

struct MadeVisible {
  static constexpr std::string_view kType = "movies.made_visible.v1";
  static constexpr auto kFields = strata::fields();
  bool operator==(const MadeVisible&) const = default;
};

struct Withdrawn {
  static constexpr std::string_view kType = "movies.withdrawn.v1";
  std::string reason;
  static constexpr auto kFields = strata::fields(strata::field("reason", &Withdrawn::reason));
  bool operator==(const Withdrawn&) const = default;
};

class Movie : public strata::Aggregate<Movie, strata::Events<Added, Licensed, MadeVisible, Withdrawn>> {
 public:
  strata::Status add(std::string title, std::int32_t year) {
    if (added_) return strata::Status::rejected("movie is already in the catalogue");
    if (title.empty()) return strata::Status::rejected("a movie needs a title");
    record(Added{std::move(title), year});
    return {};
  }
  strata::Status license(std::string contract, std::vector<std::string> regions) {
    if (!added_ || withdrawn_) return strata::Status::rejected("only a movie in the catalogue can be licensed");
    if (regions.empty()) return strata::Status::rejected("a license covers at least one region");
    record(Licensed{std::move(contract), std::move(regions)});
    return {};
  }
  strata::Status make_visible() {
    if (!added_ || withdrawn_) return strata::Status::rejected("only a movie in the catalogue can be made visible");
    if (visible_) return strata::Status::rejected("movie is already visible");
    record(MadeVisible{});
    return {};
  }
  strata::Status withdraw(std::string reason) {
    if (!added_ || withdrawn_) return strata::Status::rejected("movie is not in the catalogue");
    record(Withdrawn{std::move(reason)});
    return {};
  }

 private:
  friend Aggregate;
  void apply(const Added&) { added_ = true; }
  void apply(const Licensed&) {}
  void apply(const MadeVisible&) { visible_ = true; }
  void apply(const Withdrawn&) { withdrawn_ = true; }

  bool added_ = false;
  bool visible_ = false;
  bool withdrawn_ = false;
};

// Every movie, keyed by its stream id.
struct CatalogEntry {
  std::string title;
  std::int32_t year = 0;
  std::vector<std::string> contracts;
  std::vector<std::string> regions;  // sorted, each once
  bool made_visible = false;
  std::optional<std::string> withdrawn;  // the reason
  static constexpr auto kFields = strata::fields(
      strata::field("title", &CatalogEntry::title), strata::field("year", &CatalogEntry::year),
      strata::field("contracts", &CatalogEntry::contracts), strata::field("regions", &CatalogEntry::regions),
      strata::field("made_visible", &CatalogEntry::made_visible), strata::field("withdrawn", &CatalogEntry::withdrawn));
  bool operator==(const CatalogEntry&) const = default;

  // The rule users see: licensed somewhere, made visible, not withdrawn.
  bool visible() const { return made_visible && !withdrawn && !regions.empty(); }
};

// What a region's users see of one movie, keyed "<region>/<movie stream id>".
struct VisibleTitle {
  std::string title;
  std::int32_t year = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("title", &VisibleTitle::title), strata::field("year", &VisibleTitle::year));
  bool operator==(const VisibleTitle&) const = default;
};

class VisibleMovies
    : public strata::Projection<VisibleMovies, strata::Events<Added, Licensed, MadeVisible, Withdrawn>> {
 public:
  static constexpr std::string_view kName = "movies.visible";
  static constexpr strata::ReadModel<CatalogEntry> kCatalog{"catalog"};
  static constexpr strata::ReadModel<VisibleTitle> kVisible{"visible"};

  strata::Status handle(const Added& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return update(ctx, tx, [&](CatalogEntry& m) {
      m.title = e.title;
      m.year = e.year;
    });
  }
  strata::Status handle(const Licensed& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return update(ctx, tx, [&](CatalogEntry& m) {
      m.contracts.push_back(e.contract);
      for (const auto& r : e.regions)
        if (std::find(m.regions.begin(), m.regions.end(), r) == m.regions.end()) m.regions.push_back(r);
      std::sort(m.regions.begin(), m.regions.end());
    });
  }
  strata::Status handle(const MadeVisible&, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return update(ctx, tx, [](CatalogEntry& m) { m.made_visible = true; });
  }
  strata::Status handle(const Withdrawn& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return update(ctx, tx, [&](CatalogEntry& m) { m.withdrawn = e.reason; });
  }

 private:
  // Applies `change` to the movie's catalogue entry, then decides its rows in "visible" afresh.
  template <class Change>
  static strata::Status update(const strata::EventContext& ctx, strata::ReadModelTx& tx, Change&& change) {
    const std::string movie(ctx.stream_id());
    STRATA_ASSIGN_OR_RETURN(std::optional<CatalogEntry> entry, kCatalog.get(tx, movie));
    if (!entry) entry.emplace();
    change(*entry);
    STRATA_RETURN_IF_ERROR(kCatalog.put(tx, movie, *entry));
    for (const auto& region : entry->regions) {
      const std::string key = region + "/" + movie;
      if (entry->visible()) {
        STRATA_RETURN_IF_ERROR(kVisible.put(tx, key, VisibleTitle{entry->title, entry->year}));
      } else {
        STRATA_RETURN_IF_ERROR(kVisible.erase(tx, key));
      }
    }
    return {};
  }
};

// The titles users in `region` can see, in order of the movies' stream ids: "Metropolis (1927)".
inline strata::Result<std::vector<std::string>> titles_visible_in(const strata::ReadModelSource& source,
                                                                  std::string_view region) {
  std::vector<std::string> titles;
  STRATA_RETURN_IF_ERROR(VisibleMovies::kVisible.scan(source, std::string(region) + "/",
                                                      [&](std::string_view, const VisibleTitle& t) -> strata::Status {
                                                        titles.push_back(t.title + " (" + std::to_string(t.year) + ")");
                                                        return {};
                                                      }));
  return titles;
}

// Records the sample catalogue into `store` unless an earlier run did: four movies, one visible in two
// regions, one never licensed, one withdrawn after release, one licensed twice.
inline strata::Status record_sample_catalog(strata::EventStore& store) {
  strata::Repository<Movie> catalog(store);
  auto make = [&](std::string_view id, auto&& commands) -> strata::Status {
    STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, strata::StreamId::parse(id));
    STRATA_ASSIGN_OR_RETURN(strata::Version head, store.stream_head(stream));
    if (head != 0) return {};  // recorded by an earlier run
    Movie movie = catalog.create(stream);
    STRATA_RETURN_IF_ERROR(commands(movie));
    return catalog.save(movie).status();
  };
  STRATA_RETURN_IF_ERROR(make("movie-metropolis", [](Movie& m) -> strata::Status {
    STRATA_RETURN_IF_ERROR(m.add("Metropolis", 1927));
    STRATA_RETURN_IF_ERROR(m.license("contract-17", {"DE", "FR"}));
    return m.make_visible();
  }));
  STRATA_RETURN_IF_ERROR(make("movie-nosferatu", [](Movie& m) -> strata::Status {
    STRATA_RETURN_IF_ERROR(m.add("Nosferatu", 1922));
    return m.make_visible();  // never licensed: nobody sees it
  }));
  STRATA_RETURN_IF_ERROR(make("movie-sunrise", [](Movie& m) -> strata::Status {
    STRATA_RETURN_IF_ERROR(m.add("Sunrise", 1927));
    STRATA_RETURN_IF_ERROR(m.license("contract-21", {"US"}));
    STRATA_RETURN_IF_ERROR(m.make_visible());
    return m.withdraw("rights dispute");
  }));
  return make("movie-the-general", [](Movie& m) -> strata::Status {
    STRATA_RETURN_IF_ERROR(m.add("The General", 1926));
    STRATA_RETURN_IF_ERROR(m.license("contract-17", {"DE"}));
    STRATA_RETURN_IF_ERROR(m.make_visible());
    return m.license("contract-30", {"US"});
  });
}

// Records the sample catalogue (once), runs VisibleMovies until it has caught up with the store's head,
// and renders what users in each region see and why the other movies are hidden:
//
//   DE sees: Metropolis (1927), The General (1926)
//   ...
//   hidden: Nosferatu (not licensed), Sunrise (withdrawn: rights dispute)
//   projection movies.visible: live at position 14 of 26, 14 events applied, 12 skipped
//
// Fails with the store's or the projector's errors, or kUnavailable when it has not caught up in time.
inline strata::Result<std::string> show_catalog(strata::EventStore& store, strata::ProjectionStorage& storage,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  STRATA_RETURN_IF_ERROR(record_sample_catalog(store));
  strata::Projector projector(store, storage, VisibleMovies{});
  STRATA_RETURN_IF_ERROR(projector.start());
  STRATA_RETURN_IF_ERROR(projector.wait_for(store.head_position(), timeout));
  const strata::ProjectorStatus status = projector.status();
  const strata::ReadModelReader reader = projector.reader();

  std::string out;
  for (std::string_view region : {"DE", "FR", "US"}) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> titles, titles_visible_in(reader, region));
    out += std::string(region) + " sees: ";
    for (std::size_t i = 0; i < titles.size(); ++i) out += (i ? ", " : "") + titles[i];
    out += titles.empty() ? "nothing\n" : "\n";
  }
  STRATA_ASSIGN_OR_RETURN(auto catalog, VisibleMovies::kCatalog.list(reader));
  std::string hidden;
  for (const auto& [id, m] : catalog) {
    if (m.visible()) continue;
    const std::string why = m.withdrawn         ? "withdrawn: " + *m.withdrawn
                            : m.regions.empty() ? std::string("not licensed")
                                                : std::string("not made visible");
    hidden += (hidden.empty() ? "" : ", ") + m.title + " (" + why + ")";
  }
  out += "hidden: " + (hidden.empty() ? std::string("nothing") : hidden) + "\n";
  out += "projection " + status.name + ": " + std::string(strata::projector_state_name(status.state)) +
         " at position " + strata::to_string(status.position) + " of " + strata::to_string(status.head) + ", " +
         std::to_string(status.applied) + " events applied, " + std::to_string(status.skipped) + " skipped\n";
  STRATA_RETURN_IF_ERROR(projector.stop());
  return out;
}

}  // namespace movies
