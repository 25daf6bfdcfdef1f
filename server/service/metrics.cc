// Metric families and their recording.
#include "server/service/metrics.h"

#include "server/core/activation.h"

namespace actd {

Metrics::Metrics(const std::string& version, const std::string& isa)
    : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("actd_requests_total")
                   .Help(
                       "Requests by protocol, method, activation, dtype and "
                       "status code")
                   .Register(*registry_);
  latency_ =
      &prometheus::BuildHistogram()
           .Name("actd_request_duration_seconds")
           .Help("Server-side latency of a request, by method and activation")
           .Register(*registry_);
  elements_ = &prometheus::BuildCounter()
                   .Name("actd_elements_total")
                   .Help("Tensor elements evaluated, by method")
                   .Register(*registry_);
  bytes_ = &prometheus::BuildCounter()
                .Name("actd_bytes_total")
                .Help("Message bytes received (in) and sent (out)")
                .Register(*registry_);
  inflight_ = &prometheus::BuildGauge()
                   .Name("actd_inflight_requests")
                   .Help(
                       "Requests admitted and not yet evaluated (the calls "
                       "--max_inflight counts)")
                   .Register(*registry_)
                   .Add({});
  // An info metric: constant 1, the facts in its labels.
  prometheus::BuildGauge()
      .Name("actd_build_info")
      .Help("Build version and the compute kernels' instruction set")
      .Register(*registry_)
      .Add({{"version", version}, {"isa", isa}})
      .Set(1);
}

void Metrics::Record(absl::string_view protocol, absl::string_view method,
                     absl::string_view activation, absl::string_view dtype,
                     absl::string_view code, double seconds, int64_t elements,
                     int64_t bytes_in, int64_t bytes_out) {
  // The activation label comes from the client: a name the server does not
  // serve would add a series per distinct string, without bound.
  const std::string m(method), p(protocol),
      a(activation.empty() || FindActivation(activation) != nullptr
            ? activation
            : "unknown");
  requests_
      ->Add({{"protocol", p},
             {"method", m},
             {"activation", a},
             {"dtype", std::string(dtype)},
             {"code", std::string(code)}})
      .Increment();
  // 50 µs to ~13 s, doubling.
  static const prometheus::Histogram::BucketBoundaries kBuckets = [] {
    prometheus::Histogram::BucketBoundaries b;
    for (double v = 50e-6; v < 15; v *= 2) b.push_back(v);
    return b;
  }();
  latency_->Add({{"protocol", p}, {"method", m}, {"activation", a}}, kBuckets)
      .Observe(seconds);
  elements_->Add({{"protocol", p}, {"method", m}})
      .Increment(static_cast<double>(elements));
  bytes_->Add({{"direction", "in"}}).Increment(static_cast<double>(bytes_in));
  bytes_->Add({{"direction", "out"}}).Increment(static_cast<double>(bytes_out));
}

}  // namespace actd
