// The service's work as plain functions on protobuf messages, without gRPC:
// decode the request, run the core, write the response. Handlers call these;
// tests may too.
#ifndef ACTD_SERVER_SERVICE_EVALUATE_H_
#define ACTD_SERVER_SERVICE_EVALUATE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "activation/v1/activation.pb.h"
#include "server/core/activation.h"
#include "server/core/compute.h"
#include "server/core/tensor.h"

namespace actd {

class Metrics;

// Limits, facts and collaborators of the service; filled from flags by main.
struct ServiceOptions {
  int64_t max_elements = int64_t{64} << 20;  // per tensor
  int max_batch_items = 1024;                // per BatchEvaluate
  int64_t max_message_bytes = int64_t{256} << 20;
  int max_inflight = 0;  // 0 = unlimited
  // Conservative floor of the service's throughput, for refusing a call whose
  // deadline cannot be met: the slowest kernel (Dice, float64, one thread)
  // runs at well over this.
  double min_elements_per_second = 20e6;
  int compute_threads = 1;
  std::string version;
  std::string isa;
  // Compute threads shared by all calls; null = each call computes on its
  // handler's thread.
  const ComputeContext* compute = nullptr;
  // When set, ActivationService calls need `authorization: Bearer
  // <auth_token>`.
  std::string auth_token;
  bool access_log = false;     // one info line per request
  Metrics* metrics = nullptr;  // null = none recorded
  // Shared by every service built from copies of these options: the calls in
  // compute now (for max_inflight, across protocols), and whether the server
  // still takes calls (false while draining).
  std::shared_ptr<std::atomic<int>> inflight =
      std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> ready =
      std::make_shared<std::atomic<bool>>(true);
};

// Where a call's time in the service went, in nanoseconds: validating and
// viewing the request's tensors (decode), the kernels (compute), sizing the
// response's tensors (encode). Atomic, as a batch's items add to it
// concurrently.
struct CallTiming {
  std::atomic<int64_t> decode_ns{0}, compute_ns{0}, encode_ns{0};
};

// Whether `activation`'s forward may write its output over `storage`, the bytes
// that `input` views: an element-wise activation on float32 or float64, and
// 64 KiB or more (smaller inputs are not worth it).
bool ForwardMayOverwrite(const Activation* activation,
                         const ConstTensorView& input,
                         const std::string& storage);

// Forward / Backward of one request into `response`, on `compute`'s threads and
// subject to its stop check. The status names the offending field. `timing`, if
// given, is added to.
absl::Status EvaluateForward(const activation::v1::ForwardRequest& request,
                             activation::v1::ForwardResponse* response,
                             const ServiceOptions& options,
                             const ComputeContext& compute,
                             CallTiming* timing = nullptr);
// EvaluateForward for a caller that owns `request`: an element-wise
// activation writes its float32 or float64 output over the input's raw_data
// (ForwardMayOverwrite), which moves into the response, so the call holds one
// tensor instead of two. `request`'s input is left unspecified. `request` comes
// from wire::ParseReleasing, which keeps the receive buffers it freed: when the
// output cannot overwrite the input, they are given back before it is
// allocated.
absl::Status EvaluateForwardInPlace(activation::v1::ForwardRequest* request,
                                    activation::v1::ForwardResponse* response,
                                    const ServiceOptions& options,
                                    const ComputeContext& compute,
                                    CallTiming* timing = nullptr);
absl::Status EvaluateBackward(const activation::v1::BackwardRequest& request,
                              activation::v1::BackwardResponse* response,
                              const ServiceOptions& options,
                              const ComputeContext& compute,
                              CallTiming* timing = nullptr);
// Validation alone, before any cost is estimated: every tensor of the request
// has data that agrees with its shape and dtype and is within max_elements
// (the errors EvaluateForward / EvaluateBackward would give). `elements` gets
// the input's element count plus the weights' (what the computation reads).
absl::Status ValidateRequest(const activation::v1::ForwardRequest& request,
                             const ServiceOptions& options, int64_t* elements);
absl::Status ValidateRequest(const activation::v1::BackwardRequest& request,
                             const ServiceOptions& options, int64_t* elements);
// A batch is valid as a whole (its items fail one by one); `elements` gets the
// sum over the items whose tensors are valid.
absl::Status ValidateRequest(
    const activation::v1::BatchEvaluateRequest& request,
    const ServiceOptions& options, int64_t* elements);

// Every item, concurrently, each with its own code and message, results in
// request order; RESOURCE_EXHAUSTED for the whole call only when it has more
// than max_batch_items items, and the stop check's status when the call was
// stopped.
absl::Status EvaluateBatch(const activation::v1::BatchEvaluateRequest& request,
                           activation::v1::BatchEvaluateResponse* response,
                           const ServiceOptions& options,
                           const ComputeContext& compute,
                           CallTiming* timing = nullptr);
// The registry, described.
void DescribeActivations(activation::v1::ListActivationsResponse* response);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_EVALUATE_H_
