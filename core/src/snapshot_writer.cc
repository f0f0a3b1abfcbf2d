#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "strata/core/repository.h"

namespace strata::detail {

struct SnapshotWriter::Impl {
  void run() {
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait(lock, [this] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop and nothing left: queued writes are finished first
      auto task = std::move(queue.front());
      queue.pop_front();
      busy = true;
      lock.unlock();
      task();  // tasks catch their own failures and report them
      lock.lock();
      busy = false;
      if (queue.empty()) idle.notify_all();
    }
  }

  std::mutex mu;
  std::condition_variable wake;             // signalled on post and stop
  std::condition_variable idle;             // signalled when the queue empties
  std::deque<std::function<void()>> queue;  // GUARDED_BY(mu)
  bool busy = false;                        // GUARDED_BY(mu)
  bool stop = false;                        // GUARDED_BY(mu)
  std::thread thread;                       // last: started once the members above exist
};

SnapshotWriter::SnapshotWriter() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

SnapshotWriter::~SnapshotWriter() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

void SnapshotWriter::post(std::function<void()> task) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->queue.push_back(std::move(task));
  }
  impl_->wake.notify_one();
}

void SnapshotWriter::drain() {
  std::unique_lock lock(impl_->mu);
  impl_->idle.wait(lock, [this] { return impl_->queue.empty() && !impl_->busy; });
}

}  // namespace strata::detail
