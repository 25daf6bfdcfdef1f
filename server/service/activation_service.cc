// Handlers on gRPC's callback API (Forward, Backward and BatchEvaluate through
// the generic routes of unary_routes.h): parse and validate the request, then
// run it on admission.h's path (token, the request's own errors, shutdown, the
// in-flight limit, cancellation and whether the deadline leaves time for the
// elements; evaluate and serialize; metrics and the access log), and finish
// with the timing metadata. The work itself lives in evaluate.cc, the wire
// format in wire.cc.
//
// Threads: gRPC runs a handler on one of its own threads. A small call is
// evaluated right there and finishes before the handler returns (no thread
// handoff); a large one is handed to the compute pool once, so that gRPC's
// threads keep serving the transport while it computes.
#include "server/service/activation_service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "activation/v1/activation.grpc.pb.h"
#include "server/service/admission.h"
#include "server/service/unary_routes.h"
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
  return {r.activation().name(), DTypeLabel(r.input()), Elements(r.input()),
          absl::OkStatus()};
}
CallFacts Facts(const pb::BackwardRequest& r) {
  return {r.activation().name(), DTypeLabel(r.input()), Elements(r.input()),
          absl::OkStatus()};
}
CallFacts Facts(const pb::BatchEvaluateRequest& r) {
  CallFacts f{"batch", "mixed", 0, absl::OkStatus()};
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

class ActivationServiceImpl final : public pb::ActivationService::Service {
 public:
  ActivationServiceImpl(ServiceOptions options, UnaryRoutes* routes)
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
    Route<pb::ForwardRequest>(
        routes, kForward, "Forward", [this](auto&&... call) {
          Evaluate<pb::ForwardResponse>(
              call..., [](pb::ForwardRequest& request, auto&&... rest) {
                return EvaluateForwardInPlace(&request, rest...);
              });
        });
    Route<pb::BackwardRequest>(
        routes, kBackward, "Backward", [this](auto&&... call) {
          Evaluate<pb::BackwardResponse>(call..., EvaluateBackward);
        });
    Route<pb::BatchEvaluateRequest>(
        routes, kBatchEvaluate, "BatchEvaluate", [this](auto&&... call) {
          Evaluate<pb::BatchEvaluateResponse>(call..., EvaluateBatch);
        });
  }

 private:
  // Makes `index` a callback method whose request and response travel through
  // wire.h (gRPC's SerializationTraits of Received<Request> and Reply): the
  // cheap methods.
  template <class Request, class Handler>
  void Register(MethodIndex index, Handler handler) {
    MarkMethodCallback(
        index, new grpc::internal::CallbackUnaryHandler<Received<Request>,
                                                        wire::Reply>(
                   std::move(handler)));
  }

  // Serves `index` through `routes` (unary_routes.h): the hot methods. The
  // handler is called with (context, method, in, reply, finish).
  template <class Request, class Handler>
  void Route(UnaryRoutes* routes, MethodIndex index, const char* method,
             Handler handler) {
    MarkMethodGeneric(index);
    routes->Add<Request>(
        absl::StrCat("/", pb::ActivationService::service_full_name(), "/",
                     method),
        [method, handler](grpc::ServerContextBase* context, const auto& in,
                          wire::Reply* reply, FinishCall finish) {
          handler(context, method, in, reply, std::move(finish));
        });
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

  // Parse and validation (the request's own errors, refused before admission
  // looks at its cost), then admission, evaluation and serialization on
  // admission.h's path: inline for a small call, on the pool for a large one.
  template <class Response, class Request, class EvaluateFn>
  void Evaluate(grpc::ServerContextBase* context, const char* method,
                const Received<Request>& in, wire::Reply* reply,
                FinishCall finish, EvaluateFn evaluate) {
    CallFacts facts = Facts(in.message);
    facts.invalid = in.status;
    int64_t valid_elements = 0;
    if (facts.invalid.ok()) {
      facts.invalid = ValidateRequest(in.message, options_, &valid_elements);
      if (facts.invalid.ok()) facts.elements = valid_elements;
    }
    CallEdge edge{"native",
                  method,
                  context->peer(),
                  Authorization(context),
                  context->deadline(),
                  [context] { return context->IsCancelled(); }};
    auto timing = std::make_shared<CallTiming>();
    // `in` and `reply` live until the call is finished.
    RunAdmittedAsync(
        options_, std::move(edge), std::move(facts),
        static_cast<int64_t>(in.wire_bytes),
        [this, &in, reply, timing, evaluate](const ComputeContext& compute) {
          Response response;
          absl::Status status =
              evaluate(in.message, &response, options_, compute, timing.get());
          if (!status.ok()) return status;
          const auto start = Clock::now();
          status = wire::SerializeMovingTensors(&response, &reply->buffer);
          timing->encode_ns += NanosSince(start);
          return status;
        },
        [reply] { return static_cast<int64_t>(reply->buffer.Length()); },
        [context, timing, finish = std::move(finish)](const absl::Status& s) {
          AddTimingTrailers(context, *timing);
          finish(s);
        });
  }

  const ServiceOptions options_;
  wire::Reply list_reply_;  // ListActivations' answer never changes
};

}  // namespace

std::unique_ptr<grpc::Service> NewActivationService(ServiceOptions options,
                                                    UnaryRoutes* routes) {
  return std::make_unique<ActivationServiceImpl>(std::move(options), routes);
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
