// Opening a damaged store never makes the damage worse: for each kind of damage an operator or a disk
// can do to a store's files (CURRENT deleted, the MANIFEST truncated, a write-ahead log truncated or
// deleted after a crash), open either refuses with kCorruption and leaves every file exactly as it
// found it, again on a second try, or opens a consistent store that has every event. A new store is
// still created in a missing or empty directory, and a clean store still reopens.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "child_process.h"
#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;
namespace fs = std::filesystem;

constexpr std::size_t kStreams = 200;

// Every file of `dir` with its contents (RocksDB's repair adds a subdirectory, "lost").
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

// The files of `dir` whose names end with `suffix`, in name order (RocksDB's numbers are zero-padded).
std::vector<fs::path> files_ending(const std::string& dir, std::string_view suffix) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

fs::path manifest_of(const std::string& dir) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("MANIFEST-", 0) == 0) found.push_back(entry.path());
  REQUIRE(found.size() == 1);
  return found.front();
}

RocksEventStore::Options small_buffers() {
  auto options = testing::test_options();
  options.write_buffer_bytes = std::size_t{1} << 20;  // several flushes of each family
  return options;
}

// A store closed cleanly with kStreams streams and `events` events (appends of 1 to 20 events).
void make_clean_store(const std::string& path, std::size_t events) {
  auto store = testing::open_store(path, small_buffers());
  for (std::size_t appended = 0, i = 0; appended < events; ++i) {
    const std::size_t n = std::min<std::size_t>(1 + i % 20, events - appended);
    std::vector<EventData> batch;
    for (std::size_t k = 0; k < n; ++k)
      batch.push_back(EventData{EventId::generate(),
                                "test.damage.v1",
                                "{\"n\":" + std::to_string(appended + k) + ",\"pad\":\"" + std::string(80, 'p') + "\"}",
                                {}});
    REQUIRE(store->append(sid("damage-" + std::to_string(i % kStreams)), ExpectedVersion::any(), batch).ok());
    appended += n;
  }
}

// The image of a store that was not closed cleanly: a child process appends `events` one-event appends,
// each to a new stream, with small write buffers, and is killed with SIGKILL.
void make_crashed_store(const std::string& path, std::size_t events) {
  testing::ChildProcess child({STRATA_CRASH_WRITER, "fill", path, std::to_string(events), std::to_string(256 << 10)});
  std::string output;
  const auto give_up = testing::ChildProcess::Clock::now() + std::chrono::seconds(60);
  while (output.find("done\n") == std::string::npos && testing::ChildProcess::Clock::now() < give_up)
    if (!child.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(20), output)) break;
  REQUIRE_MESSAGE(output.find("done\n") != std::string::npos, "the child did not fill the store: ", output);
  child.kill_hard();
  CHECK(WIFSIGNALED(child.wait()));
}

// Every stream's head, as the log says it must be, and the store agrees: the log has `events` events
// without a gap, list_streams lists exactly the log's streams, stream_head and read_stream know each.
void check_whole(RocksEventStore& store, std::size_t events) {
  CHECK(store.head_position() == events);
  auto log = store.read_log(1, 10'000'000).value();
  REQUIRE(log.events.size() == events);
  std::map<std::string, Version> heads;
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    CHECK(log.events[i].position == i + 1);
    Version& head = heads[log.events[i].stream_id];
    CHECK(log.events[i].version == head + 1);
    head = log.events[i].version;
  }
  std::size_t listed = 0;
  for (std::string after;;) {
    auto page = store.list_streams(after, 1000).value();
    listed += page.streams.size();
    if (page.next_after.empty()) break;
    after = page.next_after;
  }
  CHECK(listed == heads.size());
  std::size_t unknown = 0;
  for (const auto& [stream, head] : heads) {
    if (store.stream_head(sid(stream)).value() != head) ++unknown;
    if (store.read_stream(sid(stream), ReadDirection::kForward, 1, 100000).value().events.size() != head.value())
      ++unknown;
  }
  CHECK_MESSAGE(unknown == 0, unknown, " streams disagree with the log");
}

enum class Outcome { kRefused, kWhole };

// Opens the damaged store at `path` (twice if refused): either both opens refuse with kCorruption and
// leave every file byte for byte as it was, or the store opens consistent with all `events` events.
Outcome open_damaged(const std::string& path, std::size_t events) {
  const auto before = files_of(path);
  auto opened = RocksEventStore::open(testing::test_options(), path);
  if (!opened.ok()) {
    MESSAGE(opened.status().to_string());
    CHECK(opened.status().code() == StatusCode::kCorruption);
    CHECK(std::string(opened.status().message()).find(path) != std::string::npos);
    CHECK(files_of(path) == before);
    auto again = RocksEventStore::open(testing::test_options(), path);
    CHECK(again.status().code() == StatusCode::kCorruption);
    CHECK(files_of(path) == before);
    return Outcome::kRefused;
  }
  check_whole(**opened, events);
  return Outcome::kWhole;
}

void copy_store(const std::string& from, const std::string& to) { fs::copy(from, to, fs::copy_options::recursive); }

}  // namespace

TEST_CASE("a store whose CURRENT file was deleted is refused and left as it was") {
  testing::TempDir dir;
  make_clean_store(dir.sub("store"), 3000);
  fs::remove(dir.sub("store/CURRENT"));
  CHECK(open_damaged(dir.sub("store"), 3000) == Outcome::kRefused);
}

TEST_CASE("a store whose CURRENT file and write-ahead log were deleted is refused and left as it was") {
  testing::TempDir dir;
  make_clean_store(dir.sub("store"), 3000);
  fs::remove(dir.sub("store/CURRENT"));
  for (const auto& log : files_ending(dir.sub("store"), ".log")) fs::remove(log);
  CHECK(open_damaged(dir.sub("store"), 3000) == Outcome::kRefused);
}

TEST_CASE("a store whose MANIFEST was truncated is refused, or opens whole, at every length tried") {
  testing::TempDir dir;
  make_clean_store(dir.sub("pristine"), 3000);
  const auto size = fs::file_size(manifest_of(dir.sub("pristine")));
  std::vector<std::uintmax_t> lengths{0, 1, 7, 100, size - 1};
  for (int tenth = 1; tenth < 10; ++tenth) lengths.push_back(size * tenth / 10);
  int refused = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    CAPTURE(lengths[i]);
    const std::string path = dir.sub("copy-" + std::to_string(i));
    copy_store(dir.sub("pristine"), path);
    fs::resize_file(manifest_of(path), lengths[i]);
    if (open_damaged(path, 3000) == Outcome::kRefused) ++refused;
  }
  MESSAGE(refused, " of ", lengths.size(), " truncations refused");
}

// Some families flushed and others not, over several logs: a hole in an older log must not be replayed
// past (the families would recover to states that disagree). Every log but the newest is cut, since
// which of them is the oldest still needed depends on when the flushes ran.
TEST_CASE("a crashed store whose older write-ahead logs were truncated is refused, or opens consistent and whole") {
  testing::TempDir dir;
  make_crashed_store(dir.sub("store"), 8000);
  const auto logs = files_ending(dir.sub("store"), ".log");
  MESSAGE(logs.size(), " write-ahead logs after the crash");
  REQUIRE(logs.size() > 2);
  for (std::size_t i = 0; i + 1 < logs.size(); ++i) fs::resize_file(logs[i], fs::file_size(logs[i]) / 2);
  (void)open_damaged(dir.sub("store"), 8000);
}

TEST_CASE("a crashed store whose write-ahead log was deleted is refused and left as it was") {
  testing::TempDir dir;
  make_crashed_store(dir.sub("store"), 2000);
  for (const auto& log : files_ending(dir.sub("store"), ".log")) fs::remove(log);
  (void)open_damaged(dir.sub("store"), 2000);
}

TEST_CASE("a crashed store reopens with every event") {
  testing::TempDir dir;
  make_crashed_store(dir.sub("store"), 2000);
  CHECK(open_damaged(dir.sub("store"), 2000) == Outcome::kWhole);
}

TEST_CASE("a store is created in a missing directory and in an empty one, and a clean store reopens whole") {
  testing::TempDir dir;
  {
    auto store = testing::open_store(dir.sub("missing/store"));
    CHECK(store->head_position() == 0);
  }
  fs::create_directory(dir.sub("empty"));
  {
    auto store = testing::open_store(dir.sub("empty"));
    CHECK(store->head_position() == 0);
  }
  make_clean_store(dir.sub("clean"), 3000);
  for (int reopen = 0; reopen < 2; ++reopen) CHECK(open_damaged(dir.sub("clean"), 3000) == Outcome::kWhole);
}

TEST_CASE("repair_copy repairs a copy of a store whose CURRENT file was deleted and leaves the store as it was") {
  testing::TempDir dir;
  make_clean_store(dir.sub("store"), 3000);
  fs::remove(dir.sub("store/CURRENT"));
  const auto before = files_of(dir.sub("store"));
  REQUIRE(RocksEventStore::repair_copy(testing::test_options(), dir.sub("store"), dir.sub("repaired")).ok());
  CHECK(files_of(dir.sub("store")) == before);
  CHECK(RocksEventStore::repair_copy(testing::test_options(), dir.sub("store"), dir.sub("repaired")).code() ==
        StatusCode::kInvalidArgument);
  CHECK(open_damaged(dir.sub("repaired"), 3000) == Outcome::kWhole);
}
