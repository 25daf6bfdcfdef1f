// Admission, stop checks and reporting shared by the protocols' handlers.
#include "server/service/admission.h"

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/service/access_log.h"
#include "server/service/metrics.h"
#include "spdlog/spdlog.h"

namespace actd {
namespace {

using SystemClock = std::chrono::system_clock;

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

// The server-wide in-flight count of `options`, held for one call.
class InflightSlot {
 public:
  explicit InflightSlot(const ServiceOptions& options)
      : count_(options.inflight.get()) {
    const int now = count_ ? count_->fetch_add(1) + 1 : 1;
    over_ = options.max_inflight > 0 && now > options.max_inflight;
  }
  ~InflightSlot() {
    if (count_) count_->fetch_sub(1);
  }
  bool over() const { return over_; }

 private:
  std::atomic<int>* count_;
  bool over_ = false;
};

absl::Status Admit(const ServiceOptions& options, const CallEdge& edge,
                   const CallFacts& facts, const InflightSlot& slot) {
  if (absl::Status s = CheckBearerToken(options.auth_token, edge.authorization);
      !s.ok()) {
    return s;
  }
  if (!facts.invalid.ok()) return facts.invalid;
  if (options.ready && !options.ready->load()) {
    return absl::UnavailableError(
        "the server is shutting down; send the call to another replica");
  }
  if (slot.over()) return ServerBusy(options.max_inflight);
  if (edge.cancelled && edge.cancelled())
    return absl::CancelledError("the client cancelled the call");
  return CheckDeadline(edge.deadline, facts.elements,
                       options.min_elements_per_second);
}

void Report(const ServiceOptions& options, const CallEdge& edge,
            const CallFacts& facts, const absl::Status& status,
            int64_t bytes_in, int64_t bytes_out, double seconds) {
  static std::atomic<uint64_t> request_counter{0};
  const std::string code = absl::StatusCodeToString(status.code());
  if (options.metrics) {
    options.metrics->Record(
        edge.protocol, edge.method, facts.activation, facts.dtype, code,
        seconds, status.ok() ? facts.elements : 0, bytes_in, bytes_out);
  }
  const uint64_t id = ++request_counter;
  LogAccess(
      {.request_id = id,
       .protocol = std::string_view(edge.protocol.data(), edge.protocol.size()),
       .method = std::string_view(edge.method.data(), edge.method.size()),
       .activation = facts.activation,
       .dtype = facts.dtype,
       .elements = facts.elements,
       .code = code,
       .duration_us = static_cast<int64_t>(seconds * 1e6),
       .peer = edge.peer},
      options.access_log);
  if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kNotFound) {
    spdlog::warn("request id={} {} failed: {}", id, std::string(edge.method),
                 status.ToString());
  }
}

}  // namespace

absl::Status CheckBearerToken(absl::string_view token,
                              std::optional<absl::string_view> authorization) {
  if (token.empty()) return absl::OkStatus();
  if (authorization.has_value() && authorization->substr(0, 7) == "Bearer " &&
      ConstantTimeEquals(authorization->substr(7), token)) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(
      authorization.has_value()
          ? "authorization: the bearer token is not valid"
          : "authorization: metadata missing (send 'Bearer <token>')");
}

absl::Status CheckDeadline(SystemClock::time_point deadline, int64_t elements,
                           double elements_per_second) {
  if (deadline == SystemClock::time_point::max()) return absl::OkStatus();
  const double left =
      std::chrono::duration<double>(deadline - SystemClock::now()).count();
  const double needed = static_cast<double>(elements) / elements_per_second;
  if (left >= needed) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "deadline: ", static_cast<int64_t>(left * 1e3),
      " ms left is too short for ", elements, " elements (at least ",
      static_cast<int64_t>(needed * 1e3 + 1), " ms needed)"));
}

absl::Status ServerBusy(int max_inflight) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "server busy: ", max_inflight,
      " calls already in compute (--max_inflight = ", max_inflight, ")"));
}

namespace {

// One call from admission to its report. Holds the call's in-flight slot
// until it has been evaluated.
class AdmittedRun {
 public:
  AdmittedRun(const ServiceOptions& options, CallEdge edge, CallFacts facts,
              int64_t bytes_in)
      : options_(options),
        edge_(std::move(edge)),
        facts_(std::move(facts)),
        bytes_in_(bytes_in) {
    slot_.emplace(options);
    status_ = Admit(options, edge_, facts_, *slot_);
    // In flight from admission (queued for the pool or computing) until
    // evaluated, as --max_inflight counts.
    admitted_ = status_.ok();
    if (admitted_ && options_.metrics) options_.metrics->inflight().Increment();
  }

  bool admitted() const { return admitted_; }
  const CallFacts& facts() const { return facts_; }

  // Evaluates an admitted call with a stop check built from its edge, then
  // reports it; returns the call's status.
  absl::Status Complete(const EvaluateFn& evaluate,
                        const BytesOutFn& bytes_out) {
    if (admitted_) {
      const ComputeContext& pool =
          options_.compute ? *options_.compute : ComputeContext::Inline();
      const ComputeContext call = pool.ForCall([this] {
        if (!edge_.cancelled || !edge_.cancelled()) return absl::OkStatus();
        return SystemClock::now() >= edge_.deadline
                   ? absl::DeadlineExceededError(
                         "deadline exceeded during computation")
                   : absl::CancelledError("the client cancelled the call");
      });
      status_ = evaluate(call);
      if (options_.metrics) options_.metrics->inflight().Decrement();
    }
    slot_.reset();
    Report(
        options_, edge_, facts_, status_, bytes_in_,
        status_.ok() ? bytes_out() : 0,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count());
    return status_;
  }

 private:
  const ServiceOptions& options_;
  const CallEdge edge_;
  const CallFacts facts_;
  const int64_t bytes_in_;
  const std::chrono::steady_clock::time_point start_ =
      std::chrono::steady_clock::now();
  std::optional<InflightSlot> slot_;
  absl::Status status_;
  bool admitted_ = false;
};

}  // namespace

absl::Status RunAdmitted(const ServiceOptions& options, const CallEdge& edge,
                         const CallFacts& facts, int64_t bytes_in,
                         const EvaluateFn& evaluate,
                         const BytesOutFn& bytes_out) {
  return AdmittedRun(options, edge, facts, bytes_in)
      .Complete(evaluate, bytes_out);
}

void RunAdmittedAsync(const ServiceOptions& options, CallEdge edge,
                      CallFacts facts, int64_t bytes_in, EvaluateFn evaluate,
                      BytesOutFn bytes_out,
                      std::function<void(absl::Status)> done) {
  auto run = std::make_shared<AdmittedRun>(options, std::move(edge),
                                           std::move(facts), bytes_in);
  const bool on_pool = run->admitted() && options.compute != nullptr &&
                       run->facts().elements > kInlineElements;
  auto work = [run, evaluate = std::move(evaluate),
               bytes_out = std::move(bytes_out), done = std::move(done)] {
    done(run->Complete(evaluate, bytes_out));
  };
  if (on_pool) {
    options.compute->Schedule(std::move(work));
  } else {
    work();
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

std::optional<absl::string_view> Authorization(
    const grpc::ServerContextBase* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

void AddTimingTrailers(grpc::ServerContextBase* context,
                       const CallTiming& timing) {
  const auto micros = [](int64_t nanos) {
    return absl::StrFormat("%.3f", static_cast<double>(nanos) / 1e3);
  };
  context->AddTrailingMetadata("actd-decode-us", micros(timing.decode_ns));
  context->AddTrailingMetadata("actd-compute-us", micros(timing.compute_ns));
  context->AddTrailingMetadata("actd-encode-us", micros(timing.encode_ns));
}

}  // namespace actd
