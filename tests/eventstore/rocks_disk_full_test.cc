// A full disk never kills the application: on a small tmpfs the store's appends fail with kIOError
// (RocksDB's own info log, on the same full disk, used to abort the process), and a copy of the store
// on a bigger disk opens with every acknowledged event. Mounting needs root; elsewhere the test says
// it was skipped.
#include <doctest/doctest.h>
#include <sys/mount.h>

#include <filesystem>
#include <string>
#include <vector>

#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;

// A tmpfs of `bytes` mounted on a new directory, unmounted on destruction.
class SmallDisk {
 public:
  SmallDisk(const testing::TempDir& dir, std::size_t bytes) : path_(dir.sub("disk")) {
    std::filesystem::create_directory(path_);
    const std::string data = "size=" + std::to_string(bytes);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, data.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("a full disk fails appends with kIOError, and a copy on a bigger disk has every acknowledged event") {
  testing::TempDir dir;
  SmallDisk disk(dir, std::size_t{8} << 20);
  if (!disk.mounted()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  const std::string store_path = disk.path() + "/store";
  std::vector<std::pair<AppendResult, EventId>> acks;
  {
    auto store = testing::open_store(store_path);
    Status failure;
    for (int i = 0; i < 1'000'000 && failure.ok(); ++i) {
      const EventId id = EventId::generate();
      const std::vector<EventData> batch{EventData{
          id, "test.full.v1", "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(400, 'f') + "\"}", {}}};
      auto r = store->append(sid("full-" + std::to_string(i % 50)), ExpectedVersion::any(), batch);
      if (r.ok())
        acks.emplace_back(*r, id);
      else
        failure = r.status();
    }
    MESSAGE(acks.size(), " appends acknowledged, then: ", failure.to_string());
    CHECK(failure.code() == StatusCode::kIOError);
    CHECK(store->append(sid("full-0"), ExpectedVersion::any(), conformance::events(1)).status().code() ==
          StatusCode::kUnavailable);
  }
  REQUIRE(!acks.empty());
  std::filesystem::copy(store_path, dir.sub("bigger"), std::filesystem::copy_options::recursive);
  auto store = testing::open_store(dir.sub("bigger"));
  auto log = store->read_log(1, 10'000'000).value();
  REQUIRE(log.events.size() >= acks.size());
  for (const auto& [result, id] : acks) CHECK(testing::event_at(log.events, result.first_position).id == id);
}
