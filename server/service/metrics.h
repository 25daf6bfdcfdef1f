// Prometheus metrics of the service (prometheus-cpp): requests by method,
// activation, dtype and code; latency by method and activation; elements and
// bytes; calls in flight; build info.
#ifndef ACTD_SERVER_SERVICE_METRICS_H_
#define ACTD_SERVER_SERVICE_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace actd {

class Metrics {
 public:
  Metrics(const std::string& version, const std::string& isa);

  // Thread-safe. `protocol`: "native" (ActivationService), "oip-grpc" or
  // "oip-http" (the Open Inference Protocol).
  void Record(absl::string_view protocol, absl::string_view method,
              absl::string_view activation, absl::string_view dtype,
              absl::string_view code, double seconds, int64_t elements,
              int64_t bytes_in, int64_t bytes_out);
  prometheus::Gauge& inflight() { return *inflight_; }
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  // A request's series for one set of labels. Families hand out pointers
  // that stay valid (series are never removed); looking them up in a family
  // builds and hashes a label map per family, so each set is looked up once.
  struct Series {
    prometheus::Counter* requests;
    prometheus::Histogram* latency;
    prometheus::Counter* elements;
  };
  Series SeriesFor(absl::string_view protocol, absl::string_view method,
                   absl::string_view activation, absl::string_view dtype,
                   absl::string_view code);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Counter>* elements_;
  prometheus::Counter* bytes_in_;
  prometheus::Counter* bytes_out_;
  prometheus::Gauge* inflight_;
  absl::Mutex mu_;
  // Keyed by the five labels joined with '\0'.
  absl::flat_hash_map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_METRICS_H_
