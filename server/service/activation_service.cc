// Handlers: admit the call (token, in-flight limit, deadline), evaluate, then
// report (status, timing metadata, metrics, access log). The work itself lives
// in evaluate.cc.
#include "server/service/activation_service.h"

#include <atomic>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/service/access_log.h"
#include "server/service/metrics.h"
#include "spdlog/spdlog.h"

namespace actd {
namespace {

namespace pb = activation::v1;
using Clock = std::chrono::steady_clock;

// Conservative floor of the service's throughput, for refusing a call whose
// deadline cannot be met: the slowest kernel (Dice, float64, one thread) runs
// at well over this.
constexpr double kMinElementsPerSecond = 20e6;

// What a request is, for metrics and logs.
struct CallFacts {
  std::string activation;
  std::string dtype;
  int64_t elements = 0;
};

int64_t Elements(const pb::Tensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape()) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return 0;  // rejected later
  }
  return n;
}
std::string DTypeLabel(const pb::Tensor& t) {
  if (t.dtype() == pb::DATA_TYPE_FLOAT64 || t.double_data_size() > 0)
    return "float64";
  if (t.dtype() == pb::DATA_TYPE_FLOAT32 || t.float_data_size() > 0)
    return "float32";
  return "unspecified";
}
CallFacts Facts(const pb::ForwardRequest& r) {
  return {r.activation().name(), DTypeLabel(r.input()), Elements(r.input())};
}
CallFacts Facts(const pb::BackwardRequest& r) {
  return {r.activation().name(), DTypeLabel(r.input()), Elements(r.input())};
}
CallFacts Facts(const pb::BatchEvaluateRequest& r) {
  CallFacts f{"batch", "mixed", 0};
  for (const auto& item : r.items()) {
    f.elements += item.has_forward() ? Elements(item.forward().input())
                                     : Elements(item.backward().input());
  }
  return f;
}

std::string Micros(int64_t nanos) {
  return absl::StrFormat("%.3f", static_cast<double>(nanos) / 1e3);
}

absl::Status ToAbslStatus(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Compares without an early exit, so the time taken does not reveal a matching
// prefix.
bool ConstantTimeEquals(absl::string_view given, absl::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^
                                       (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

class ActivationServiceImpl final : public pb::ActivationService::Service {
 public:
  explicit ActivationServiceImpl(ServiceOptions options)
      : options_(std::move(options)) {}

  grpc::Status ListActivations(grpc::ServerContext* context,
                               const pb::ListActivationsRequest*,
                               pb::ListActivationsResponse* response) override {
    if (grpc::Status s = Authorize(context); !s.ok()) return s;
    DescribeActivations(response);
    return grpc::Status::OK;
  }

  grpc::Status GetServerInfo(grpc::ServerContext* context,
                             const pb::GetServerInfoRequest*,
                             pb::ServerInfo* info) override {
    if (grpc::Status s = Authorize(context); !s.ok()) return s;
    info->set_version(options_.version);
    info->set_isa(options_.isa);
    info->set_compute_threads(options_.compute_threads);
    info->set_max_message_bytes(options_.max_message_bytes);
    info->set_max_elements(options_.max_elements);
    info->set_max_batch_items(options_.max_batch_items);
    info->set_max_inflight(options_.max_inflight);
    return grpc::Status::OK;
  }

  grpc::Status Forward(grpc::ServerContext* context,
                       const pb::ForwardRequest* request,
                       pb::ForwardResponse* response) override {
    return Run(context, "Forward", *request, response, EvaluateForward);
  }

  grpc::Status Backward(grpc::ServerContext* context,
                        const pb::BackwardRequest* request,
                        pb::BackwardResponse* response) override {
    return Run(context, "Backward", *request, response, EvaluateBackward);
  }

  grpc::Status BatchEvaluate(grpc::ServerContext* context,
                             const pb::BatchEvaluateRequest* request,
                             pb::BatchEvaluateResponse* response) override {
    return Run(context, "BatchEvaluate", *request, response, EvaluateBatch);
  }

 private:
  grpc::Status Authorize(grpc::ServerContext* context) const {
    if (options_.auth_token.empty()) return grpc::Status::OK;
    const auto& metadata = context->client_metadata();
    auto it = metadata.find("authorization");
    const absl::string_view given =
        it == metadata.end()
            ? ""
            : absl::string_view(it->second.data(), it->second.size());
    if (given.substr(0, 7) == "Bearer " &&
        ConstantTimeEquals(given.substr(7), options_.auth_token)) {
      return grpc::Status::OK;
    }
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        it == metadata.end()
            ? "authorization: metadata missing (send 'Bearer <token>')"
            : "authorization: the bearer token is not valid");
  }

  // Admission: token, in-flight limit, and whether the deadline can be met at
  // all.
  absl::Status Admit(grpc::ServerContext* context,
                     const CallFacts& facts) const {
    if (context->IsCancelled())
      return absl::CancelledError("the client cancelled the call");
    const auto deadline = context->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      const double left = std::chrono::duration<double>(
                              deadline - std::chrono::system_clock::now())
                              .count();
      const double needed =
          static_cast<double>(facts.elements) / kMinElementsPerSecond;
      if (left < needed) {
        return absl::DeadlineExceededError(absl::StrCat(
            "deadline: ", static_cast<int64_t>(left * 1e3),
            " ms left is too short for ", facts.elements,
            " elements (at least ", static_cast<int64_t>(needed * 1e3 + 1),
            " ms needed)"));
      }
    }
    return absl::OkStatus();
  }

  template <typename Request, typename Response, typename Evaluate>
  grpc::Status Run(grpc::ServerContext* context, const char* method,
                   const Request& request, Response* response,
                   Evaluate evaluate) {
    const auto start = Clock::now();
    const CallFacts facts = Facts(request);
    CallTiming timing;
    absl::Status status = ToAbslStatus(Authorize(context));
    const int inflight = options_.inflight->fetch_add(1) + 1;
    if (status.ok() && options_.max_inflight > 0 &&
        inflight > options_.max_inflight) {
      status = absl::ResourceExhaustedError(absl::StrCat(
          "server busy: ", options_.max_inflight,
          " calls already in compute (--max_inflight = ", options_.max_inflight,
          ")"));
    }
    if (status.ok()) status = Admit(context, facts);
    if (status.ok()) {
      if (options_.metrics) options_.metrics->inflight().Increment();
      const ComputeContext& pool =
          options_.compute ? *options_.compute : ComputeContext::Inline();
      const ComputeContext call = pool.ForCall([context] {
        if (!context->IsCancelled()) return absl::OkStatus();
        return std::chrono::system_clock::now() >= context->deadline()
                   ? absl::DeadlineExceededError(
                         "deadline exceeded during computation")
                   : absl::CancelledError("the client cancelled the call");
      });
      status = evaluate(request, response, options_, call, &timing);
      if (options_.metrics) options_.metrics->inflight().Decrement();
    }
    options_.inflight->fetch_sub(1);
    if (!status.ok()) response->Clear();
    // Microseconds with three decimals: small calls take well under one.
    context->AddTrailingMetadata("actd-decode-us", Micros(timing.decode_ns));
    context->AddTrailingMetadata("actd-compute-us", Micros(timing.compute_ns));
    context->AddTrailingMetadata("actd-encode-us", Micros(timing.encode_ns));
    Report(context, method, facts, status, request.ByteSizeLong(),
           status.ok() ? response->ByteSizeLong() : 0,
           std::chrono::duration<double>(Clock::now() - start).count());
    return ToGrpcStatus(status);
  }

  void Report(grpc::ServerContext* context, const char* method,
              const CallFacts& facts, const absl::Status& status,
              size_t bytes_in, size_t bytes_out, double seconds) {
    const std::string code = absl::StatusCodeToString(status.code());
    if (options_.metrics) {
      options_.metrics->Record(method, facts.activation, facts.dtype, code,
                               seconds, status.ok() ? facts.elements : 0,
                               bytes_in, bytes_out);
    }
    const uint64_t id = ++request_counter_;
    const std::string peer = context->peer();
    LogAccess({.request_id = id,
               .method = method,
               .activation = facts.activation,
               .dtype = facts.dtype,
               .elements = facts.elements,
               .code = code,
               .duration_us = static_cast<int64_t>(seconds * 1e6),
               .peer = peer},
              options_.access_log);
    if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument &&
        status.code() != absl::StatusCode::kNotFound) {
      spdlog::warn("request id={} {} failed: {}", id, method,
                   status.ToString());
    }
  }

  const ServiceOptions options_;
  std::atomic<uint64_t> request_counter_{0};
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

std::unique_ptr<pb::ActivationService::Service> NewActivationService(
    ServiceOptions options) {
  return std::make_unique<ActivationServiceImpl>(std::move(options));
}

}  // namespace actd
