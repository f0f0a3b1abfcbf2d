// The subject keys of RocksEventStore's personal data (core personal_data.h), in the subject_keys
// family: a key is created with the store's write options before the first event sealed with it is
// appended (the log's order puts it first in the write-ahead log), and destroyed by a forgotten marker
// written with sync, after which every family is flushed and subject_keys compacted, so that no table
// file and no live write-ahead log keeps the key's bytes. What may still hold them is named in
// FORMAT.md ("Personal data") and docs/decisions.md.
#include <fmt/format.h>
#include <rocksdb/db.h>

#include <mutex>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"

namespace strata::detail {

namespace fmtx = format;

namespace {

class RocksSubjectKeyStore final : public SubjectKeyStore {
 public:
  RocksSubjectKeyStore(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, rocksdb::WriteOptions write,
                       std::vector<rocksdb::ColumnFamilyHandle*> all_families, bool read_only, std::string path)
      : db_(db),
        family_(family),
        write_(write),
        all_(std::move(all_families)),
        read_only_(read_only),
        path_(std::move(path)) {}

  Result<std::string> load_key(std::string_view subject, KeyState& state) override {
    state = KeyState::kNone;
    if (family_ == nullptr) return std::string();
    std::string value;
    rocksdb::Status s = db_.Get(rocksdb::ReadOptions(), family_, slice(subject), &value);
    if (s.IsNotFound()) return std::string();
    STRATA_RETURN_IF_ERROR(from_rocksdb(s, context(subject)));
    return decode(subject, value, state);
  }

  Result<std::string> create_key(std::string_view subject, std::string key) override {
    if (read_only_ || family_ == nullptr)
      return Status::invalid_argument(fmt::format("{}: the store is open read-only", context(subject)));
    std::lock_guard lock(mu_);
    KeyState state = KeyState::kNone;
    STRATA_ASSIGN_OR_RETURN(std::string existing, load_key(subject, state));
    if (state == KeyState::kLive) return existing;
    if (state == KeyState::kForgotten)
      return Status::invalid_argument(
          fmt::format("subject \"{}\" was forgotten: personal data of it cannot be stored again", subject));
    std::string value(1, static_cast<char>(fmtx::kSubjectKey));
    value += key;
    STRATA_RETURN_IF_ERROR(from_rocksdb(db_.Put(write_, family_, slice(subject), slice(value)), context(subject)));
    return key;
  }

  Result<bool> destroy_key(std::string_view subject) override {
    if (read_only_ || family_ == nullptr)
      return Status::invalid_argument(fmt::format("{}: the store is open read-only", context(subject)));
    std::lock_guard lock(mu_);
    KeyState state = KeyState::kNone;
    STRATA_ASSIGN_OR_RETURN(std::string existing, load_key(subject, state));
    const std::string forgotten(1, static_cast<char>(fmtx::kSubjectForgotten));
    rocksdb::WriteOptions durable = write_;
    durable.sync = true;
    STRATA_RETURN_IF_ERROR(from_rocksdb(db_.Put(durable, family_, slice(subject), slice(forgotten)), context(subject)));
    if (state == KeyState::kLive) {
      // The key's bytes leave the memtables and write-ahead logs (flushed everywhere, so no live log
      // needs the one that holds them), then the table files (compacted without the old value).
      rocksdb::FlushOptions flush;
      flush.wait = true;
      STRATA_RETURN_IF_ERROR(from_rocksdb(db_.Flush(flush, all_), context(subject)));
      rocksdb::CompactRangeOptions compact;
      compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
      STRATA_RETURN_IF_ERROR(from_rocksdb(db_.CompactRange(compact, family_, nullptr, nullptr), context(subject)));
    }
    return state == KeyState::kLive;
  }

 private:
  std::string context(std::string_view subject) const {
    return fmt::format("event store \"{}\": the key of subject \"{}\"", path_, subject);
  }
  Result<std::string> decode(std::string_view subject, std::string_view value, KeyState& state) const {
    if (value.size() == 1 && static_cast<std::uint8_t>(value[0]) == fmtx::kSubjectForgotten) {
      state = KeyState::kForgotten;
      return std::string();
    }
    if (value.size() == 33 && static_cast<std::uint8_t>(value[0]) == fmtx::kSubjectKey) {
      state = KeyState::kLive;
      return std::string(value.substr(1));
    }
    return Status::corruption(fmt::format("{} is damaged", context(subject)));
  }

  rocksdb::DB& db_;
  rocksdb::ColumnFamilyHandle* family_;
  rocksdb::WriteOptions write_;
  std::vector<rocksdb::ColumnFamilyHandle*> all_;
  bool read_only_;
  std::string path_;
  std::mutex mu_;  // creations and destructions, one at a time
};

}  // namespace

void RocksEventStoreImpl::start_personal_data() {
  subject_key_store_ =
      std::make_unique<RocksSubjectKeyStore>(*db_, subject_keys_, write_options_, handles_, read_only_, path_);
  personal_ = std::make_unique<PersonalData>(*subject_key_store_);
}

}  // namespace strata::detail
