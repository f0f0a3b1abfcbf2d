// A RocksDB FileSystem that can lose power: it remembers, per file written through it, how much was
// synced and whether the file's directory entry was made durable (the directory was synced after the
// file was created or renamed), and on power_loss() throws away what a real machine would lose:
//   - a file created through it whose directory was not synced since vanishes;
//   - every other file it wrote is cut back to what was last synced (fsync or fdatasync; a range sync
//     promises nothing);
//   - a rename not followed by a sync of its directory is undone (a file renamed over another one gets
//     the old one's bytes back);
//   - deletions count as done at once (a deletion undone would leave garbage RocksDB ignores).
// freeze() is the moment the power goes. The program does not notice (a machine that loses power runs
// nothing more): its writes, syncs, renames and deletions still succeed, but none of them counts — a
// sync makes nothing durable, a deleted file comes back. A test then destroys the store, calls
// power_loss() to apply the loss, and opens the store again on a new file system.
//
//   auto fs = std::make_shared<strata::testing::PowerLossFileSystem>();
//   auto store = strata::testing::open_with_file_system(options, dir, fs).value();
//   ... appends ...
//   fs->freeze();          // the cut
//   store.reset();         // it closes as usual; nothing of that counts
//   fs->power_loss();      // unsynced data gone
//
// Files that existed before the file system was made are taken as durable as they are. Thread safety:
// every method may be called from any thread.
#pragma once

#include <rocksdb/file_system.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strata::testing {

class PowerLossFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  PowerLossFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "StrataTestPowerLossFileSystem"; }
  const char* Name() const override { return kClassName(); }

  void freeze() { frozen_ = true; }
  bool frozen() const noexcept { return frozen_; }

  // Applies the loss to the files on disk. REQUIRES: freeze() was called and nothing uses the file
  // system any more.
  void power_loss() {
    std::lock_guard lock(mu_);
    for (auto it = deleted_.rbegin(); it != deleted_.rend(); ++it) {
      std::ofstream(it->first, std::ios::binary | std::ios::trunc) << it->second;
      ++losses_;
    }
    deleted_.clear();
    for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
      std::error_code ec;
      std::filesystem::rename(it->to, it->from, ec);
      ++losses_;
      if (it->replaced) {
        std::ofstream(it->to, std::ios::binary | std::ios::trunc) << *it->replaced;
        files_.erase(it->to);  // the old file, as it was
      }
      if (auto f = files_.find(it->to); f != files_.end()) {
        files_[it->from] = f->second;
        files_.erase(f);
      }
    }
    renames_.clear();
    for (const auto& [name, file] : files_) {
      std::error_code ec;
      if (!file.entry_durable) {
        if (std::filesystem::remove(name, ec)) ++losses_;
      } else if (std::filesystem::exists(name, ec) && std::filesystem::file_size(name, ec) > file.synced) {
        std::filesystem::resize_file(name, file.synced, ec);
        ++losses_;
      }
    }
    files_.clear();
  }

  // Files dropped or cut and renames undone by power_loss(), over all its calls: a test can see that
  // the loss took something.
  std::size_t losses() const {
    std::lock_guard lock(mu_);
    return losses_;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok()) {
      {
        std::lock_guard lock(mu_);
        files_[name] = File{};
      }
      *result = std::make_unique<Writable>(std::move(*result), *this, name);
    }
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    std::error_code ec;
    const bool existed = std::filesystem::exists(name, ec);
    const std::uint64_t size = existed ? std::filesystem::file_size(name, ec) : 0;
    rocksdb::IOStatus s = target()->ReopenWritableFile(name, options, result, dbg);
    if (s.ok()) {
      {
        std::lock_guard lock(mu_);
        if (!files_.contains(name)) files_[name] = File{size, existed};
      }
      *result = std::make_unique<Writable>(std::move(*result), *this, name);
    }
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string&, const rocksdb::FileOptions&,
                                      std::unique_ptr<rocksdb::FSWritableFile>*, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("reusing " + name + " (recycled logs are off in strata)");
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewDirectory(name, options, result, dbg);
    if (s.ok()) *result = std::make_unique<Directory>(std::move(*result), *this, name);
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    std::optional<std::string> replaced;
    std::error_code ec;
    if (std::filesystem::exists(to, ec)) {
      std::ifstream in(to, std::ios::binary);
      replaced.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    rocksdb::IOStatus s = target()->RenameFile(from, to, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      renames_.push_back(Rename{from, to, std::move(replaced)});
      if (auto f = files_.find(from); f != files_.end()) {
        files_[to] = f->second;
        files_.erase(f);
      }
    }
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    std::optional<std::string> bytes;
    if (frozen_) {
      std::ifstream in(name, std::ios::binary);
      bytes.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    rocksdb::IOStatus s = target()->DeleteFile(name, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(mu_);
      if (bytes) {
        deleted_.emplace_back(name, std::move(*bytes));  // after the cut: it comes back, as it was
      } else {
        files_.erase(name);
      }
    }
    return s;
  }
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string&, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("hard links of " + from);
  }
  rocksdb::IOStatus Truncate(const std::string& name, size_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    return target()->Truncate(name, size, options, dbg);
  }

 private:
  struct File {
    std::uint64_t synced = 0;
    bool entry_durable = false;
  };
  struct Rename {
    std::string from;
    std::string to;
    std::optional<std::string> replaced;  // the bytes of the file it replaced
  };

  void synced(const std::string& name, std::uint64_t size) {
    std::lock_guard lock(mu_);
    if (auto f = files_.find(name); f != files_.end()) f->second.synced = size;
  }
  void directory_synced(const std::string& directory) {
    std::lock_guard lock(mu_);
    const std::filesystem::path dir = std::filesystem::path(directory).lexically_normal();
    auto in_dir = [&](const std::string& name) {
      return std::filesystem::path(name).lexically_normal().parent_path() == dir;
    };
    for (auto& [name, file] : files_)
      if (in_dir(name)) file.entry_durable = true;
    std::erase_if(renames_, [&](const Rename& r) { return in_dir(r.to); });
  }

  class Writable final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Writable(std::unique_ptr<rocksdb::FSWritableFile> file, PowerLossFileSystem& fs, std::string name)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      return target()->Append(data, o, d);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* d) override {
      return target()->Append(data, o, info, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
      return target()->PositionedAppend(data, offset, o, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* d) override {
      return target()->PositionedAppend(data, offset, o, info, d);
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return target()->Truncate(size, o, d);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return target()->Flush(o, d);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return sync([&] { return target()->Sync(o, d); }, o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return sync([&] { return target()->Fsync(o, d); }, o, d);
    }
    rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      // Closing writes nothing the loss could not take back: what was not synced is cut anyway.
      return target()->Close(o, d);
    }

   private:
    template <class Do>
    rocksdb::IOStatus sync(Do&& sync_it, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) {
      rocksdb::IOStatus s = sync_it();
      if (s.ok() && !fs_.frozen_) fs_.synced(name_, target()->GetFileSize(o, d));
      return s;
    }

    PowerLossFileSystem& fs_;
    std::string name_;
  };

  class Directory final : public rocksdb::FSDirectoryWrapper {
   public:
    Directory(std::unique_ptr<rocksdb::FSDirectory> dir, PowerLossFileSystem& fs, std::string name)
        : FSDirectoryWrapper(std::move(dir)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      rocksdb::IOStatus s = FSDirectoryWrapper::Fsync(o, d);
      if (s.ok() && !fs_.frozen_) fs_.directory_synced(name_);
      return s;
    }
    rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d,
                                          const rocksdb::DirFsyncOptions& options) override {
      rocksdb::IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(o, d, options);
      if (s.ok() && !fs_.frozen_) fs_.directory_synced(name_);
      return s;
    }

   private:
    PowerLossFileSystem& fs_;
    std::string name_;
  };

  std::atomic<bool> frozen_{false};
  mutable std::mutex mu_;
  std::size_t losses_ = 0;
  std::map<std::string, File> files_;                         // written through this file system, by path
  std::vector<Rename> renames_;                               // not yet made durable by a directory sync, oldest first
  std::vector<std::pair<std::string, std::string>> deleted_;  // after the cut: path and bytes
};

}  // namespace strata::testing
