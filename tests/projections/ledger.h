// A small projection for the projector tests: ledgers opened, credited and debited, folded into one row
// per stream (owner, balance, number of entries, last position). Balances are sums, so an event applied
// twice or not at all shows in the read model. A Faults object (configuration, shared with the test)
// makes "poison" credits fail or throw on demand.
//
// Also here: the same fold computed straight from the log (the truth to compare a read model with), and
// a rendering of both as one string, so that tests compare one literal.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event_store.h"
#include "strata/core/memory_event_store.h"
#include "strata/projections/projection.h"
#include "strata/projections/read_model.h"

namespace ledger {

struct Opened {
  static constexpr std::string_view kType = "test.ledger.opened.v1";
  std::string owner;
  static constexpr auto kFields = strata::fields(strata::field("owner", &Opened::owner));
  bool operator==(const Opened&) const = default;
};

struct Credited {
  static constexpr std::string_view kType = "test.ledger.credited.v1";
  std::int64_t amount = 0;
  bool poison = false;  // fails (or throws) while Faults says so
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Credited::amount), strata::field("poison", &Credited::poison));
  bool operator==(const Credited&) const = default;
};

struct Debited {
  static constexpr std::string_view kType = "test.ledger.debited.v1";
  std::int64_t amount = 0;
  static constexpr auto kFields = strata::fields(strata::field("amount", &Debited::amount));
  bool operator==(const Debited&) const = default;
};

// An event no ledger projection handles.
struct Noted {
  static constexpr std::string_view kType = "test.ledger.noted.v1";
  std::string text;
  static constexpr auto kFields = strata::fields(strata::field("text", &Noted::text));
  bool operator==(const Noted&) const = default;
};

struct Row {
  std::string owner;
  std::int64_t balance = 0;
  std::int64_t entries = 0;
  strata::Position last_position = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("owner", &Row::owner), strata::field("balance", &Row::balance),
                     strata::field("entries", &Row::entries), strata::field("last_position", &Row::last_position));
  bool operator==(const Row&) const = default;
};

struct Faults {
  std::atomic<bool> poison_fails{true};
  std::atomic<bool> poison_throws{false};
  std::atomic<int> poison_attempts{0};
  std::atomic<int> credit_delay_us{0};  // every credit takes at least this long
};

class Ledger : public strata::Projection<Ledger, strata::Events<Opened, Credited, Debited>> {
 public:
  static constexpr std::string_view kName = "test.ledger";
  static constexpr strata::ReadModel<Row> kAccounts{"accounts"};

  explicit Ledger(Faults* faults = nullptr) : faults_(faults) {}

  strata::Status handle(const Opened& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return kAccounts.put(tx, ctx.stream_id(), Row{e.owner, 0, 0, ctx.position()});
  }
  strata::Status handle(const Credited& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    if (faults_ != nullptr && faults_->credit_delay_us.load() > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(faults_->credit_delay_us.load()));
    if (e.poison && faults_ != nullptr) {
      faults_->poison_attempts.fetch_add(1);
      if (faults_->poison_throws.load()) throw std::runtime_error("ledger handler exploded");
      if (faults_->poison_fails.load()) return strata::Status::rejected("poison credit refused");
    }
    return add(ctx, tx, e.amount);
  }
  void handle(const Debited& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    (void)add(ctx, tx, -e.amount);
  }

 private:
  strata::Status add(const strata::EventContext& ctx, strata::ReadModelTx& tx, std::int64_t amount) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Row> row, kAccounts.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    row->balance += amount;
    row->entries += 1;
    row->last_position = std::max(row->last_position, ctx.position());  // retries come late
    return kAccounts.put(tx, ctx.stream_id(), *row);
  }

  Faults* faults_;
};

inline strata::StreamId sid(std::string_view s) { return strata::StreamId::parse(s).value(); }

template <class E>
strata::AppendResult append(strata::EventStore& store, std::string_view stream, const E& event) {
  std::vector<strata::EventData> batch{strata::to_event_data(event)};
  return store.append(sid(stream), strata::ExpectedVersion::any(), batch).value();
}

// Appends `n` events spread over `streams` ledgers: an opening for each new ledger, then credits and
// debits, with a note (an unhandled type) every seventh event.
inline void append_history(strata::EventStore& store, int n, int streams = 5, int seed = 0) {
  for (int i = 0; i < n; ++i) {
    const int k = (i * 7 + seed) % streams;
    const std::string stream = "ledger-" + std::to_string(k);
    if (store.stream_head(sid(stream)).value() == 0) {
      append(store, stream, Opened{"owner" + std::to_string(k)});
    } else if (i % 7 == 3) {
      append(store, stream, Noted{"note " + std::to_string(i)});
    } else if (i % 5 == 4) {
      append(store, stream, Debited{i % 13 + 1});
    } else {
      append(store, stream, Credited{i % 17 + 1, false});
    }
  }
}

// "stream owner=.. balance=.. entries=.. last=..\n" per row in key order.
inline std::string render(const std::vector<std::pair<std::string, Row>>& rows) {
  std::string out;
  for (const auto& [key, r] : rows)
    out += key + " owner=" + r.owner + " balance=" + std::to_string(r.balance) +
           " entries=" + std::to_string(r.entries) + " last=" + strata::to_string(r.last_position) + "\n";
  return out;
}

inline std::string render(const strata::ReadModelSource& source) {
  auto rows = Ledger::kAccounts.list(source);
  if (!rows.ok()) return "error: " + rows.status().to_string();
  return render(*rows);
}

// The ledger fold computed from the log, positions `from` to `through`, leaving out the positions in `excluded`: what
// the read model must equal.
inline std::string fold(strata::EventStore& store, strata::Position from = 1,
                        strata::Position through = strata::kEndOfLog,
                        const std::vector<strata::Position>& excluded = {}) {
  std::map<std::string, Row> rows;
  for (;;) {
    auto slice = store.read_log(from, 1000).value();
    for (const auto& e : slice.events) {
      if (e.position > through) continue;
      if (std::find(excluded.begin(), excluded.end(), e.position) != excluded.end()) continue;
      if (e.type == Opened::kType) {
        Opened o;
        strata::throw_if_error(strata::decode_json(e.payload, o));
        rows[e.stream_id] = Row{o.owner, 0, 0, e.position};
      } else if (e.type == Credited::kType || e.type == Debited::kType) {
        std::int64_t amount = 0;
        if (e.type == Credited::kType) {
          Credited c;
          strata::throw_if_error(strata::decode_json(e.payload, c));
          amount = c.amount;
        } else {
          Debited d;
          strata::throw_if_error(strata::decode_json(e.payload, d));
          amount = -d.amount;
        }
        Row& r = rows[e.stream_id];
        r.balance += amount;
        r.entries += 1;
        r.last_position = std::max(r.last_position, e.position);
      }
    }
    if (slice.end_of_log || slice.events.empty()) break;
    from = slice.next_position;
  }
  return render(std::vector<std::pair<std::string, Row>>(rows.begin(), rows.end()));
}

}  // namespace ledger
