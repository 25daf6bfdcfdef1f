// How a computation runs: split into fixed chunks over a thread pool, checking
// between chunks whether anyone still wants the result.
//
// Chunk boundaries depend only on the element count, never on the thread count,
// and partial results (parameter-gradient sums) are combined in chunk order, so
// results are bit-identical whatever the number of threads.
#ifndef ACTD_SERVER_CORE_COMPUTE_H_
#define ACTD_SERVER_CORE_COMPUTE_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"

namespace actd {

class ComputeContext {
 public:
  // Returns OK to go on, or the status to stop with (CANCELLED,
  // DEADLINE_EXCEEDED).
  using StopCheck = std::function<absl::Status()>;

  // `threads` workers (0 = none: Schedule runs tasks at once; ParallelFor runs
  // on the caller's thread only, as with 1). Thread-safe;
  // one pool may serve many concurrent calls through ForCall.
  explicit ComputeContext(int threads);
  ~ComputeContext();

  int threads() const { return threads_; }

  // The same pool with a call's own stop check.
  ComputeContext ForCall(StopCheck stop) const;

  // Runs body(chunk, begin, end) for the chunks [i·grain, min(n, (i+1)·grain))
  // of [0, n), on the pool and the calling thread, and returns when all have
  // run. Before each chunk it consults the stop check; once that fails no
  // further chunk starts and its status is returned. Never deadlocks when
  // nested: the caller can always finish every chunk itself.
  absl::Status ParallelFor(
      int64_t n, int64_t grain,
      const std::function<void(int64_t, int64_t, int64_t)>& body) const;

  // Runs `task` on a pool thread, or at once on this thread without a pool.
  void Schedule(std::function<void()> task) const;

  // The stop check's verdict now: OK, or the status to stop with.
  absl::Status CheckStop() const { return stop_ ? stop_() : absl::OkStatus(); }

  // A context that runs everything inline and never stops.
  static const ComputeContext& Inline();

 private:
  struct Pool;
  ComputeContext(std::shared_ptr<Pool> pool, int threads, StopCheck stop);

  std::shared_ptr<Pool> pool_;
  int threads_ = 1;
  StopCheck stop_;
};

}  // namespace actd

#endif  // ACTD_SERVER_CORE_COMPUTE_H_
