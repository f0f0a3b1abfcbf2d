#include "streaming/catalog.h"

#include <algorithm>
#include <set>
#include <utility>

#include "strata/core/stream_id.h"

namespace streaming::catalog {

// ---- Title ----

strata::Status Title::add(std::string name, std::int32_t year) {
  if (added_) return strata::Status::rejected(id().str() + " is already in the catalogue");
  if (name.empty()) return strata::Status::rejected("a title needs a name");
  record(Added{std::move(name), year});
  return {};
}

strata::Status Title::license(const std::string& contract, std::vector<std::string> regions) {
  STRATA_RETURN_IF_ERROR(in_catalogue());
  if (licences_.contains(contract))
    return strata::Status::rejected(id().str() + " is already licensed under contract " + contract);
  if (regions.empty()) return strata::Status::rejected("a licence covers at least one region");
  record(Licensed{contract, std::move(regions)});
  return {};
}

strata::Status Title::show(const std::string& contract) {
  STRATA_RETURN_IF_ERROR(in_catalogue());
  STRATA_ASSIGN_OR_RETURN(Licence * licence, licence(contract));
  if (licence->hidden) return strata::Status::rejected(id().str() + " is hidden under contract " + contract);
  if (licence->shown) return strata::Status::rejected(id().str() + " is shown under contract " + contract + " already");
  record(Shown{contract});
  return {};
}

strata::Status Title::hide(const std::string& contract) {
  STRATA_ASSIGN_OR_RETURN(Licence * licence, licence(contract));
  if (licence->hidden)
    return strata::Status::rejected(id().str() + " is hidden under contract " + contract + " already");
  record(Hidden{contract});
  return {};
}

strata::Status Title::withdraw(std::string reason) {
  STRATA_RETURN_IF_ERROR(in_catalogue());
  record(Withdrawn{std::move(reason)});
  return {};
}

strata::Status Title::in_catalogue() const {
  if (!added_) return strata::Status::rejected("no title " + id().str() + " in the catalogue");
  if (withdrawn_) return strata::Status::rejected(id().str() + " was withdrawn from the catalogue");
  return {};
}

strata::Result<Title::Licence*> Title::licence(const std::string& contract) {
  auto it = licences_.find(contract);
  if (it == licences_.end())
    return strata::Status::rejected(id().str() + " is not licensed under contract " + contract);
  return &it->second;
}

void Title::apply(const Added& e) {
  added_ = true;
  name_ = e.name;
}
void Title::apply(const Licensed& e) { licences_[e.contract] = Licence{}; }
void Title::apply(const Shown& e) { licences_[e.contract].shown = true; }
void Title::apply(const Hidden& e) { licences_[e.contract].hidden = true; }
void Title::apply(const Withdrawn&) { withdrawn_ = true; }

// ---- VisibleTitles ----

bool TitleRow::visible_in(std::string_view region) const {
  if (withdrawn) return false;
  return std::any_of(licences.begin(), licences.end(), [&](const LicenceRow& l) {
    return l.shown && !l.hidden && std::find(l.regions.begin(), l.regions.end(), region) != l.regions.end();
  });
}

std::vector<std::string> TitleRow::regions() const {
  std::set<std::string> all;
  for (const LicenceRow& l : licences) all.insert(l.regions.begin(), l.regions.end());
  return {all.begin(), all.end()};
}

namespace {

// Applies `change` to the title's row, then decides its rows in "visible" afresh, region by region.
template <class Change>
strata::Status update(const strata::EventContext& ctx, strata::ReadModelTx& tx, Change&& change) {
  const std::string title(ctx.stream_id());
  STRATA_ASSIGN_OR_RETURN(std::optional<TitleRow> row, VisibleTitles::kTitles.get(tx, title));
  if (!row) row.emplace();
  change(*row);
  STRATA_RETURN_IF_ERROR(VisibleTitles::kTitles.put(tx, title, *row));
  for (const std::string& region : row->regions()) {
    const std::string key = region + "/" + title;
    if (row->visible_in(region)) {
      STRATA_RETURN_IF_ERROR(VisibleTitles::kVisible.put(tx, key, VisibleTitle{row->name, row->year}));
    } else {
      STRATA_RETURN_IF_ERROR(VisibleTitles::kVisible.erase(tx, key));
    }
  }
  return {};
}

// The licence of `contract` in `row` (a new one when it has none).
LicenceRow& licence_of(TitleRow& row, const std::string& contract) {
  auto it = std::find_if(row.licences.begin(), row.licences.end(),
                         [&](const LicenceRow& l) { return l.contract == contract; });
  if (it != row.licences.end()) return *it;
  return row.licences.emplace_back(LicenceRow{contract, {}, false, false});
}

}  // namespace

strata::Status VisibleTitles::handle(const Added& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](TitleRow& row) {
    row.name = e.name;
    row.year = e.year;
  });
}
strata::Status VisibleTitles::handle(const Licensed& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](TitleRow& row) { licence_of(row, e.contract).regions = e.regions; });
}
strata::Status VisibleTitles::handle(const Shown& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](TitleRow& row) { licence_of(row, e.contract).shown = true; });
}
strata::Status VisibleTitles::handle(const Hidden& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](TitleRow& row) { licence_of(row, e.contract).hidden = true; });
}
strata::Status VisibleTitles::handle(const Withdrawn& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
  return update(ctx, tx, [&](TitleRow& row) { row.withdrawn = e.reason; });
}

strata::Result<std::vector<std::string>> titles_visible_in(const strata::ReadModelSource& visible_titles,
                                                           std::string_view region) {
  std::vector<std::string> titles;
  STRATA_RETURN_IF_ERROR(VisibleTitles::kVisible.scan(visible_titles, std::string(region) + "/",
                                                      [&](std::string_view, const VisibleTitle& t) -> strata::Status {
                                                        titles.push_back(t.name + " (" + std::to_string(t.year) + ")");
                                                        return {};
                                                      }));
  return titles;
}

strata::Result<std::vector<std::pair<std::string, TitleRow>>> all_titles(
    const strata::ReadModelSource& visible_titles) {
  return VisibleTitles::kTitles.list(visible_titles);
}

// ---- Service ----

namespace {

strata::RelayOptions catalog_relay(const ServiceContext& context) {
  strata::RelayOptions o = relay_options(context, "catalog");
  o.selection.categories = {"title"};
  // What the saga waits for; the rest of a title's history stays in the catalog.
  o.mapping.publish<Licensed>([](const Licensed& e, const strata::EventView& stored) {
    return TitleLicensed{e.contract, std::string(stored.stream_id)};
  });
  o.mapping.publish<Shown>([](const Shown& e, const strata::EventView& stored) {
    return TitleShown{e.contract, std::string(stored.stream_id)};
  });
  return o;
}

}  // namespace

Service::Service(const ServiceContext& context)
    : context_(context),
      titles_(context.store),
      relay_(context.store, context.storage, context.transport, catalog_relay(context)),
      inbox_(context.store, context.storage, context.transport, inbox_options(context, "catalog-inbox", "contracts")),
      projector_(context.store, context.storage, VisibleTitles{}) {
  inbox_.on<LicenseTitle>([this](const LicenseTitle& m, strata::InboxContext& ctx) {
    return change(m.title, ctx, [&](Title& t) { return t.license(m.contract, m.regions); });
  });
  inbox_.on<ShowTitle>([this](const ShowTitle& m, strata::InboxContext& ctx) {
    return change(m.title, ctx, [&](Title& t) { return t.show(m.contract); });
  });
  inbox_.on<HideTitle>([this](const HideTitle& m, strata::InboxContext& ctx) {
    return change(m.title, ctx, [&](Title& t) { return t.hide(m.contract); });
  });
}

Service::~Service() { (void)stop(); }

strata::Status Service::add_title(std::string_view id, std::string name, std::int32_t year) {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, strata::StreamId::parse(id));
  STRATA_ASSIGN_OR_RETURN(strata::Version head, context_.store.stream_head(stream));
  if (head != 0) return {};  // added by an earlier run
  Title title = titles_.create(stream);
  STRATA_RETURN_IF_ERROR(title.add(std::move(name), year));
  strata::Metadata m;
  m.correlation_id = "catalogue";
  return titles_.save(title, m).status();
}

strata::Status Service::start() {
  STRATA_RETURN_IF_ERROR(projector_.start());
  STRATA_RETURN_IF_ERROR(relay_.start());
  return inbox_.start();
}

strata::Status Service::stop() {
  strata::Status inbox = inbox_.stop();
  strata::Status relay = relay_.stop();
  strata::Status projector = projector_.stop();
  STRATA_RETURN_IF_ERROR(inbox);
  STRATA_RETURN_IF_ERROR(relay);
  return projector;
}

strata::Status Service::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(relay_.wait_for(context_.store.head_position(), timeout));
  return wait_quiet({&inbox_}, quiet, timeout);
}

strata::Result<strata::ReadModelReader> Service::visible_titles(std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(projector_.wait_for(context_.store.head_position(), timeout));
  return projector_.reader();
}

// Each message changes one title, saved through the inbox under ids derived from the message, so a
// redelivered message changes nothing. A rule that refuses (kRejected) is recorded and not retried.
strata::Status Service::change(std::string_view title_id, strata::InboxContext& ctx,
                               const std::function<strata::Status(Title&)>& command) {
  STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, strata::StreamId::parse(title_id));
  STRATA_ASSIGN_OR_RETURN(Title title, titles_.load_or_create(stream));
  STRATA_RETURN_IF_ERROR(command(title));
  return ctx.save(titles_, title).status();
}

}  // namespace streaming::catalog
