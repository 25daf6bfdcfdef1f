// The service's work as plain functions on protobuf messages, without gRPC:
// decode the request, run the core, write the response. Handlers call these;
// tests may too.
#ifndef ACTD_SERVER_SERVICE_EVALUATE_H_
#define ACTD_SERVER_SERVICE_EVALUATE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "activation/v1/activation.pb.h"

namespace actd {

// Limits and facts the service reports; filled from flags by main.
struct ServiceOptions {
  int64_t max_elements = int64_t{64} << 20;  // per tensor
  int max_batch_items = 1024;                // per BatchEvaluate
  int64_t max_message_bytes = int64_t{256} << 20;
  int max_inflight = 0;  // 0 = unlimited
  int compute_threads = 1;
  std::string version;
  std::string isa;
};

// Forward / Backward of one request into `response`. The status names the
// offending field.
absl::Status EvaluateForward(const activation::v1::ForwardRequest& request,
                             activation::v1::ForwardResponse* response,
                             const ServiceOptions& options);
absl::Status EvaluateBackward(const activation::v1::BackwardRequest& request,
                              activation::v1::BackwardResponse* response,
                              const ServiceOptions& options);
// Every item in order, each with its own code and message; RESOURCE_EXHAUSTED
// for the whole call only when it has more than max_batch_items items.
absl::Status EvaluateBatch(const activation::v1::BatchEvaluateRequest& request,
                           activation::v1::BatchEvaluateResponse* response,
                           const ServiceOptions& options);
// The registry, described.
void DescribeActivations(activation::v1::ListActivationsResponse* response);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_EVALUATE_H_
