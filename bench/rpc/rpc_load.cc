// rpc_load: a raw gRPC load generator for bench/rpc. It sends one
// pre-serialized request (a file's bytes, never parsed) to any unary method
// path and reports calls per second, latency percentiles and megabytes per
// second. The same binary measures actd and the bare echo server, so a ratio
// between the two compares the servers and nothing else.
//
// Two ways to load:
//   closed loop: --concurrency C calls always in flight (a new one starts when
//                one ends), the throughput a server sustains;
//   open loop:   --rate R calls started per second on a fixed schedule,
//                whatever the server answers: overload, as clients cause it.
// One thread drives one completion queue; all calls share one channel.
//
// Output: one line of key=value pairs (latencies in microseconds, of the
// calls that ended OK), then one "code NAME COUNT P50_US P99_US" line per
// status code seen (an overloaded server's refusals should be fast).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string target;
  std::string method;
  std::string request_file;
  int concurrency = 1;         // closed loop
  double rate = 0;             // open loop when > 0
  double seconds = 5;          // measured time
  double warmup = 1;           // seconds of calls before, not counted
  double deadline_ms = 0;      // per call; 0 = none
  int max_outstanding = 4096;  // open loop: calls in flight at most
};

// One call in flight. Its address is the completion-queue tag.
struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  Clock::time_point start;
  bool counted = false;  // started after the warm-up
};

struct Tally {
  std::vector<int64_t> ok_nanos;
  std::map<int, std::vector<int64_t>> codes;  // latencies by status code
  std::string first_error;
  int64_t bytes_out = 0;
  int64_t bytes_in = 0;
};

const char* CodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "?";
}

class LoadGenerator {
 public:
  LoadGenerator(const Options& options, const std::string& request)
      : options_(options),
        stub_(MakeChannel(options.target)),
        request_size_(static_cast<int64_t>(request.size())) {
    grpc::Slice slice(request);
    request_ = grpc::ByteBuffer(&slice, 1);
  }

  // Runs the warm-up and the measured period; returns what was measured.
  Tally Run();

 private:
  static std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     args);
  }

  void Start(Clock::time_point now);
  void Complete(Call* call, Clock::time_point now);

  const Options options_;
  grpc::GenericStub stub_;
  grpc::ByteBuffer request_;
  const int64_t request_size_;
  grpc::CompletionQueue queue_;
  Clock::time_point measure_from_;
  Clock::time_point measure_until_;
  int outstanding_ = 0;
  Tally tally_;
};

void LoadGenerator::Start(Clock::time_point now) {
  auto* call = new Call;
  call->start = now;
  call->counted = now >= measure_from_;
  if (options_.deadline_ms > 0) {
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::microseconds(static_cast<int64_t>(
                                   options_.deadline_ms * 1e3)));
  }
  call->reader = stub_.PrepareUnaryCall(&call->context, options_.method,
                                        request_, &queue_);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call);
  ++outstanding_;
}

void LoadGenerator::Complete(Call* call, Clock::time_point now) {
  --outstanding_;
  // A call counts when it started inside the measured period; calls still
  // running at its end are awaited, so slow answers are not dropped.
  if (call->counted && call->start < measure_until_) {
    const int code = call->status.error_code();
    const int64_t nanos = (now - call->start).count();
    tally_.codes[code].push_back(nanos);
    if (code == grpc::StatusCode::OK) {
      tally_.ok_nanos.push_back(nanos);
      tally_.bytes_out += request_size_;
      tally_.bytes_in += static_cast<int64_t>(call->response.Length());
    } else if (tally_.first_error.empty()) {
      tally_.first_error = call->status.error_message();
    }
  }
  delete call;
}

Tally LoadGenerator::Run() {
  const Clock::time_point begin = Clock::now();
  measure_from_ = begin + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options_.warmup));
  measure_until_ =
      measure_from_ + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(options_.seconds));
  const bool open_loop = options_.rate > 0;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(open_loop ? 1.0 / options_.rate : 0));
  Clock::time_point next_start = begin;
  if (!open_loop) {
    for (int i = 0; i < options_.concurrency; ++i) Start(begin);
  }
  while (true) {
    Clock::time_point now = Clock::now();
    const bool starting = now < measure_until_;
    if (!starting && outstanding_ == 0) break;
    // Open loop: start every call whose time has come (bounded, so a stalled
    // server cannot make the client grow without limit).
    while (open_loop && starting && next_start <= now &&
           outstanding_ < options_.max_outstanding) {
      Start(next_start);
      next_start += interval;
    }
    void* tag = nullptr;
    bool ok = false;
    const auto wait_until = open_loop && starting
                                ? std::max(next_start, now)
                                : measure_until_ + std::chrono::seconds(60);
    // gRPC takes system_clock deadlines: convert the steady one.
    const auto result = queue_.AsyncNext(
        &tag, &ok,
        std::chrono::system_clock::now() +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                wait_until - now));
    if (result == grpc::CompletionQueue::SHUTDOWN) break;
    if (result == grpc::CompletionQueue::TIMEOUT) {
      if (!open_loop || !starting) {
        std::fprintf(stderr,
                     "rpc_load: calls still unanswered 60 s after "
                     "the end\n");
        std::exit(1);
      }
      continue;
    }
    now = Clock::now();
    Complete(static_cast<Call*>(tag), now);
    if (!open_loop && now < measure_until_) Start(now);
  }
  return std::move(tally_);
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return static_cast<double>(sorted[i]) / 1e3;
}

void Print(const Options& options, Tally tally) {
  std::sort(tally.ok_nanos.begin(), tally.ok_nanos.end());
  int64_t calls = 0;
  for (const auto& [code, nanos] : tally.codes) calls += nanos.size();
  const double ok = static_cast<double>(tally.ok_nanos.size());
  std::printf(
      "calls=%lld ok=%lld errors=%lld rps=%.1f ok_rps=%.1f p50_us=%.1f "
      "p90_us=%.1f p99_us=%.1f max_us=%.1f tx_mb_s=%.2f rx_mb_s=%.2f\n",
      static_cast<long long>(calls), static_cast<long long>(ok),
      static_cast<long long>(calls - static_cast<int64_t>(ok)),
      calls / options.seconds, ok / options.seconds,
      Percentile(tally.ok_nanos, 0.50), Percentile(tally.ok_nanos, 0.90),
      Percentile(tally.ok_nanos, 0.99),
      tally.ok_nanos.empty() ? 0.0 : tally.ok_nanos.back() / 1e3,
      tally.bytes_out / options.seconds / 1e6,
      tally.bytes_in / options.seconds / 1e6);
  for (auto& [code, nanos] : tally.codes) {
    std::sort(nanos.begin(), nanos.end());
    std::printf("code %s %zu %.1f %.1f\n", CodeName(code), nanos.size(),
                Percentile(nanos, 0.50), Percentile(nanos, 0.99));
  }
  if (!tally.first_error.empty()) {
    std::printf("first_error %s\n", tally.first_error.c_str());
  }
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "rpc_load: %s\n"
               "usage: rpc_load TARGET METHOD REQUEST_FILE [--concurrency C] "
               "[--rate R] [--seconds D] [--warmup W] [--deadline_ms MS]\n"
               "  e.g. rpc_load 127.0.0.1:50051 "
               "/activation.v1.ActivationService/Forward req.bin "
               "--concurrency 16 --seconds 5\n",
               why);
  std::exit(2);
}

double NumberFlag(const char* name, const char* value, double min) {
  char* end = nullptr;
  const double v = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(v >= min)) {
    std::fprintf(stderr, "rpc_load: %s must be a number >= %g, got '%s'\n",
                 name, min, value);
    std::exit(2);
  }
  return v;
}

Options Parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    if (i + 1 >= argc) Usage(("missing value after " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--concurrency") {
      o.concurrency = static_cast<int>(NumberFlag("--concurrency", value, 1));
    } else if (arg == "--rate") {
      o.rate = NumberFlag("--rate", value, 0);
    } else if (arg == "--seconds") {
      o.seconds = NumberFlag("--seconds", value, 0.01);
    } else if (arg == "--warmup") {
      o.warmup = NumberFlag("--warmup", value, 0);
    } else if (arg == "--deadline_ms") {
      o.deadline_ms = NumberFlag("--deadline_ms", value, 0);
    } else {
      Usage(("unknown flag " + arg).c_str());
    }
  }
  if (positional.size() != 3) Usage("TARGET METHOD REQUEST_FILE expected");
  o.target = positional[0];
  o.method = positional[1];
  o.request_file = positional[2];
  if (o.method.empty() || o.method[0] != '/') {
    Usage("METHOD must be a full path, e.g. /package.Service/Method");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  std::ifstream file(options.request_file, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "rpc_load: cannot read REQUEST_FILE '%s'\n",
                 options.request_file.c_str());
    return 2;
  }
  const std::string request((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
  LoadGenerator load(options, request);
  Print(options, load.Run());
  return 0;
}
