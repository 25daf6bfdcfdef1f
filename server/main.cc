// actd: the activation service. Parses flags (each also from an ACTD_*
// environment variable), builds the gRPC server with health checking,
// reflection, TLS and metrics, serves until SIGINT/SIGTERM, then drains: health
// turns NOT_SERVING, new calls are refused, in-flight calls get
// --shutdown_grace seconds to finish before they are cancelled.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "prometheus/exposer.h"
#include "server/core/compute.h"
#include "server/core/kernel_table.h"
#include "server/http/http_server.h"
#include "server/service/activation_service.h"
#include "server/service/inference_service.h"
#include "server/service/metrics.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

#ifndef ACTD_VERSION
#define ACTD_VERSION "dev"
#endif

namespace {

struct Flags {
  std::string host = "0.0.0.0";
  int port = 50051;
  int threads = 0;
  int compute_threads = 0;
  std::string isa = "auto";
  std::string log_level = "info";
  std::string log_format = "text";
  bool access_log = false;
  int64_t max_message_bytes = int64_t{256} << 20;
  int64_t max_elements = int64_t{64} << 20;
  int max_batch_items = 1024;
  int max_inflight = 64;
  double shutdown_grace = 20;
  double max_connection_age = 300;
  double keepalive_time = 60;
  double keepalive_timeout = 20;
  int metrics_port = 9090;
  int http_port = 8000;
  std::string tls_cert, tls_key, tls_client_ca, auth_token_file;
};

// Adds `--name` with its ACTD_NAME environment variable and default shown in
// --help.
template <typename T>
CLI::Option* AddFlag(CLI::App& app, const std::string& name, T& value,
                     const std::string& help) {
  std::string env = "ACTD_" + name;
  absl::AsciiStrToUpper(&env);
  CLI::Option* option = std::is_same_v<T, bool>
                            ? app.add_flag("--" + name, value, help)
                            : app.add_option("--" + name, value, help);
  return option->envname(env)->capture_default_str();
}

// CPUs this process may run on: the affinity mask, bounded by a cgroup v2 CPU
// quota.
int CoresAvailable() {
  int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    cores = std::max(1, CPU_COUNT(&set));
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (cpu_max >> quota >> period && quota != "max" && period > 0) {
    const int limit = static_cast<int>(std::ceil(std::stod(quota) / period));
    cores = std::clamp(limit, 1, cores);
  }
  return cores;
}

std::string ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError(flag, "cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// %* in a log pattern: the message as the inside of a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char hex[8];
            snprintf(hex, sizeof(hex), "\\u%04x", c);
            dest.append(std::string_view(hex));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

void SetUpLogging(const Flags& f) {
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  if (f.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(
        spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  }
}

std::shared_ptr<grpc::ServerCredentials> Credentials(const Flags& f) {
  if (f.tls_cert.empty() && f.tls_key.empty()) {
    if (!f.tls_client_ca.empty()) {
      throw CLI::ValidationError("--tls_client_ca",
                                 "needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (f.tls_cert.empty() || f.tls_key.empty()) {
    throw CLI::ValidationError("--tls_cert/--tls_key", "give both or neither");
  }
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back(
      {ReadFile(f.tls_key, "--tls_key"), ReadFile(f.tls_cert, "--tls_cert")});
  if (!f.tls_client_ca.empty()) {
    tls.pem_root_certs = ReadFile(f.tls_client_ca, "--tls_client_ca");
    tls.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(tls);
}

int Millis(double seconds) { return static_cast<int>(seconds * 1000); }

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "actd: evaluates neural-network activation functions over gRPC.\n"
      "Every flag can also be set through the environment variable shown."};
  app.option_defaults()->always_capture_default();
  AddFlag(app, "host", f.host, "address to listen on");
  AddFlag(app, "port", f.port,
          "gRPC port (0 = any free port, logged at startup)")
      ->check(CLI::Range(0, 65535));
  AddFlag(app, "threads", f.threads,
          "maximum gRPC server threads (0 = gRPC's default)")
      ->check(CLI::Range(0, 4096));
  AddFlag(app, "compute_threads", f.compute_threads,
          "threads for computation (0 = the cores this process may use, cgroup "
          "quota "
          "respected)")
      ->check(CLI::Range(0, 4096));
  AddFlag(app, "isa", f.isa,
          "kernel instruction set: auto (the widest this CPU runs), baseline, "
          "avx2 or avx512");
  AddFlag(app, "log_level", f.log_level,
          "trace, debug, info, warn, error or off")
      ->check(
          CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  AddFlag(app, "log_format", f.log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  AddFlag(app, "access_log", f.access_log,
          "log one line per request at info level");
  AddFlag(app, "max_message_bytes", f.max_message_bytes,
          "largest request or response message, in bytes")
      ->check(CLI::Range(int64_t{1024}, int64_t{2047} << 20));
  AddFlag(app, "max_elements", f.max_elements, "largest tensor, in elements")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  AddFlag(app, "max_batch_items", f.max_batch_items,
          "most items in one BatchEvaluate")
      ->check(CLI::Range(1, 1 << 20));
  AddFlag(app, "max_inflight", f.max_inflight,
          "most calls computing at once; more are refused with "
          "RESOURCE_EXHAUSTED (0 = no "
          "limit)")
      ->check(CLI::Range(0, 1 << 20));
  AddFlag(app, "shutdown_grace", f.shutdown_grace,
          "seconds in-flight calls get to finish after SIGTERM")
      ->check(CLI::Range(0.0, 3600.0));
  AddFlag(app, "max_connection_age", f.max_connection_age,
          "seconds before a connection is asked to go away, so clients "
          "re-resolve (0 = never)")
      ->check(CLI::Range(0.0, 1e6));
  AddFlag(app, "keepalive_time", f.keepalive_time,
          "seconds between keepalive pings")
      ->check(CLI::Range(1.0, 1e6));
  AddFlag(app, "keepalive_timeout", f.keepalive_timeout,
          "seconds to wait for a keepalive ack")
      ->check(CLI::Range(1.0, 1e6));
  AddFlag(app, "metrics_port", f.metrics_port,
          "Prometheus /metrics port (0 = off)")
      ->check(CLI::Range(0, 65535));
  AddFlag(app, "http_port", f.http_port,
          "Open Inference Protocol HTTP/REST port and explorer page (0 = off)")
      ->check(CLI::Range(0, 65535));
  AddFlag(app, "tls_cert", f.tls_cert, "PEM server certificate (enables TLS)");
  AddFlag(app, "tls_key", f.tls_key, "PEM server private key");
  AddFlag(app, "tls_client_ca", f.tls_client_ca,
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mTLS)");
  AddFlag(app, "auth_token_file", f.auth_token_file,
          "file holding a bearer token that ActivationService calls must send");

  std::shared_ptr<grpc::ServerCredentials> credentials;
  actd::ServiceOptions options;
  try {
    app.parse(argc, argv);
    credentials = Credentials(f);
    if (absl::Status s = actd::SelectIsa(f.isa); !s.ok()) {
      throw CLI::ValidationError("--isa", std::string(s.message()));
    }
    if (!f.auth_token_file.empty()) {
      options.auth_token = std::string(absl::StripAsciiWhitespace(
          ReadFile(f.auth_token_file, "--auth_token_file")));
      if (options.auth_token.empty()) {
        throw CLI::ValidationError("--auth_token_file",
                                   "the file holds no token");
      }
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  SetUpLogging(f);

  // Signals are taken synchronously below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const actd::ComputeContext compute(f.compute_threads > 0 ? f.compute_threads
                                                           : CoresAvailable());
  options.max_elements = f.max_elements;
  options.max_batch_items = f.max_batch_items;
  options.max_message_bytes = f.max_message_bytes;
  options.max_inflight = f.max_inflight;
  options.compute_threads = compute.threads();
  options.compute = &compute;
  options.access_log = f.access_log;
  options.version = ACTD_VERSION;
  options.isa = actd::Kernels().isa;

  std::unique_ptr<actd::Metrics> metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (f.metrics_port > 0) {
    metrics = std::make_unique<actd::Metrics>(options.version, options.isa);
    try {
      exposer = std::make_unique<prometheus::Exposer>(
          f.host + ":" + std::to_string(f.metrics_port));
    } catch (const std::exception& e) {
      spdlog::critical("cannot serve metrics on port {}: {}", f.metrics_port,
                       e.what());
      return 2;
    }
    exposer->RegisterCollectable(metrics->registry());
    options.metrics = metrics.get();
  }
  std::unique_ptr<grpc::Service> service = actd::NewActivationService(options);
  std::unique_ptr<grpc::Service> inference = actd::NewInferenceService(options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = f.host + ":" + std::to_string(f.port);
  builder.AddListeningPort(address, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(f.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(f.max_message_bytes));
  if (f.max_connection_age > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               Millis(f.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               Millis(f.shutdown_grace));
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Millis(f.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(f.keepalive_timeout));
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  if (f.threads > 0) {
    grpc::ResourceQuota quota("actd");
    quota.SetMaxThreads(f.threads);
    builder.SetResourceQuota(quota);
  }
  // Pollers wake at this interval to notice shutdown (gRPC's default is 10 s).
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
  builder.RegisterService(service.get());
  builder.RegisterService(inference.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::critical("cannot listen on {}", address);
    return 2;
  }
  std::unique_ptr<actd::HttpServer> http;
  if (f.http_port > 0) {
    absl::StatusOr<std::unique_ptr<actd::HttpServer>> started =
        actd::StartHttpServer(
            {f.host, f.http_port, f.tls_cert, f.tls_key, f.tls_client_ca},
            options);
    if (!started.ok()) {
      spdlog::critical("cannot serve HTTP on port {}: {}", f.http_port,
                       started.status().ToString());
      return 2;
    }
    http = *std::move(started);
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  spdlog::info(
      "actd {} listening on {}:{} (isa {}, compute threads {}, metrics {}, "
      "http "
      "{}, tls {})",
      options.version, f.host, port, options.isa, options.compute_threads,
      f.metrics_port > 0 ? std::to_string(f.metrics_port) : "off",
      http ? std::to_string(http->port()) : "off",
      f.tls_cert.empty() ? "off" : (f.tls_client_ca.empty() ? "on" : "mutual"));

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, draining for up to {} s", strsignal(received),
               f.shutdown_grace);
  server->GetHealthCheckService()->SetServingStatus(false);
  options.ready->store(false);
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(Millis(f.shutdown_grace)));
  server->Wait();
  if (http) http->Stop();
  spdlog::info("stopped");
  // The metrics listener's orderly stop waits about a second for its poll loop;
  // the process is exiting, which closes the socket at once.
  (void)exposer.release();
  return 0;
}
