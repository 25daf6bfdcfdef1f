// Admission, stop checks and reporting shared by the protocols' handlers.
#include "server/service/admission.h"

#include <atomic>

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

absl::Status RunAdmitted(
    const ServiceOptions& options, const CallEdge& edge, const CallFacts& facts,
    int64_t bytes_in,
    const std::function<absl::Status(const ComputeContext&)>& evaluate,
    const std::function<int64_t()>& bytes_out) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  {
    const InflightSlot slot(options);
    status = Admit(options, edge, facts, slot);
    if (status.ok()) {
      if (options.metrics) options.metrics->inflight().Increment();
      const ComputeContext& pool =
          options.compute ? *options.compute : ComputeContext::Inline();
      const ComputeContext call = pool.ForCall([&edge] {
        if (!edge.cancelled || !edge.cancelled()) return absl::OkStatus();
        return SystemClock::now() >= edge.deadline
                   ? absl::DeadlineExceededError(
                         "deadline exceeded during computation")
                   : absl::CancelledError("the client cancelled the call");
      });
      status = evaluate(call);
      if (options.metrics) options.metrics->inflight().Decrement();
    }
  }
  Report(options, edge, facts, status, bytes_in, status.ok() ? bytes_out() : 0,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
             .count());
  return status;
}

std::string Micros(int64_t nanos) {
  return absl::StrFormat("%.3f", static_cast<double>(nanos) / 1e3);
}

}  // namespace actd
