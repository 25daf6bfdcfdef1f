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
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

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

// The request every worker sends, and its size on the wire.
struct Workload {
  bool backward = false;
  pb::ForwardRequest forward;
  pb::BackwardRequest backward_request;
  int64_t request_bytes = 0;
  int64_t elements = 0;
  pb::DataType dtype = pb::DATA_TYPE_FLOAT32;
};

// Standard normal values of --shape or [--elements].
Workload MakeWorkload(const BenchArgs& args) {
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
  Workload w;
  w.backward = args.direction == "backward";
  w.elements = static_cast<int64_t>(input.values.size());
  w.dtype = input.dtype;
  *w.forward.mutable_activation() =
      BuildSpec(args.name, args.spec, input.dtype, encoding);
  *w.forward.mutable_input() = client::ToProto(input, encoding);
  *w.backward_request.mutable_activation() = w.forward.activation();
  *w.backward_request.mutable_input() = w.forward.input();
  w.request_bytes =
      w.backward ? w.backward_request.ByteSizeLong() : w.forward.ByteSizeLong();
  return w;
}

// Shared state of one run: what to send, when to stop, calls started/done.
struct Run {
  Run(const BenchArgs& a, const Workload& w) : args(a), work(w) {}
  const BenchArgs& args;
  const Workload& work;
  bool timed = false;
  double duration = 0;
  Clock::time_point start, end;
  std::atomic<int64_t> next{0}, done{0};
};

void Worker(Run& run, client::ActdClient& client, WorkerResult& r) {
  const BenchArgs& args = run.args;
  for (;;) {
    const int64_t i = run.next.fetch_add(1);
    if (!run.timed && i >= args.total) return;
    if (args.rps > 0) {
      const Clock::time_point due =
          run.start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(i / args.rps));
      if (run.timed && due >= run.end) return;
      std::this_thread::sleep_until(due);
    }
    if (run.timed && Clock::now() >= run.end) return;
    const Clock::time_point t0 = Clock::now();
    absl::Status status;
    int64_t received = 0;
    if (run.work.backward) {
      auto response = client.Backward(run.work.backward_request);
      status = response.status();
      if (response.ok()) received = response->ByteSizeLong();
    } else {
      auto response = client.Forward(run.work.forward);
      status = response.status();
      if (response.ok()) received = response->ByteSizeLong();
    }
    const double seconds =
        std::chrono::duration<double>(Clock::now() - t0).count();
    const int code = static_cast<int>(status.code());
    r.samples.push_back({seconds, code});
    run.done.fetch_add(1, std::memory_order_relaxed);
    r.bytes_sent += run.work.request_bytes;
    r.bytes_received += received;
    if (!status.ok())
      r.first_error.emplace(code, std::string(status.message()));
  }
}

// A progress bar on stderr until `finished`; erased at the end.
void ShowProgress(Run& run, const std::atomic<bool>& finished) {
  while (!finished.load()) {
    const double fraction = std::clamp(
        run.timed
            ? std::chrono::duration<double>(Clock::now() - run.start).count() /
                  run.duration
            : static_cast<double>(run.done.load()) / run.args.total,
        0.0, 1.0);
    const int filled = static_cast<int>(fraction * 40);
    std::cerr << absl::StrFormat(
                     "\r[%s%s] %3d%%  %d calls", std::string(filled, '='),
                     std::string(40 - filled, ' '),
                     static_cast<int>(fraction * 100), run.done.load())
              << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "\r\x1b[K" << std::flush;
}

// The merged figures of a run.
struct Summary {
  std::vector<double> latencies;  // sorted, seconds
  std::map<int, int64_t> codes;
  std::map<int, std::string> first_error;
  int64_t sent = 0, received = 0;
  double elapsed = 0, fastest = 0, slowest = 0, average = 0, rps = 0;
  double bucket_width = 0;
  std::vector<int64_t> histogram;
  bool all_ok() const { return codes.size() == 1 && codes.count(0) == 1; }
};

constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99};
constexpr int kBuckets = 10;

Summary Summarize(const std::vector<WorkerResult>& results, double elapsed) {
  Summary s;
  s.elapsed = elapsed;
  for (const WorkerResult& r : results) {
    for (const Sample& sample : r.samples) {
      s.latencies.push_back(sample.seconds);
      ++s.codes[sample.code];
    }
    s.first_error.insert(r.first_error.begin(), r.first_error.end());
    s.sent += r.bytes_sent;
    s.received += r.bytes_received;
  }
  std::sort(s.latencies.begin(), s.latencies.end());
  const size_t count = s.latencies.size();
  double sum = 0;
  for (double v : s.latencies) sum += v;
  s.fastest = count ? s.latencies.front() : 0;
  s.slowest = count ? s.latencies.back() : 0;
  s.average = count ? sum / count : 0;
  s.rps = elapsed > 0 ? count / elapsed : 0;
  s.histogram.assign(kBuckets, 0);
  s.bucket_width = (s.slowest - s.fastest) / kBuckets;
  for (double v : s.latencies) {
    const int b = s.bucket_width > 0
                      ? static_cast<int>((v - s.fastest) / s.bucket_width)
                      : 0;
    ++s.histogram[std::min(b, kBuckets - 1)];
  }
  return s;
}

// The report as a document whose keys are always in this order.
Document ReportDocument(const BenchArgs& args, const Workload& w,
                        const Summary& s) {
  Document d;
  d["activation"] = args.name;
  d["direction"] = args.direction;
  d["dtype"] = client::DataTypeName(w.dtype);
  d["encoding"] = args.tensor.encoding.empty() ? "raw" : args.tensor.encoding;
  d["elements"] = w.elements;
  d["concurrency"] = args.concurrency;
  d["connections"] = args.connections;
  d["count"] = static_cast<int64_t>(s.latencies.size());
  d["totalSeconds"] = s.elapsed;
  d["rps"] = s.rps;
  d["fastestMs"] = s.fastest * 1e3;
  d["averageMs"] = s.average * 1e3;
  d["slowestMs"] = s.slowest * 1e3;
  Document percentiles = Document::object();
  for (double p : kPercentiles) {
    percentiles[absl::StrCat("p", p)] = Percentile(s.latencies, p) * 1e3;
  }
  d["latencyPercentilesMs"] = percentiles;
  Document buckets = Document::array();
  for (int b = 0; b < kBuckets; ++b) {
    buckets.push_back(
        {{"upperMs", (s.fastest + s.bucket_width * (b + 1)) * 1e3},
         {"count", s.histogram[b]}});
  }
  d["histogram"] = buckets;
  Document codes = Document::object();
  for (const auto& [code, n] : s.codes) {
    codes[client::StatusCodeName(code)] = n;
  }
  d["statusCodes"] = codes;
  d["bytesSent"] = s.sent;
  d["bytesReceived"] = s.received;
  d["bytesSentPerSecond"] = s.elapsed > 0 ? s.sent / s.elapsed : 0;
  d["bytesReceivedPerSecond"] = s.elapsed > 0 ? s.received / s.elapsed : 0;
  return d;
}

// One header row and one value row: the scalar fields, then p10..p99 and a
// column per status code; the histogram is left to the JSON report.
std::string ReportCsv(const Document& d) {
  std::vector<std::string> header, row;
  for (const auto& [key, value] : d.items()) {
    if (value.is_object()) {
      for (const auto& [inner, v] : value.items()) {
        header.push_back(key + "." + inner);
        row.push_back(v.dump());
      }
    } else if (!value.is_array()) {
      header.push_back(key);
      row.push_back(value.is_string() ? value.get<std::string>()
                                      : value.dump());
    }
  }
  return absl::StrCat(absl::StrJoin(header, ","), "\n", absl::StrJoin(row, ","),
                      "\n");
}

void WriteReport(const std::string& path, const Document& d) {
  const bool csv = absl::EndsWithIgnoreCase(path, ".csv");
  if (!csv && !absl::EndsWithIgnoreCase(path, ".json")) {
    throw UsageError("--report " + path + ": use a .json or .csv file name");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << (csv ? ReportCsv(d) : d.dump(2) + "\n");
  out.close();
  if (!out) throw UsageError("--report " + path + ": cannot write the file");
}

void PrintText(const BenchArgs& args, const Workload& w, const Summary& s) {
  std::cout << "Summary:\n"
            << absl::StrFormat(
                   "  Activation:   %s %s, %s %s, %d elements\n", args.name,
                   args.direction, client::DataTypeName(w.dtype),
                   args.tensor.encoding.empty() ? "raw" : args.tensor.encoding,
                   w.elements)
            << "  Count:        " << s.latencies.size() << "\n"
            << absl::StrFormat("  Total:        %.3f s\n", s.elapsed)
            << "  Slowest:      " << Ms(s.slowest) << "\n"
            << "  Fastest:      " << Ms(s.fastest) << "\n"
            << "  Average:      " << Ms(s.average) << "\n"
            << absl::StrFormat("  Requests/sec: %.2f\n", s.rps)
            << "  Bytes/sec:    sent "
            << Bytes(s.elapsed > 0 ? s.sent / s.elapsed : 0) << "/s, received "
            << Bytes(s.elapsed > 0 ? s.received / s.elapsed : 0) << "/s\n\n";
  std::cout << "Latency distribution:\n";
  for (double p : kPercentiles) {
    std::cout << absl::StrFormat("  p%-3g %s\n", p,
                                 Ms(Percentile(s.latencies, p)));
  }
  std::cout << "\nResponse time histogram:\n";
  const int64_t peak =
      *std::max_element(s.histogram.begin(), s.histogram.end());
  for (int b = 0; b < kBuckets; ++b) {
    const int bar =
        peak > 0 ? static_cast<int>(40.0 * s.histogram[b] / peak) : 0;
    std::string bars;
    for (int k = 0; k < bar; ++k) bars += "∎";
    std::cout << absl::StrFormat("  %10.3f ms [%d]\t|%s\n",
                                 (s.fastest + s.bucket_width * (b + 1)) * 1e3,
                                 s.histogram[b], bars);
  }
  std::cout << "\nStatus code distribution:\n";
  for (const auto& [code, n] : s.codes) {
    std::cout << "  [" << client::StatusCodeName(code) << "]  " << n
              << " responses";
    if (auto it = s.first_error.find(code); it != s.first_error.end()) {
      std::cout << "  (" << it->second << ")";
    }
    std::cout << "\n";
  }
}

}  // namespace

int RunBench(const RunContext& context, const BenchArgs& args) {
  const Workload work = MakeWorkload(args);
  Run run(args, work);
  run.timed = !args.duration.empty();
  run.duration = run.timed ? ParseDuration(args.duration) : 0;
  std::vector<std::unique_ptr<client::ActdClient>> clients;
  for (int i = 0; i < args.connections; ++i) {
    client::ConnectionOptions options = context.connection;
    options.own_subchannels = args.connections > 1;
    clients.push_back(std::make_unique<client::ActdClient>(options));
  }
  std::vector<WorkerResult> results(args.concurrency);
  run.start = Clock::now();
  run.end = run.start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(run.duration));
  std::atomic<bool> finished{false};
  std::thread progress;
  if (isatty(STDERR_FILENO)) {
    progress = std::thread([&] { ShowProgress(run, finished); });
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < args.concurrency; ++w) {
    threads.emplace_back(
        [&, w] { Worker(run, *clients[w % clients.size()], results[w]); });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - run.start).count();
  finished = true;
  if (progress.joinable()) progress.join();

  const Summary summary = Summarize(results, elapsed);
  const Document report = ReportDocument(args, work, summary);
  if (!args.report.empty()) WriteReport(args.report, report);
  if (context.json) {
    PrintDocument(context, report);
  } else {
    PrintText(args, work, summary);
  }
  return summary.all_ok() ? kExitOk : kExitRpcError;
}

}  // namespace actd::cli
