// Metric families and their recording.
#include "server/service/metrics.h"

#include "absl/strings/str_cat.h"
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
  auto& bytes = prometheus::BuildCounter()
                    .Name("actd_bytes_total")
                    .Help("Message bytes received (in) and sent (out)")
                    .Register(*registry_);
  bytes_in_ = &bytes.Add({{"direction", "in"}});
  bytes_out_ = &bytes.Add({{"direction", "out"}});
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

Metrics::Series Metrics::SeriesFor(absl::string_view protocol,
                                   absl::string_view method,
                                   absl::string_view activation,
                                   absl::string_view dtype,
                                   absl::string_view code) {
  constexpr absl::string_view kSep("\0", 1);
  std::string key = absl::StrCat(protocol, kSep, method, kSep, activation, kSep,
                                 dtype, kSep, code);
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = series_.try_emplace(std::move(key));
  if (!inserted) return it->second;
  // 50 µs to ~13 s, doubling.
  prometheus::Histogram::BucketBoundaries buckets;
  for (double v = 50e-6; v < 15; v *= 2) buckets.push_back(v);
  const std::string p(protocol), m(method), a(activation);
  it->second =
      Series{&requests_->Add({{"protocol", p},
                              {"method", m},
                              {"activation", a},
                              {"dtype", std::string(dtype)},
                              {"code", std::string(code)}}),
             &latency_->Add({{"protocol", p}, {"method", m}, {"activation", a}},
                            buckets),
             &elements_->Add({{"protocol", p}, {"method", m}})};
  return it->second;
}

void Metrics::Record(absl::string_view protocol, absl::string_view method,
                     absl::string_view activation, absl::string_view dtype,
                     absl::string_view code, double seconds, int64_t elements,
                     int64_t bytes_in, int64_t bytes_out) {
  // The activation label comes from the client: a name the server does not
  // serve would add a series per distinct string, without bound.
  if (!activation.empty() && FindActivation(activation) == nullptr) {
    activation = "unknown";
  }
  const Series series = SeriesFor(protocol, method, activation, dtype, code);
  series.requests->Increment();
  series.latency->Observe(seconds);
  series.elements->Increment(static_cast<double>(elements));
  bytes_in_->Increment(static_cast<double>(bytes_in));
  bytes_out_->Increment(static_cast<double>(bytes_out));
}

}  // namespace actd
