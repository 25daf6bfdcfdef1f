// Handlers on gRPC's callback API: admit the call (bearer token, parse,
// validation, in-flight limit, then cancellation and whether the deadline
// leaves time for the elements), evaluate, serialize, then report (status,
// timing metadata, metrics, access log) and finish. The work itself lives in
// evaluate.cc, the wire format in wire.cc.
//
// Threads: gRPC runs a handler on one of its own threads. A small call is
// evaluated right there and finishes before the handler returns (no thread
// handoff); a large one is handed to the compute pool once, so that gRPC's
// threads keep serving the transport while it computes.
#include "server/service/activation_service.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "activation/v1/activation.grpc.pb.h"
#include "server/service/access_log.h"
#include "server/service/admission.h"
#include "server/service/metrics.h"
#include "server/service/wire.h"
#include "spdlog/spdlog.h"

namespace actd {
namespace {

namespace pb = activation::v1;
using Clock = std::chrono::steady_clock;
template <class Request>
using Received = wire::Received<Request>;

// The methods' indexes in activation.v1.ActivationService, in .proto order
// (the order the generated Service adds them in).
enum MethodIndex {
  kListActivations = 0,
  kForward = 1,
  kBackward = 2,
  kBatchEvaluate = 3,
  kGetServerInfo = 4,
};

// What a request is, for metrics and logs.
struct CallFacts {
  std::string activation;
  std::string dtype;
  int64_t elements = 0;  // as the shapes claim
};

int64_t Elements(const pb::Tensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape()) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return 0;  // invalid
  }
  return n;
}

std::string DTypeLabel(const pb::Tensor& t) {
  if (t.dtype() == pb::DATA_TYPE_BFLOAT16) return "bfloat16";
  if (t.dtype() == pb::DATA_TYPE_FLOAT16) return "float16";
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

int64_t NanosSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() -
                                                              start)
      .count();
}

// One admitted or refused call, from the handler to Finish.
struct Call {
  grpc::CallbackServerContext* context;
  grpc::ServerUnaryReactor* reactor;
  const char* method;
  CallFacts facts;
  Clock::time_point start;
  size_t bytes_in = 0;
  int64_t valid_elements = 0;  // what validation found, for the cost estimate
};

class ActivationServiceImpl final : public pb::ActivationService::Service {
 public:
  explicit ActivationServiceImpl(ServiceOptions options)
      : options_(std::move(options)) {
    pb::ListActivationsResponse list;
    DescribeActivations(&list);
    if (absl::Status s = wire::SerializeCopying(list, &list_reply_.buffer);
        !s.ok()) {
      spdlog::critical("cannot serialize ListActivations: {}", s.ToString());
    }
    Register<pb::ListActivationsRequest>(
        kListActivations, [this](auto* context, auto* in, auto* reply) {
          return Describe(context, *in, [this, reply] {
            reply->buffer = list_reply_.buffer;  // shares the slices
            return absl::OkStatus();
          });
        });
    Register<pb::GetServerInfoRequest>(
        kGetServerInfo, [this](auto* context, auto* in, auto* reply) {
          return Describe(context, *in,
                          [this, reply] { return ServerInfo(reply); });
        });
    Register<pb::ForwardRequest>(kForward, [this](auto* c, auto* in, auto* r) {
      return Evaluate<pb::ForwardResponse>(
          c, "Forward", *in, r,
          [](pb::ForwardRequest& request, auto&&... rest) {
            return EvaluateForwardInPlace(&request, rest...);
          });
    });
    Register<pb::BackwardRequest>(
        kBackward, [this](auto* c, auto* in, auto* r) {
          return Evaluate<pb::BackwardResponse>(c, "Backward", *in, r,
                                                EvaluateBackward);
        });
    Register<pb::BatchEvaluateRequest>(
        kBatchEvaluate, [this](auto* c, auto* in, auto* r) {
          return Evaluate<pb::BatchEvaluateResponse>(c, "BatchEvaluate", *in, r,
                                                     EvaluateBatch);
        });
  }

 private:
  // Makes `index` a callback method whose request and response travel through
  // wire.h (gRPC's SerializationTraits of Received<Request> and Reply).
  template <class Request, class Handler>
  void Register(MethodIndex index, Handler handler) {
    MarkMethodCallback(
        index, new grpc::internal::CallbackUnaryHandler<Received<Request>,
                                                        wire::Reply>(
                   std::move(handler)));
  }

  // ListActivations and GetServerInfo: token and parse, then `answer`.
  template <class Request>
  grpc::ServerUnaryReactor* Describe(
      grpc::CallbackServerContext* context, const Received<Request>& in,
      const std::function<absl::Status()>& answer) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::Status status = Authorize(context);
    if (status.ok()) status = in.status;
    if (status.ok()) status = answer();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  absl::Status ServerInfo(wire::Reply* reply) const {
    pb::ServerInfo info;
    info.set_version(options_.version);
    info.set_isa(options_.isa);
    info.set_compute_threads(options_.compute_threads);
    info.set_max_message_bytes(options_.max_message_bytes);
    info.set_max_elements(options_.max_elements);
    info.set_max_batch_items(options_.max_batch_items);
    info.set_max_inflight(options_.max_inflight);
    return wire::SerializeCopying(info, &reply->buffer);
  }

  absl::Status Authorize(grpc::CallbackServerContext* context) const {
    return CheckBearerToken(options_.auth_token, Authorization(context));
  }

  // Whether the call is still wanted and its deadline can be met at all, for
  // a call of `elements`.
  absl::Status CheckDeadline(grpc::CallbackServerContext* context,
                             int64_t elements) const {
    if (context->IsCancelled())
      return absl::CancelledError("the client cancelled the call");
    return actd::CheckDeadline(context->deadline(), elements,
                               options_.min_elements_per_second);
  }

  // Admission, in this order: token, parse, validation (so a malformed request
  // is refused for what it is, before any cost estimate), in-flight limit,
  // cancellation and deadline (CheckDeadline). On OK the call counts as in
  // flight until Release.
  template <class Request>
  absl::Status Admit(const Received<Request>& in, Call* call) {
    if (absl::Status s = Authorize(call->context); !s.ok()) return s;
    if (!in.status.ok()) return in.status;
    if (absl::Status s =
            ValidateRequest(in.message, options_, &call->valid_elements);
        !s.ok()) {
      return s;
    }
    const int inflight = options_.inflight->fetch_add(1) + 1;
    absl::Status status;
    if (options_.max_inflight > 0 && inflight > options_.max_inflight) {
      status = ServerBusy(options_.max_inflight);
    }
    if (status.ok())
      status = CheckDeadline(call->context, call->valid_elements);
    if (!status.ok()) {
      options_.inflight->fetch_sub(1);
      return status;
    }
    if (options_.metrics) options_.metrics->inflight().Increment();
    return absl::OkStatus();
  }

  void Release() {
    if (options_.metrics) options_.metrics->inflight().Decrement();
    options_.inflight->fetch_sub(1);
  }

  // The pool with this call's stop check: cancelled by the client, or past
  // its deadline.
  ComputeContext ForCall(grpc::CallbackServerContext* context) const {
    const ComputeContext& pool =
        options_.compute ? *options_.compute : ComputeContext::Inline();
    return pool.ForCall([context] {
      const bool expired =
          std::chrono::system_clock::now() >= context->deadline();
      if (!expired && !context->IsCancelled()) return absl::OkStatus();
      return expired ? absl::DeadlineExceededError(
                           "deadline exceeded during computation")
                     : absl::CancelledError("the client cancelled the call");
    });
  }

  template <class Response, class Request, class EvaluateFn>
  grpc::ServerUnaryReactor* Evaluate(grpc::CallbackServerContext* context,
                                     const char* method,
                                     const Received<Request>& in,
                                     wire::Reply* reply, EvaluateFn evaluate) {
    Call call{context,      context->DefaultReactor(),
              method,       Facts(in.message),
              Clock::now(), in.wire_bytes};
    if (absl::Status s = Admit(in, &call); !s.ok()) {
      Finish(call, s, CallTiming(), 0);
      return call.reactor;
    }
    // `in` and `reply` live until the call is finished.
    auto work = [this, call, &in, reply, evaluate] {
      CallTiming timing;
      Response response;
      absl::Status status = evaluate(in.message, &response, options_,
                                     ForCall(call.context), &timing);
      Release();
      if (status.ok()) {
        const auto start = Clock::now();
        status = wire::SerializeMovingTensors(&response, &reply->buffer);
        timing.encode_ns += NanosSince(start);
      }
      Finish(call, status, timing, status.ok() ? reply->buffer.Length() : 0);
    };
    if (call.valid_elements <= kInlineElements || options_.compute == nullptr) {
      work();
    } else {
      options_.compute->Schedule(std::move(work));
    }
    return call.reactor;
  }

  void Finish(const Call& call, const absl::Status& status,
              const CallTiming& timing, size_t bytes_out) {
    AddTimingTrailers(call.context, timing);
    Report(call, status, bytes_out);
    call.reactor->Finish(ToGrpcStatus(status));
  }

  void Report(const Call& call, const absl::Status& status, size_t bytes_out) {
    const double seconds =
        std::chrono::duration<double>(Clock::now() - call.start).count();
    const CallFacts& facts = call.facts;
    const std::string code = absl::StatusCodeToString(status.code());
    if (options_.metrics) {
      options_.metrics->Record(call.method, facts.activation, facts.dtype, code,
                               seconds, status.ok() ? facts.elements : 0,
                               call.bytes_in, bytes_out);
    }
    const uint64_t id = ++request_counter_;
    const std::string peer = call.context->peer();
    LogAccess({.request_id = id,
               .method = call.method,
               .activation = facts.activation,
               .dtype = facts.dtype,
               .elements = facts.elements,
               .code = code,
               .duration_us = static_cast<int64_t>(seconds * 1e6),
               .peer = peer},
              options_.access_log);
    if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument &&
        status.code() != absl::StatusCode::kNotFound) {
      spdlog::warn("request id={} {} failed: {}", id, call.method,
                   status.ToString());
    }
  }

  const ServiceOptions options_;
  wire::Reply list_reply_;  // ListActivations' answer never changes
  std::atomic<uint64_t> request_counter_{0};
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

std::optional<absl::string_view> Authorization(
    const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

std::unique_ptr<grpc::Service> NewActivationService(ServiceOptions options) {
  return std::make_unique<ActivationServiceImpl>(std::move(options));
}

void PrepareProcess() {
  wire::TuneAllocator();
  // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's locks)
  // records its lock order in a global graph for deadlock detection: 6 % of
  // the server's time under 256-element ModelInfer calls (perf), for a check
  // meant for debug builds.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void ConfigureServer(const ServiceOptions& options,
                     grpc::ServerBuilder* builder) {
  wire::SetMaxReceiveBytes(options.max_message_bytes);
  builder->AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
}

}  // namespace actd
