// Random damage inside a store's files: bytes flipped at random places of a table file, a write-ahead
// log or the MANIFEST of a store (closed cleanly, or left by a crash). Whatever is hit, the store never
// answers with wrong data: open refuses with kCorruption, or the store opens, and every read either
// fails with kCorruption or returns the events as they were appended — each at its position, its
// stream's versions without a gap, its payload intact. RocksEventStore::verify, run first, calls the
// store sound only when it then opens and reads right.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;
namespace fs = std::filesystem;

constexpr std::size_t kEvents = 4'000;
constexpr std::size_t kStreams = 50;

RocksEventStore::Options small_buffers() {
  auto options = testing::test_options();
  options.write_buffer_bytes = std::size_t{1} << 20;  // some table files, and a write-ahead log with data
  options.compression = RocksEventStore::Compression::kNone;
  return options;
}

std::string payload_of(std::size_t n) {
  return "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + std::string(60, 'q') + "\"}";
}

// The store: kEvents events, event n in stream n % kStreams; left open (not flushed: the newest events
// are in the write-ahead log only) when `crashed`.
void make_store(const std::string& path, bool crashed) {
  auto store = testing::open_store(path, small_buffers());
  for (std::size_t n = 0; n < kEvents; ++n)
    REQUIRE(store
                ->append(sid("flip-" + std::to_string(n % kStreams)), ExpectedVersion::any(),
                         {EventData{EventId::generate(), "test.flip.v1", payload_of(n), {}}})
                .ok());
  if (crashed) {
    // A copy of the directory while the store is open is what a crash leaves on disk.
    const std::string image = path + ".crashed";
    fs::copy(path, image, fs::copy_options::recursive);
    store.reset();
    fs::remove_all(path);
    fs::rename(image, path);
  }
}

// Flips `count` random bytes of `file` (never its first 8 bytes' worth of nothing: anywhere).
void flip(const fs::path& file, std::mt19937& random, int count) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<std::size_t>(fs::file_size(file));
  REQUIRE(size > 0);
  for (int i = 0; i < count; ++i) {
    const auto at = static_cast<std::streamoff>(random() % size);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ static_cast<char>(1 + random() % 255));
    f.seekp(at);
    f.write(&c, 1);
  }
}

std::vector<fs::path> damageable(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if ((name.ends_with(".sst") || name.ends_with(".log") || name.starts_with("MANIFEST-")) &&
        fs::file_size(entry.path()) > 0)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every read of the damaged store is right or a typed error. Returns how many reads failed.
std::size_t check_reads(EventStore& store) {
  std::size_t failed = 0;
  auto log = store.read_log(1, kEvents + 10);
  if (!log.ok()) {
    CHECK_MESSAGE(log.status().code() == StatusCode::kCorruption, log.status().to_string());
    ++failed;
  } else {
    for (std::size_t i = 0; i < log->events.size(); ++i) {
      const RecordedEvent& e = log->events[i];
      REQUIRE(e.position.value() == i + 1);
      REQUIRE(e.payload == payload_of(i));
      REQUIRE(e.stream_id == "flip-" + std::to_string(i % kStreams));
      REQUIRE(e.version == i / kStreams + 1);
    }
  }
  for (std::size_t s = 0; s < kStreams; ++s) {
    auto slice = store.read_stream(sid("flip-" + std::to_string(s)), ReadDirection::kForward, 1, kEvents);
    if (!slice.ok()) {
      CHECK_MESSAGE(
          (slice.status().code() == StatusCode::kCorruption || slice.status().code() == StatusCode::kNotFound),
          slice.status().to_string());
      ++failed;
      continue;
    }
    for (std::size_t v = 0; v < slice->events.size(); ++v) {
      REQUIRE(slice->events[v].version == v + 1);
      REQUIRE(slice->events[v].payload == payload_of(v * kStreams + s));
    }
  }
  return failed;
}

void flip_and_open(bool crashed, std::uint32_t seed, int rounds) {
  testing::TempDir dir;
  const std::string pristine = dir.sub("pristine");
  make_store(pristine, crashed);
  {
    // Undamaged, it opens with every event (a crash loses nothing acknowledged).
    const std::string copy = dir.sub("undamaged");
    fs::copy(pristine, copy, fs::copy_options::recursive);
    auto store = RocksEventStore::open(small_buffers(), copy);
    REQUIRE_MESSAGE(store.ok(), store.status().to_string());
    CHECK((*store)->head_position().value() == kEvents);
    CHECK(check_reads(**store) == 0);
  }
  std::mt19937 random(seed);
  std::map<std::string, int> outcomes;
  for (int round = 0; round < rounds; ++round) {
    const std::string damaged = dir.sub("damaged-" + std::to_string(round));
    fs::copy(pristine, damaged, fs::copy_options::recursive);
    const std::vector<fs::path> files = damageable(damaged);
    REQUIRE(!files.empty());
    const fs::path& victim = files[random() % files.size()];
    CAPTURE(victim.filename().string());
    flip(victim, random, 1 + static_cast<int>(random() % 8));
    // verify, which writes nothing, says the store is sound only if it opens and reads right.
    auto verified = RocksEventStore::verify(small_buffers(), damaged);
    if (!verified.ok())
      CHECK_MESSAGE(verified.status().code() == StatusCode::kCorruption, verified.status().to_string());
    const bool sound = verified.ok() && verified->ok();
    auto store = RocksEventStore::open(small_buffers(), damaged);
    if (!store.ok()) {
      CHECK_MESSAGE(store.status().code() == StatusCode::kCorruption, store.status().to_string());
      CHECK_FALSE(sound);
      ++outcomes["refused at open"];
    } else {
      const bool reads_right = check_reads(**store) == 0;
      if (!reads_right) CHECK_FALSE(sound);
      ++outcomes[reads_right ? "opened, every read right" : "opened, some reads refused"];
      if (!sound && reads_right) ++outcomes["opened, every read right, verify found damage"];
    }
    store = Status::cancelled("closed");
    fs::remove_all(damaged);
  }
  for (const auto& [outcome, n] : outcomes) MESSAGE(outcome, ": ", n);
}

TEST_CASE("bytes flipped in the files of a store closed cleanly: refused, or every read right or refused") {
  flip_and_open(/*crashed=*/false, 7, 24);
}

TEST_CASE("bytes flipped in the files of a store left by a crash: refused, or every read right or refused") {
  flip_and_open(/*crashed=*/true, 19, 24);
}

}  // namespace
