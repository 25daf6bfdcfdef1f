// The compute pool: Eigen's ThreadPool with work-claiming chunks.
#include "server/core/compute.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#define EIGEN_USE_THREADS
#include <unsupported/Eigen/CXX11/ThreadPool>

namespace actd {

struct ComputeContext::Pool {
  explicit Pool(int threads) : pool(threads) {}
  Eigen::ThreadPool pool;
};

namespace {

// State shared by the caller and the helper tasks of one ParallelFor. Helpers
// that start after every chunk is claimed touch only this (kept alive by
// shared_ptr) and leave.
struct Job {
  std::atomic<int64_t> next{0};
  std::atomic<bool> stopped{false};
  int64_t chunks = 0;
  int64_t finished = 0;  // guarded by mu
  std::mutex mu;
  std::condition_variable done;
  absl::Status status;  // guarded by mu
};

}  // namespace

ComputeContext::ComputeContext(int threads)
    : pool_(threads > 0 ? std::make_shared<Pool>(threads) : nullptr),
      threads_(std::max(1, threads)) {}

ComputeContext::ComputeContext(std::shared_ptr<Pool> pool, int threads,
                               StopCheck stop)
    : pool_(std::move(pool)), threads_(threads), stop_(std::move(stop)) {}

ComputeContext::~ComputeContext() = default;

ComputeContext ComputeContext::ForCall(StopCheck stop) const {
  return ComputeContext(pool_, threads_, std::move(stop));
}

void ComputeContext::Schedule(std::function<void()> task) const {
  if (pool_ == nullptr) {
    task();
  } else {
    pool_->pool.Schedule(std::move(task));
  }
}

const ComputeContext& ComputeContext::Inline() {
  static const ComputeContext* inline_context = new ComputeContext(0);
  return *inline_context;
}

absl::Status ComputeContext::ParallelFor(
    int64_t n, int64_t grain,
    const std::function<void(int64_t, int64_t, int64_t)>& body) const {
  if (n <= 0) return stop_ ? stop_() : absl::OkStatus();
  const int64_t chunks = (n + grain - 1) / grain;
  if (pool_ == nullptr || threads_ == 1 ||
      chunks == 1) {  // all on this thread: no shared state needed
    for (int64_t c = 0; c < chunks; ++c) {
      if (stop_) {
        if (absl::Status s = stop_(); !s.ok()) return s;
      }
      body(c, c * grain, std::min(n, (c + 1) * grain));
    }
    return absl::OkStatus();
  }
  auto job = std::make_shared<Job>();
  job->chunks = chunks;
  // Claims and runs chunks until none is left or the call is stopped.
  auto work = [this, job, n, grain, &body] {
    int64_t ran = 0;
    for (int64_t c; (c = job->next.fetch_add(1)) < job->chunks; ++ran) {
      if (!job->stopped.load(std::memory_order_relaxed) && stop_) {
        if (absl::Status s = stop_(); !s.ok()) {
          std::lock_guard<std::mutex> lock(job->mu);
          if (job->status.ok()) job->status = s;
          job->stopped = true;
        }
      }
      if (!job->stopped.load(std::memory_order_relaxed)) {
        body(c, c * grain, std::min(n, (c + 1) * grain));
      }
    }
    std::lock_guard<std::mutex> lock(job->mu);
    job->finished += ran;
    if (job->finished == job->chunks) job->done.notify_all();
  };
  const int64_t helpers = std::min<int64_t>(threads_, chunks) - 1;
  for (int64_t i = 0; i < helpers; ++i) {
    // A helper that starts late finds no chunk and never touches `body` or
    // `this`' captures beyond `job`, which it co-owns.
    pool_->pool.Schedule([job, work_copy = work]() mutable { work_copy(); });
  }
  work();
  std::unique_lock<std::mutex> lock(job->mu);
  job->done.wait(lock, [&] { return job->finished == job->chunks; });
  return job->status;
}

}  // namespace actd
