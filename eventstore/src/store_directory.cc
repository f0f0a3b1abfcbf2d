#include "store_directory.h"

#include <rocksdb/file_system.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace strata::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMarkerTitle = "strata event store";

std::string_view state_name(StoreMarker::State state) {
  switch (state) {
    case StoreMarker::State::kCreating:
      return "creating";
    case StoreMarker::State::kOpen:
      return "open";
    case StoreMarker::State::kClosed:
      return "closed";
  }
  return "?";
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "NNNNNN.log" → NNNNNN.
bool wal_number(std::string_view name, std::uint64_t& number) {
  if (!ends_with(name, ".log")) return false;
  name.remove_suffix(4);
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  return ec == std::errc() && end == name.data() + name.size() && !name.empty();
}

bool is_store_file(std::string_view name) {
  return name == "CURRENT" || name == "IDENTITY" || name == "LOCK" || starts_with(name, "LOG") ||
         starts_with(name, "MANIFEST-") || starts_with(name, "OPTIONS-") || ends_with(name, ".sst") ||
         ends_with(name, ".log") || ends_with(name, ".blob") || ends_with(name, ".dbtmp") ||
         starts_with(name, kMarkerFile);
}

Status io_error(std::string_view what, const std::string& path, int error) {
  return Status::io_error(fmt::format("{} \"{}\": {}", what, path, std::strerror(error)));
}

// Writes all of `data` to `fd`.
}  // namespace

std::string encode_store_marker(const StoreMarker& marker) {
  return fmt::format("{}\nstate {}\nwal {}\nhigh_water {}\n", kMarkerTitle, state_name(marker.state), marker.wal,
                     marker.high_water);
}

bool decode_store_marker(std::string_view text, StoreMarker& marker) {
  auto line = [&](std::string_view prefix, std::string_view& rest) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos || !starts_with(text, prefix)) return false;
    rest = text.substr(prefix.size(), end - prefix.size());
    text.remove_prefix(end + 1);
    return true;
  };
  auto number = [](std::string_view s, std::uint64_t& n) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  std::string_view title, state, wal, high_water;
  if (!line(kMarkerTitle, title) || !title.empty() || !line("state ", state) || !line("wal ", wal) ||
      !line("high_water ", high_water) || !text.empty())
    return false;
  if (state == "creating")
    marker.state = StoreMarker::State::kCreating;
  else if (state == "open")
    marker.state = StoreMarker::State::kOpen;
  else if (state == "closed")
    marker.state = StoreMarker::State::kClosed;
  else
    return false;
  return number(wal, marker.wal) && number(high_water, marker.high_water);
}

Status write_store_marker(rocksdb::FileSystem& file_system, const std::string& path, const StoreMarker& marker) {
  const std::string target = (fs::path(path) / kMarkerFile).string();
  const std::string temporary = target + ".tmp";
  const std::string text = encode_store_marker(marker);
  auto failed = [](std::string_view what, const std::string& file, const rocksdb::IOStatus& s) {
    return Status::io_error(fmt::format("{} \"{}\": {}", what, file, s.ToString()));
  };
  const rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = file_system.NewWritableFile(temporary, rocksdb::FileOptions(), &file, nullptr);
  if (s.ok()) s = file->Append(text, io, nullptr);
  if (s.ok()) s = file->Fsync(io, nullptr);
  if (s.ok()) s = file->Close(io, nullptr);
  if (!s.ok()) return failed("write the store marker", temporary, s);
  s = file_system.RenameFile(temporary, target, io, nullptr);
  if (!s.ok()) return failed("write the store marker", target, s);
  std::unique_ptr<rocksdb::FSDirectory> dir;
  s = file_system.NewDirectory(path, io, &dir, nullptr);
  if (s.ok()) s = dir->Fsync(io, nullptr);
  if (s.ok()) s = dir->Close(io, nullptr);
  if (!s.ok() && !s.IsNotSupported()) return failed("sync the store directory", path, s);
  return {};
}

Result<StoreDirectory> inspect_store_directory(const std::string& path) {
  StoreDirectory dir;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (ec) return io_error("inspect the store directory", path, ec.value());
    return dir;
  }
  dir.exists = true;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_store_file(name)) continue;
    dir.holds_store_files = true;
    std::uint64_t number = 0;
    if (name == "CURRENT") dir.has_current = true;
    if (name == "LOCK") dir.has_lock = true;
    if (ends_with(name, ".sst")) ++dir.table_files;
    if (wal_number(name, number)) dir.wal_numbers.push_back(number);
  }
  if (ec) return io_error("list the store directory", path, ec.value());
  std::sort(dir.wal_numbers.begin(), dir.wal_numbers.end());

  const fs::path marker_path = fs::path(path) / kMarkerFile;
  if (!fs::exists(marker_path, ec)) return dir;
  std::ifstream in(marker_path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("read the store marker", marker_path.string(), errno);
  StoreMarker marker;
  if (!decode_store_marker(text, marker))
    return Status::corruption(fmt::format(
        "the store marker \"{}\" is damaged (it records whether the store was closed cleanly and how many events "
        "it held); nothing was changed: restore the store from a backup",
        marker_path.string()));
  dir.marker = marker;
  return dir;
}

}  // namespace strata::detail
