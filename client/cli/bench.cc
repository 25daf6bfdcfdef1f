// Load generator: `concurrency` threads issue blocking calls on shared
// channels. Request i is started no earlier than start + i / rps when paced.
// Each worker keeps its own samples; they are merged after the run, so the
// hot loop takes no locks.
#include "client/cli/bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace actd::cli {

namespace pb = activation::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  double seconds;
  int code;
};

struct WorkerResult {
  std::vector<Sample> samples;
  std::map<int, std::string> first_error;  // code -> first message seen
  int64_t bytes_sent = 0, bytes_received = 0;
};

// "5s", "500ms", "1m", "2h", "1.5" (seconds).
double ParseDuration(const std::string& text) {
  std::smatch m;
  if (!std::regex_match(text, m, std::regex(R"((\d+(?:\.\d+)?)(ms|s|m|h)?)"))) {
    throw UsageError("-z '" + text + "': expected a duration like 5s or 500ms");
  }
  const double v = std::stod(m[1]);
  const std::string unit = m[2];
  return unit == "ms"  ? v / 1e3
         : unit == "m" ? v * 60
         : unit == "h" ? v * 3600
                       : v;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(std::ceil(p / 100 * sorted.size()));
  return sorted[std::clamp<size_t>(i, 1, sorted.size()) - 1];
}

std::string Ms(double seconds) {
  return absl::StrFormat("%.3f ms", seconds * 1e3);
}

std::string Bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (n >= 1024 && u < 3) n /= 1024, ++u;
  return absl::StrFormat("%.2f %s", n, units[u]);
}

}  // namespace

int RunBench(const RunContext& context, const BenchArgs& args) {
  // The input: standard normal values of --shape or [--elements].
  client::HostTensor input;
  input.shape = {args.elements};
  if (!args.tensor.shape.empty()) {
    absl::StatusOr<std::vector<int64_t>> shape =
        client::ParseShape(args.tensor.shape);
    if (!shape.ok()) throw UsageError(std::string(shape.status().message()));
    input.shape = *shape;
  }
  absl::StatusOr<pb::DataType> dtype = client::ParseDataType(
      args.tensor.dtype.empty() ? "float32" : args.tensor.dtype);
  if (!dtype.ok()) throw UsageError(std::string(dtype.status().message()));
  input.dtype = *dtype;
  std::mt19937_64 engine(args.tensor.seed);
  std::normal_distribution<double> normal;
  input.values.resize(client::ElementCount(input.shape));
  for (double& v : input.values) v = normal(engine);
  const client::Encoding encoding = EncodingOf(args.tensor);
  const pb::ActivationSpec spec =
      BuildSpec(args.name, args.spec, input.dtype, encoding);
  const bool backward = args.direction == "backward";
  pb::ForwardRequest forward;
  pb::BackwardRequest backward_request;
  *forward.mutable_activation() = spec;
  *forward.mutable_input() = client::ToProto(input, encoding);
  *backward_request.mutable_activation() = spec;
  *backward_request.mutable_input() = forward.input();
  const int64_t request_bytes =
      backward ? backward_request.ByteSizeLong() : forward.ByteSizeLong();

  const bool timed = !args.duration.empty();
  const double duration = timed ? ParseDuration(args.duration) : 0;
  std::vector<std::unique_ptr<client::ActdClient>> clients;
  for (int i = 0; i < args.connections; ++i) {
    client::ConnectionOptions options = context.connection;
    options.own_subchannels = args.connections > 1;
    clients.push_back(std::make_unique<client::ActdClient>(options));
  }

  std::atomic<int64_t> next{0}, done{0};
  std::vector<WorkerResult> results(args.concurrency);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(duration));
  auto worker = [&](int w) {
    client::ActdClient& client = *clients[w % clients.size()];
    WorkerResult& r = results[w];
    pb::ForwardResponse forward_response;
    pb::BackwardResponse backward_response;
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (!timed && i >= args.total) return;
      if (args.rps > 0) {
        const Clock::time_point due =
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(i / args.rps));
        if (timed && due >= end) return;
        std::this_thread::sleep_until(due);
      }
      if (timed && Clock::now() >= end) return;
      const Clock::time_point t0 = Clock::now();
      const grpc::Status status =
          backward ? client.Backward(backward_request, &backward_response)
                   : client.Forward(forward, &forward_response);
      const double seconds =
          std::chrono::duration<double>(Clock::now() - t0).count();
      r.samples.push_back({seconds, status.error_code()});
      done.fetch_add(1, std::memory_order_relaxed);
      r.bytes_sent += request_bytes;
      if (status.ok()) {
        r.bytes_received += backward ? backward_response.ByteSizeLong()
                                     : forward_response.ByteSizeLong();
      } else {
        r.first_error.emplace(status.error_code(), status.error_message());
      }
    }
  };
  // A progress bar on stderr, only when it is a terminal; erased at the end.
  std::atomic<bool> finished{false};
  std::thread progress;
  if (isatty(STDERR_FILENO)) {
    progress = std::thread([&] {
      while (!finished.load()) {
        const double fraction = std::clamp(
            timed
                ? std::chrono::duration<double>(Clock::now() - start).count() /
                      duration
                : static_cast<double>(done.load()) / args.total,
            0.0, 1.0);
        const int filled = static_cast<int>(fraction * 40);
        std::cerr << absl::StrFormat(
                         "\r[%s%s] %3d%%  %d calls", std::string(filled, '='),
                         std::string(40 - filled, ' '),
                         static_cast<int>(fraction * 100), done.load())
                  << std::flush;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::cerr << "\r\x1b[K" << std::flush;
    });
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < args.concurrency; ++w) threads.emplace_back(worker, w);
  for (std::thread& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  finished = true;
  if (progress.joinable()) progress.join();

  // Merge the workers' samples.
  std::vector<double> latencies;
  std::map<int, int64_t> codes;
  std::map<int, std::string> first_error;
  int64_t sent = 0, received = 0;
  for (const WorkerResult& r : results) {
    for (const Sample& s : r.samples) {
      latencies.push_back(s.seconds);
      ++codes[s.code];
    }
    first_error.insert(r.first_error.begin(), r.first_error.end());
    sent += r.bytes_sent;
    received += r.bytes_received;
  }
  std::sort(latencies.begin(), latencies.end());
  const int64_t count = latencies.size();
  double sum = 0;
  for (double v : latencies) sum += v;
  const double fastest = count ? latencies.front() : 0;
  const double slowest = count ? latencies.back() : 0;
  const double average = count ? sum / count : 0;
  const double rps = elapsed > 0 ? count / elapsed : 0;
  constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99};
  constexpr int kBuckets = 10;
  std::vector<int64_t> histogram(kBuckets);
  const double width = (slowest - fastest) / kBuckets;
  for (double v : latencies) {
    const int b = width > 0 ? static_cast<int>((v - fastest) / width) : 0;
    ++histogram[std::min(b, kBuckets - 1)];
  }
  const bool all_ok = codes.size() == 1 && codes.count(0) == 1;

  if (context.json) {
    using google::protobuf::Value;
    google::protobuf::Struct report;
    auto& f = *report.mutable_fields();
    auto number = [](double v) {
      Value value;
      value.set_number_value(v);
      return value;
    };
    f["activation"].set_string_value(args.name);
    f["direction"].set_string_value(args.direction);
    f["elements"] = number(input.values.size());
    f["concurrency"] = number(args.concurrency);
    f["count"] = number(count);
    f["total_seconds"] = number(elapsed);
    f["rps"] = number(rps);
    f["fastest_ms"] = number(fastest * 1e3);
    f["average_ms"] = number(average * 1e3);
    f["slowest_ms"] = number(slowest * 1e3);
    auto& percentiles = *f["latency_percentiles_ms"].mutable_struct_value();
    for (double p : kPercentiles) {
      (*percentiles.mutable_fields())[absl::StrCat("p", p)] =
          number(Percentile(latencies, p) * 1e3);
    }
    auto& buckets = *f["histogram"].mutable_list_value();
    for (int b = 0; b < kBuckets; ++b) {
      auto& bucket = *buckets.add_values()->mutable_struct_value();
      (*bucket.mutable_fields())["upper_ms"] =
          number((fastest + width * (b + 1)) * 1e3);
      (*bucket.mutable_fields())["count"] = number(histogram[b]);
    }
    auto& status = *f["status_codes"].mutable_struct_value();
    for (const auto& [code, n] : codes) {
      (*status.mutable_fields())[client::StatusCodeName(code)] = number(n);
    }
    f["bytes_sent"] = number(sent);
    f["bytes_received"] = number(received);
    f["bytes_sent_per_second"] = number(elapsed > 0 ? sent / elapsed : 0);
    f["bytes_received_per_second"] =
        number(elapsed > 0 ? received / elapsed : 0);
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(report, &json, options);
    std::cout << json;
    return all_ok ? kExitOk : kExitRpcError;
  }

  std::cout << "Summary:\n"
            << absl::StrFormat(
                   "  Activation:   %s %s, %s %s, %d elements\n", args.name,
                   args.direction, client::DataTypeName(input.dtype),
                   args.tensor.encoding.empty() ? "raw" : args.tensor.encoding,
                   input.values.size())
            << "  Count:        " << count << "\n"
            << absl::StrFormat("  Total:        %.3f s\n", elapsed)
            << "  Slowest:      " << Ms(slowest) << "\n"
            << "  Fastest:      " << Ms(fastest) << "\n"
            << "  Average:      " << Ms(average) << "\n"
            << absl::StrFormat("  Requests/sec: %.2f\n", rps)
            << "  Bytes/sec:    sent "
            << Bytes(elapsed > 0 ? sent / elapsed : 0) << "/s, received "
            << Bytes(elapsed > 0 ? received / elapsed : 0) << "/s\n\n";
  std::cout << "Latency distribution:\n";
  for (double p : kPercentiles) {
    std::cout << absl::StrFormat("  p%-3g %s\n", p,
                                 Ms(Percentile(latencies, p)));
  }
  std::cout << "\nResponse time histogram:\n";
  const int64_t peak = *std::max_element(histogram.begin(), histogram.end());
  for (int b = 0; b < kBuckets; ++b) {
    const int bar = peak > 0 ? static_cast<int>(40.0 * histogram[b] / peak) : 0;
    std::string bars;
    for (int k = 0; k < bar; ++k) bars += "∎";
    std::cout << absl::StrFormat("  %10.3f ms [%d]\t|%s\n",
                                 (fastest + width * (b + 1)) * 1e3,
                                 histogram[b], bars);
  }
  std::cout << "\nStatus code distribution:\n";
  for (const auto& [code, n] : codes) {
    std::cout << "  [" << client::StatusCodeName(code) << "]  " << n
              << " responses";
    if (auto it = first_error.find(code); it != first_error.end()) {
      std::cout << "  (" << it->second << ")";
    }
    std::cout << "\n";
  }
  return all_ok ? kExitOk : kExitRpcError;
}

}  // namespace actd::cli
