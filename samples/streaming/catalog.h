// The catalog service: the Title aggregate, the VisibleTitles read model (which titles each region can
// see), and the service that licenses, shows and hides titles when the contracts service asks.
//
// A title is added to the catalogue, licensed under contracts (each for some regions), shown under a
// contract once the deal is paid, hidden under it when the deal falls through, and may be withdrawn
// altogether. Users in a region see a title while some contract that licenses it there is shown and not
// hidden, unless the title is withdrawn.
//
//   streaming::catalog::Service catalog(context);
//   STRATA_RETURN_IF_ERROR(catalog.add_title("title-long-night-1", "The Long Night", 2019));
//   STRATA_RETURN_IF_ERROR(catalog.start());
//   ...
//   STRATA_ASSIGN_OR_RETURN(strata::ReadModelReader visible, catalog.visible_titles());
//   STRATA_ASSIGN_OR_RETURN(auto titles, streaming::catalog::titles_visible_in(visible, "US"));
//
// Thread safety: a Title is a value owned by one thread at a time. Every method of Service may be
// called from any thread; its inbox handlers run on the inbox's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/repository.h"
#include "strata/core/status.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/relay.h"
#include "strata/projections/projection.h"
#include "strata/projections/projector.h"
#include "strata/projections/read_model.h"
#include "streaming/messages.h"
#include "streaming/service.h"

namespace streaming::catalog {

// ---- the Title aggregate, in streams "title-<slug>" ----

struct Added {
  static constexpr std::string_view kType = "title.added.v1";
  std::string name;
  std::int32_t year = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("name", &Added::name), strata::field("year", &Added::year));
  bool operator==(const Added&) const = default;
};

struct Licensed {
  static constexpr std::string_view kType = "title.licensed.v1";
  std::string contract;
  std::vector<std::string> regions;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &Licensed::contract), strata::field("regions", &Licensed::regions));
  bool operator==(const Licensed&) const = default;
};

struct Shown {
  static constexpr std::string_view kType = "title.shown.v1";
  std::string contract;
  static constexpr auto kFields = strata::fields(strata::field("contract", &Shown::contract));
  bool operator==(const Shown&) const = default;
};

struct Hidden {
  static constexpr std::string_view kType = "title.hidden.v1";
  std::string contract;
  static constexpr auto kFields = strata::fields(strata::field("contract", &Hidden::contract));
  bool operator==(const Hidden&) const = default;
};

struct Withdrawn {
  static constexpr std::string_view kType = "title.withdrawn.v1";
  std::string reason;
  static constexpr auto kFields = strata::fields(strata::field("reason", &Withdrawn::reason));
  bool operator==(const Withdrawn&) const = default;
};

class Title : public strata::Aggregate<Title, strata::Events<Added, Licensed, Shown, Hidden, Withdrawn>> {
 public:
  // Commands: kRejected when a rule forbids them, and nothing is recorded.
  strata::Status add(std::string name, std::int32_t year);
  // Once per contract, for at least one region, while the title is in the catalogue.
  strata::Status license(const std::string& contract, std::vector<std::string> regions);
  // Under a contract that licenses the title and was not hidden.
  strata::Status show(const std::string& contract);
  strata::Status hide(const std::string& contract);
  strata::Status withdraw(std::string reason);

  const std::string& name() const noexcept { return name_; }
  bool withdrawn() const noexcept { return withdrawn_; }

 private:
  friend Aggregate;
  struct Licence {
    bool shown = false;
    bool hidden = false;
  };
  strata::Status in_catalogue() const;
  strata::Result<Licence*> licence(const std::string& contract);

  // Folds: no rules.
  void apply(const Added& e);
  void apply(const Licensed& e);
  void apply(const Shown& e);
  void apply(const Hidden& e);
  void apply(const Withdrawn& e);

  bool added_ = false;
  bool withdrawn_ = false;
  std::string name_;
  std::map<std::string, Licence> licences_;  // by contract
};

// ---- the read side: which titles each region can see ----

struct LicenceRow {
  std::string contract;
  std::vector<std::string> regions;
  bool shown = false;
  bool hidden = false;
  static constexpr auto kFields =
      strata::fields(strata::field("contract", &LicenceRow::contract), strata::field("regions", &LicenceRow::regions),
                     strata::field("shown", &LicenceRow::shown), strata::field("hidden", &LicenceRow::hidden));
  bool operator==(const LicenceRow&) const = default;
};

// Every title, keyed by its stream id.
struct TitleRow {
  std::string name;
  std::int32_t year = 0;
  std::vector<LicenceRow> licences;
  std::optional<std::string> withdrawn;  // the reason
  static constexpr auto kFields =
      strata::fields(strata::field("name", &TitleRow::name), strata::field("year", &TitleRow::year),
                     strata::field("licences", &TitleRow::licences), strata::field("withdrawn", &TitleRow::withdrawn));
  bool operator==(const TitleRow&) const = default;

  // The rule users see: not withdrawn, and shown under a contract that licenses it in `region`.
  bool visible_in(std::string_view region) const;
  // Every region some licence names, sorted, each once.
  std::vector<std::string> regions() const;
};

// One title a region can see, keyed "<region>/<title stream id>".
struct VisibleTitle {
  std::string name;
  std::int32_t year = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("name", &VisibleTitle::name), strata::field("year", &VisibleTitle::year));
  bool operator==(const VisibleTitle&) const = default;
};

class VisibleTitles
    : public strata::Projection<VisibleTitles, strata::Events<Added, Licensed, Shown, Hidden, Withdrawn>> {
 public:
  static constexpr std::string_view kName = "catalog.visible_titles";
  static constexpr strata::ReadModel<TitleRow> kTitles{"titles"};
  static constexpr strata::ReadModel<VisibleTitle> kVisible{"visible"};

  strata::Status handle(const Added& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Licensed& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Shown& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Hidden& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
  strata::Status handle(const Withdrawn& e, const strata::EventContext& ctx, strata::ReadModelTx& tx);
};

// What users in `region` can see, in order of the titles' stream ids: "The Long Night (2019)".
strata::Result<std::vector<std::string>> titles_visible_in(const strata::ReadModelSource& visible_titles,
                                                           std::string_view region);
// Every title with its row.
strata::Result<std::vector<std::pair<std::string, TitleRow>>> all_titles(const strata::ReadModelSource& visible_titles);

// ---- the service ----

class Service {
 public:
  explicit Service(const ServiceContext& context);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Adds a title to the catalogue unless it is there already. REQUIRES: `id` is "title-<slug>".
  [[nodiscard]] strata::Status add_title(std::string_view id, std::string name, std::int32_t year);

  // Starts the relay, the inbox and the read model's projector; stop() stops them.
  [[nodiscard]] strata::Status start();
  [[nodiscard]] strata::Status stop();
  // Waits until the relay has published the whole log and the inbox has seen no message for `quiet`.
  [[nodiscard]] strata::Status wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  // The VisibleTitles read model once it has caught up with the store. kUnavailable after `timeout`.
  [[nodiscard]] strata::Result<strata::ReadModelReader> visible_titles(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  // Runs `command` on the title `title_id` and saves it as the effect of the message being handled.
  strata::Status change(std::string_view title_id, strata::InboxContext& ctx,
                        const std::function<strata::Status(Title&)>& command);

  ServiceContext context_;
  strata::Repository<Title> titles_;
  strata::Relay relay_;
  strata::Inbox inbox_;
  strata::Projector projector_;
};

}  // namespace streaming::catalog
