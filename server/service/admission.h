// What every protocol's handler does around the shared compute path: admit a
// call (bearer token, the request's own errors, the server-wide in-flight
// limit, whether its deadline can be met at all), run it on a per-call compute
// context that stops when the caller goes away, then report it (metrics with a
// `protocol` label, the access log). The gRPC services and the HTTP server
// differ only in how they learn the token, deadline, cancellation and peer of a
// call.
#ifndef ACTD_SERVER_SERVICE_ADMISSION_H_
#define ACTD_SERVER_SERVICE_ADMISSION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "server/core/compute.h"
#include "server/service/evaluate.h"

namespace actd {

// OK when `token` is empty or `authorization` is "Bearer <token>" (compared in
// constant time); UNAUTHENTICATED otherwise, nullopt meaning the header or
// metadata is missing.
absl::Status CheckBearerToken(absl::string_view token,
                              std::optional<absl::string_view> authorization);

// DEADLINE_EXCEEDED when `deadline` leaves less time than `elements` need at
// `elements_per_second` (ServiceOptions::min_elements_per_second);
// time_point::max() means no deadline.
absl::Status CheckDeadline(std::chrono::system_clock::time_point deadline,
                           int64_t elements, double elements_per_second);

// RESOURCE_EXHAUSTED: --max_inflight calls are already in compute.
absl::Status ServerBusy(int max_inflight);

// What a request is, for metrics and logs, and the admission's cost estimate.
struct CallFacts {
  std::string activation;
  std::string dtype;
  int64_t elements = 0;
  // A parse or validation error the protocol found: the call is refused with
  // it right after the token check, before the in-flight limit and any cost
  // estimate (a malformed request is refused for what it is).
  absl::Status invalid;
};

// How one protocol presents one call.
struct CallEdge {
  absl::string_view
      protocol;              // metrics label: "native", "oip-grpc", "oip-http"
  absl::string_view method;  // "ModelInfer", ...
  std::string peer;
  std::optional<absl::string_view> authorization;
  std::chrono::system_clock::time_point deadline =
      std::chrono::system_clock::time_point::max();
  // Whether the caller has gone away (or the deadline passed); null = never.
  std::function<bool()> cancelled;
};

// Calls of at most this many elements compute on the thread that received
// them: a few microseconds for any activation, less than a handoff to another
// thread. Larger ones go to the compute pool, so that gRPC's few callback
// threads stay free to admit or refuse the next calls at once (with 64 Ki
// elements inline, a float64 Dice call held a thread for ~0.7 ms and refusals
// under 3x overload waited 75 ms for one: tests/soak/test_overload.py).
inline constexpr int64_t kInlineElements = int64_t{4} << 10;

using EvaluateFn = std::function<absl::Status(const ComputeContext&)>;
using BytesOutFn = std::function<int64_t()>;

// Admits the call, runs `evaluate` on options.compute (or inline) with a stop
// check built from `edge`, and reports it. `bytes_out` is asked for after a
// successful evaluate. Returns the call's status.
absl::Status RunAdmitted(const ServiceOptions& options, const CallEdge& edge,
                         const CallFacts& facts, int64_t bytes_in,
                         const EvaluateFn& evaluate,
                         const BytesOutFn& bytes_out);

// RunAdmitted for a callback handler that must not block: admits the call on
// this thread, then evaluates and reports it here when it has at most
// kInlineElements (or there is no pool), on a pool thread otherwise, and
// calls done(status) on that same thread. `options` must outlive the call.
void RunAdmittedAsync(const ServiceOptions& options, CallEdge edge,
                      CallFacts facts, int64_t bytes_in, EvaluateFn evaluate,
                      BytesOutFn bytes_out,
                      std::function<void(absl::Status)> done);

// The same code and message, as gRPC spells them.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The "authorization" metadata of a gRPC call; nullopt when it has none.
std::optional<absl::string_view> Authorization(
    const grpc::ServerContextBase* context);

// The call's timing as trailers actd-decode-us, actd-compute-us and
// actd-encode-us: microseconds with three decimals (small calls take well
// under one).
void AddTimingTrailers(grpc::ServerContextBase* context,
                       const CallTiming& timing);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_ADMISSION_H_
