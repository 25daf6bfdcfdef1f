// actd: the activation service. Parses flags (each also from an ACTD_*
// environment variable), builds the gRPC server with health checking,
// reflection, TLS and metrics (server.h), serves until SIGINT/SIGTERM, then
// drains: health turns NOT_SERVING, new calls are refused, in-flight calls get
// --shutdown_grace seconds to finish before they are cancelled.
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/exposer.h"
#include "server/core/compute.h"
#include "server/core/kernel_table.h"
#include "server/http/http_server.h"
#include "server/logging.h"
#include "server/options.h"
#include "server/server.h"
#include "server/service/access_log.h"
#include "server/service/activation_service.h"
#include "server/service/inference_service.h"
#include "server/service/metrics.h"
#include "spdlog/spdlog.h"

#ifndef ACTD_VERSION
#define ACTD_VERSION "dev"
#endif

namespace {

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

// The whole file at `path`; throws naming `flag` when it cannot be read.
std::string ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in)
    throw std::invalid_argument(std::string(flag) + ": cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<grpc::ServerCredentials> Credentials(
    const actd::ServerFlags& f) {
  if (f.tls_cert.empty() && f.tls_key.empty()) {
    if (!f.tls_client_ca.empty()) {
      throw std::invalid_argument(
          "--tls-client-ca: needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (f.tls_cert.empty() || f.tls_key.empty()) {
    throw std::invalid_argument("--tls-cert/--tls-key: give both or neither");
  }
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back(
      {ReadFile(f.tls_key, "--tls-key"), ReadFile(f.tls_cert, "--tls-cert")});
  if (!f.tls_client_ca.empty()) {
    tls.pem_root_certs = ReadFile(f.tls_client_ca, "--tls-client-ca");
    tls.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(tls);
}

// Why a TCP listener on host:port cannot be opened ("port 8002 is in use",
// ...), or `fallback` when a trial bind succeeds.
std::string BindProblem(const std::string& host, int port,
                        const std::string& fallback) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) !=
      0) {
    return "cannot resolve " + host;
  }
  std::string problem = fallback;
  const int fd = socket(found->ai_family, SOCK_STREAM, 0);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    problem = errno == EADDRINUSE
                  ? "port " + std::to_string(port) + " is in use"
                  : std::string(strerror(errno));
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return problem;
}

// The service's limits and collaborators, from the flags.
void SetServiceOptions(const actd::ServerFlags& f,
                       const actd::ComputeContext& compute,
                       actd::ServiceOptions* options) {
  options->max_elements = f.max_elements;
  options->max_batch_items = f.max_batch_items;
  options->max_message_bytes = f.max_message_bytes;
  options->max_inflight = f.max_inflight;
  options->compute_threads = compute.threads();
  options->compute = &compute;
  options->access_log = f.access_log;
  options->version = ACTD_VERSION;
  options->isa = actd::Kernels().isa;
}

actd::ServerOptions MakeServerOptions(
    const actd::ServerFlags& f,
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  actd::ServerOptions o;
  o.host = f.host;
  o.port = f.port;
  o.threads = f.threads;
  o.max_message_bytes = f.max_message_bytes;
  o.max_concurrent_streams = f.max_concurrent_streams;
  o.max_connection_age = f.max_connection_age;
  o.shutdown_grace = f.shutdown_grace;
  o.keepalive_time = f.keepalive_time;
  o.keepalive_timeout = f.keepalive_timeout;
  o.credentials = std::move(credentials);
  return o;
}

// Prometheus /metrics on --metrics-port; false (logged) when it cannot listen.
bool StartMetrics(const actd::ServerFlags& f,
                  const actd::ServiceOptions& options,
                  std::unique_ptr<actd::Metrics>* metrics,
                  std::unique_ptr<prometheus::Exposer>* exposer) {
  if (f.metrics_port <= 0) return true;
  *metrics = std::make_unique<actd::Metrics>(options.version, options.isa);
  try {
    *exposer = std::make_unique<prometheus::Exposer>(
        f.host + ":" + std::to_string(f.metrics_port));
  } catch (const std::exception& e) {
    // The HTTP server's own message ("null context when constructing
    // CivetServer") does not say why; a bind of our own does.
    spdlog::critical(
        "cannot serve metrics on {}:{}: {} (--metrics-port; 0 turns metrics "
        "off)",
        f.host, f.metrics_port, BindProblem(f.host, f.metrics_port, e.what()));
    return false;
  }
  (*exposer)->RegisterCollectable((*metrics)->registry());
  return true;
}

// The HTTP/REST server of the Open Inference Protocol on --http-port (null
// when 0); false (logged) when it cannot listen.
bool StartHttp(const actd::ServerFlags& f, const actd::ServiceOptions& options,
               std::unique_ptr<actd::HttpServer>* http) {
  if (f.http_port <= 0) return true;
  absl::StatusOr<std::unique_ptr<actd::HttpServer>> started =
      actd::StartHttpServer(
          {f.host, f.http_port, f.tls_cert, f.tls_key, f.tls_client_ca},
          options);
  if (!started.ok()) {
    spdlog::critical(
        "cannot serve HTTP on {}:{}: {} (--http-port; 0 turns HTTP off)",
        f.host, f.http_port,
        BindProblem(f.host, f.http_port, started.status().ToString()));
    return false;
  }
  *http = *std::move(started);
  return true;
}

// Builds the server, serves until a stop signal, drains. The exit status.
int Run(const actd::ServerFlags& f, const actd::ServerOptions& server_options,
        const actd::ServiceOptions& options) {
  actd::UnaryRoutes routes;  // outlives the server
  std::unique_ptr<grpc::Service> service =
      actd::NewActivationService(options, &routes);
  std::unique_ptr<grpc::Service> inference =
      actd::NewInferenceService(options, &routes);
  actd::RunningServer running =
      actd::BuildServer(server_options, {service.get(), inference.get()},
                        [&](grpc::ServerBuilder* b) {
                          actd::ConfigureServer(options, b);
                          b->RegisterCallbackGenericService(&routes);
                        });
  if (running.server == nullptr) {
    // gRPC's own errors say why (a bad TLS key); a trial bind says it more
    // plainly when the port is taken.
    spdlog::critical("cannot listen on {}:{}: {}", f.host, f.port,
                     BindProblem(f.host, f.port, actd::GrpcErrors()));
    return 2;
  }
  std::unique_ptr<actd::HttpServer> http;
  if (!StartHttp(f, options, &http)) return 2;
  spdlog::info(
      "actd {} listening on {}:{} (isa {}, compute threads {}, metrics {}, "
      "http {}, tls {})",
      options.version, f.host, running.port, options.isa,
      options.compute_threads,
      f.metrics_port > 0 ? std::to_string(f.metrics_port) : "off",
      http ? std::to_string(http->port()) : "off",
      f.tls_cert.empty() ? "off" : (f.tls_client_ca.empty() ? "on" : "mutual"));
  const int received = actd::Serve();
  spdlog::info("received {}, draining for up to {} s", strsignal(received),
               f.shutdown_grace);
  const auto start = std::chrono::steady_clock::now();
  options.ready->store(false);  // new inference calls: UNAVAILABLE
  actd::Drain(running.server.get(), f.shutdown_grace);
  if (http) http->Stop();
  spdlog::info(
      "stopped after draining for {:.3f} s",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return 0;
}

}  // namespace

// See the end of main.
prometheus::Exposer* exposer_kept_until_exit = nullptr;

int main(int argc, char** argv) {
  // Signals are taken synchronously by Serve; block them before any thread
  // starts (PrepareProcess starts the idle trimmer), or a thread that does not
  // block them may take a SIGTERM and the process dies of it, undrained.
  actd::BlockStopSignals();
  actd::PrepareProcess();
  actd::ServerFlags f;
  if (std::optional<int> exit_code =
          actd::ParseServerFlags(argc, argv, ACTD_VERSION, &f)) {
    return *exit_code;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials;
  actd::ServiceOptions options;
  try {
    credentials = Credentials(f);
    if (absl::Status s = actd::SelectIsa(f.isa); !s.ok()) {
      throw std::invalid_argument("--isa: " + std::string(s.message()));
    }
    if (!f.auth_token_file.empty()) {
      options.auth_token = std::string(absl::StripAsciiWhitespace(
          ReadFile(f.auth_token_file, "--auth-token-file")));
      if (options.auth_token.empty()) {
        throw std::invalid_argument(
            "--auth-token-file: the file holds no token");
      }
    }
  } catch (const std::invalid_argument& e) {
    return actd::ConfigError(e.what());
  }
  actd::SetUpLogging(f.log_level, f.log_format);
  actd::SetAccessLogJson(f.log_format == "json");

  const actd::ComputeContext compute(f.compute_threads > 0 ? f.compute_threads
                                                           : CoresAvailable());
  SetServiceOptions(f, compute, &options);
  std::unique_ptr<actd::Metrics> metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!StartMetrics(f, options, &metrics, &exposer)) return 2;
  options.metrics = metrics.get();
  const int status = Run(f, MakeServerOptions(f, credentials), options);
  // The metrics listener's orderly stop waits about a second for its poll loop;
  // the process is exiting, which closes the socket at once. Kept reachable
  // from a global, so leak checkers do not report it.
  exposer_kept_until_exit = exposer.release();
  return status;
}
