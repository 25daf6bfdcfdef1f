// `actctl bench`: a closed-loop load test of Forward or Backward in the
// manner of ghz. Workers share one channel (or several with --connections),
// optionally paced to a request rate, and the report gives throughput,
// latency percentiles, a latency histogram, status codes and bytes per second.
#ifndef ACTD_CLIENT_CLI_BENCH_H_
#define ACTD_CLIENT_CLI_BENCH_H_

#include <cstdint>
#include <string>

#include "client/cli/output.h"
#include "client/cli/request_args.h"

namespace actd::cli {

struct BenchArgs {
  std::string name = "relu";
  std::string direction = "forward";  // forward | backward
  int concurrency = 4;                // -c: workers with a call in flight
  int connections = 1;                // channels the workers spread over
  int64_t total = 200;                // -n: requests, unless -z is given
  std::string duration;               // -z: e.g. "5s", "500ms", "1m"
  double rps = 0;                     // --rps: overall pace; 0 = unpaced
  int64_t elements = 1024;            // tensor size when --shape is absent
  std::string report;                 // --report: also write .json or .csv
  TensorArgs tensor;                  // shape, dtype, encoding, seed
  SpecArgs spec;
};

// Runs the load and prints the report (and writes it to `report` when set:
// the JSON document of -o json, or CSV with one header and one value row);
// 0 when every call succeeded, else 1. JSON keys keep one fixed order.
int RunBench(const RunContext& context, const BenchArgs& args);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_BENCH_H_
