#include "rocks_info_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace strata::detail {
namespace {

class BoundedInfoLog final : public rocksdb::Logger {
 public:
  BoundedInfoLog(std::string directory, std::size_t max_bytes)
      : path_(directory + "/LOG"), old_path_(directory + "/LOG.old"), max_bytes_(max_bytes) {
    // RocksDB's own logger kept one file per open (LOG.old.<time>); this one keeps the last two.
    (void)::rename(path_.c_str(), old_path_.c_str());
    open_file();
  }
  ~BoundedInfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[2048];
    timeval now{};
    ::gettimeofday(&now, nullptr);
    tm local{};
    ::localtime_r(&now.tv_sec, &local);
    int n = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %lx ", local.tm_year + 1900,
                          local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                          static_cast<long>(now.tv_usec), static_cast<unsigned long>(pthread_self()));
    if (n < 0) return;
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n), format, copy);
    va_end(copy);
    if (body < 0) return;
    std::size_t size = std::min(sizeof line - 1, static_cast<std::size_t>(n) + static_cast<std::size_t>(body));
    if (line[size - 1] != '\n') line[size++] = '\n';

    std::lock_guard lock(mu_);
    if (written_ + size > max_bytes_) {
      if (fd_ >= 0) ::close(fd_);
      (void)::rename(path_.c_str(), old_path_.c_str());
      open_file();
    }
    if (fd_ < 0) return;
    // A short or failed write (a full disk) loses this message; the next one tries again.
    const ssize_t w = ::write(fd_, line, size);
    if (w > 0) written_ += static_cast<std::size_t>(w);
  }

  std::size_t GetLogFileSize() const override {
    std::lock_guard lock(mu_);
    return written_;
  }

 private:
  void open_file() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    written_ = 0;
  }

  const std::string path_;
  const std::string old_path_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  int fd_ = -1;              // GUARDED_BY(mu_); -1 when the file could not be opened
  std::size_t written_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace

std::shared_ptr<rocksdb::Logger> open_store_info_log(const std::string& directory, std::size_t max_bytes) {
  return std::make_shared<BoundedInfoLog>(directory, max_bytes);
}

}  // namespace strata::detail
