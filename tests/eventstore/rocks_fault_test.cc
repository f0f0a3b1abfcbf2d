// I/O errors injected under RocksDB through a FileSystem wrapper: the store never acknowledges what it
// could not write, refuses appends after a failed write until it is reopened, and a reopen on a healthy
// file system has every acknowledged append.
#include <doctest/doctest.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;

// Fails writes and syncs of every writable file (the write-ahead log, table files, the manifest) while
// the matching switch is on.
class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "StrataTestFaultyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  std::atomic<bool> fail_writes{false};
  std::atomic<bool> fail_syncs{false};

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    return wrap(target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    return wrap(target()->ReopenWritableFile(name, options, result, dbg), result);
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, FaultyFileSystem& fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      return fs_.fail_writes ? injected("write") : target()->Append(data, o, d);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* d) override {
      return fs_.fail_writes ? injected("write") : target()->Append(data, o, info, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
      return fs_.fail_writes ? injected("write") : target()->PositionedAppend(data, offset, o, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* d) override {
      return fs_.fail_writes ? injected("write") : target()->PositionedAppend(data, offset, o, info, d);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_.fail_writes ? injected("write") : target()->Flush(o, d);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_.fail_syncs ? injected("sync") : target()->Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_.fail_syncs ? injected("sync") : target()->Fsync(o, d);
    }
    rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t n, const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* d) override {
      return fs_.fail_syncs ? injected("sync") : target()->RangeSync(offset, n, o, d);
    }

   private:
    static rocksdb::IOStatus injected(const char* what) {
      return rocksdb::IOStatus::IOError(std::string("injected ") + what + " failure");
    }
    FaultyFileSystem& fs_;
  };

  rocksdb::IOStatus wrap(rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), *this);
    return s;
  }
};

// An append whose payloads say which append they belong to and how many events it has, so that a log
// read after a failure can tell a whole append from a partial one.
std::vector<EventData> tagged_append(const std::string& tag, std::size_t n) {
  std::vector<EventData> v;
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(
        EventData{EventId::generate(),
                  "test.tagged.v1",
                  "{\"append\":\"" + tag + "\",\"i\":" + std::to_string(i) + ",\"of\":" + std::to_string(n) + "}",
                  {}});
  return v;
}

struct Ack {
  std::string stream;
  std::vector<EventId> ids;
  AppendResult result;
};

// The log has positions 1..N without a gap, every append in it is whole, and every acknowledged append
// is in it where it was acknowledged.
void check_recovered(EventStore& store, const std::vector<Ack>& acks) {
  auto log = store.read_log(1, 10'000'000).value();
  CHECK(log.events.size() == store.head_position());
  std::map<std::string, std::size_t> events_of_append;
  std::map<std::string, std::size_t> size_of_append;
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    const RecordedEvent& e = log.events[i];
    CHECK(e.position == i + 1);
    const auto tag_at = e.payload.find("\"append\":\"") + 10;
    const std::string tag = e.payload.substr(tag_at, e.payload.find('"', tag_at) - tag_at);
    ++events_of_append[tag];
    size_of_append[tag] = std::stoul(e.payload.substr(e.payload.find("\"of\":") + 5));
  }
  for (const auto& [tag, n] : events_of_append) CHECK_MESSAGE(n == size_of_append[tag], "append ", tag, " is partial");
  for (const Ack& a : acks) {
    REQUIRE(a.result.last_position <= log.events.size());
    for (std::size_t i = 0; i < a.ids.size(); ++i) {
      const RecordedEvent& e = log.events[a.result.first_position - 1 + i];
      CHECK(e.id == a.ids[i]);
      CHECK(e.stream_id == a.stream);
    }
  }
}

}  // namespace

TEST_CASE("a failed fsync is not acknowledged, the store refuses appends until reopened, and a reopen recovers") {
  testing::TempDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto options = testing::test_options(/*sync=*/true);
  options.file_system = fs;
  std::vector<Ack> acks;
  {
    auto store = testing::open_store(dir.path(), options);
    for (int i = 0; i < 5; ++i) {
      auto batch = tagged_append("ok-" + std::to_string(i), 1 + i * 5);
      auto r = store->append(sid("s-1"), ExpectedVersion::any(), batch);
      REQUIRE(r.ok());
      std::vector<EventId> ids;
      for (const auto& e : batch) ids.push_back(e.id);
      acks.push_back(Ack{"s-1", ids, *r});
    }
    const Position high = store->head_position();

    fs->fail_syncs = true;
    auto failed = store->append(sid("s-1"), ExpectedVersion::any(), tagged_append("failed", 3));
    CHECK(failed.status().code() == StatusCode::kIOError);
    CHECK(std::string(failed.status().message()).find("injected sync failure") != std::string::npos);
    CHECK(store->head_position() == high);

    fs->fail_syncs = false;  // the disk is fine again, but the store does not trust it until reopened
    auto refused = store->append(sid("s-2"), ExpectedVersion::any(), tagged_append("refused", 1));
    CHECK(refused.status().code() == StatusCode::kUnavailable);
    CHECK(std::string(refused.status().message()).find("refuses appends after a failed write; reopen it") !=
          std::string::npos);
    // Reads go on, and see nothing of the failed append.
    CHECK(store->read_log(1, 1000).value().events.size() == high);
    CHECK(store->stream_head(sid("s-1")).value() == high);
  }
  auto store = testing::open_store(dir.path());
  check_recovered(*store, acks);
  // The failed append was never acknowledged; it may or may not have reached the log before the sync
  // failed, and a retry with the same ids settles it either way.
  CHECK(store->append(sid("s-3"), ExpectedVersion::no_stream(), tagged_append("after", 2)).ok());
  check_recovered(*store, acks);
}

TEST_CASE(
    "failed writes under concurrent appenders acknowledge nothing false, and a reopen has every acknowledged "
    "append") {
  testing::TempDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto options = testing::test_options(/*sync=*/false);
  options.file_system = fs;
  std::vector<Ack> acks;
  std::vector<StatusCode> first_errors;
  std::mutex mu;
  {
    auto store = testing::open_store(dir.path(), options);
    std::atomic<int> acknowledged{0}, stopped{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t));
        for (int i = 0;; ++i) {
          const std::string stream = "s-" + std::to_string(rng() % 20);
          auto batch = tagged_append(std::to_string(t) + "-" + std::to_string(i), 1 + rng() % 30);
          auto r = store->append(sid(stream), ExpectedVersion::any(), batch);
          std::lock_guard lock(mu);
          if (!r.ok()) {
            first_errors.push_back(r.status().code());
            ++stopped;
            return;
          }
          std::vector<EventId> ids;
          for (const auto& e : batch) ids.push_back(e.id);
          acks.push_back(Ack{stream, ids, *r});
          ++acknowledged;
        }
      });
    }
    while (acknowledged < 400 && stopped == 0) std::this_thread::yield();
    CHECK(stopped == 0);  // no writer failed before the fault
    fs->fail_writes = true;
    for (auto& th : threads) th.join();
    for (StatusCode code : first_errors) CHECK((code == StatusCode::kIOError || code == StatusCode::kUnavailable));
    CHECK(store->append(sid("s-1"), ExpectedVersion::any(), tagged_append("late", 1)).status().code() ==
          StatusCode::kUnavailable);
  }
  fs->fail_writes = false;
  auto store = testing::open_store(dir.path());
  check_recovered(*store, acks);
}
