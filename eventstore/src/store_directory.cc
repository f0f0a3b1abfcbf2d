#include "store_directory.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

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
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

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

Status write_store_marker(const std::string& path, const StoreMarker& marker) {
  const std::string target = (fs::path(path) / kMarkerFile).string();
  const std::string temporary = target + ".tmp";
  const std::string text = encode_store_marker(marker);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("write the store marker", temporary, errno);
  if (!write_all(fd, text) || ::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return io_error("write the store marker", temporary, error);
  }
  if (::close(fd) != 0) return io_error("write the store marker", temporary, errno);
  if (::rename(temporary.c_str(), target.c_str()) != 0) return io_error("write the store marker", target, errno);
  const int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return io_error("sync the store directory", path, errno);
  const bool synced = ::fsync(dir) == 0;
  const int error = errno;
  ::close(dir);
  if (!synced) return io_error("sync the store directory", path, error);
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
