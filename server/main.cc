// actd: the activation service. Parses flags (each also from an ACTD_*
// environment variable), builds the gRPC server with health checking and
// reflection, serves until SIGINT/SIGTERM, then drains: health turns
// NOT_SERVING, new calls are refused, in-flight calls get
// --shutdown_grace seconds to finish.
#include <pthread.h>
#include <signal.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/service/activation_service.h"
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
  std::string log_level = "info";
  int64_t max_message_bytes = int64_t{256} << 20;
  int64_t max_elements = int64_t{64} << 20;
  int max_batch_items = 1024;
  double shutdown_grace = 20;
};

// Adds `--name` with its ACTD_NAME environment variable and default shown in
// --help.
template <typename T>
CLI::Option* AddFlag(CLI::App& app, const std::string& name, T& value,
                     const std::string& help) {
  std::string env = "ACTD_" + name;
  std::transform(env.begin(), env.end(), env.begin(), ::toupper);
  return app.add_option("--" + name, value, help)
      ->envname(env)
      ->capture_default_str();
}

int CoresAvailable() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "actd: evaluates neural-network activation functions over gRPC.\n"
      "Every flag can also be set through the environment variable shown."};
  AddFlag(app, "host", f.host, "address to listen on");
  AddFlag(app, "port", f.port,
          "gRPC port (0 = any free port, logged at startup)")
      ->check(CLI::Range(0, 65535));
  AddFlag(app, "threads", f.threads,
          "maximum gRPC server threads (0 = gRPC's default)")
      ->check(CLI::Range(0, 4096));
  AddFlag(app, "compute_threads", f.compute_threads,
          "threads for computation (0 = the cores this process may use)")
      ->check(CLI::Range(0, 4096));
  AddFlag(app, "log_level", f.log_level,
          "trace, debug, info, warn, error or off")
      ->check(
          CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  AddFlag(app, "max_message_bytes", f.max_message_bytes,
          "largest request or response message, in bytes")
      ->check(CLI::Range(int64_t{1024}, int64_t{2047} << 20));
  AddFlag(app, "max_elements", f.max_elements, "largest tensor, in elements")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  AddFlag(app, "max_batch_items", f.max_batch_items,
          "most items in one BatchEvaluate")
      ->check(CLI::Range(1, 1 << 20));
  AddFlag(app, "shutdown_grace", f.shutdown_grace,
          "seconds in-flight calls get to finish after SIGTERM")
      ->check(CLI::Range(0.0, 3600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(f.log_level));

  // Signals are taken synchronously below; block them before gRPC starts its
  // threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  actd::ServiceOptions options;
  options.max_elements = f.max_elements;
  options.max_batch_items = f.max_batch_items;
  options.max_message_bytes = f.max_message_bytes;
  options.compute_threads =
      f.compute_threads > 0 ? f.compute_threads : CoresAvailable();
  options.version = ACTD_VERSION;
  options.isa = Eigen::SimdInstructionSetsInUse();
  std::unique_ptr<grpc::Service> service = actd::NewActivationService(options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = f.host + ":" + std::to_string(f.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(f.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(f.max_message_bytes));
  if (f.threads > 0) {
    grpc::ResourceQuota quota("actd");
    quota.SetMaxThreads(f.threads);
    builder.SetResourceQuota(quota);
  }
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::critical("cannot listen on {}", address);
    return 2;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  spdlog::info("actd {} listening on {}:{} (isa {}, compute threads {})",
               options.version, f.host, port, options.isa,
               options.compute_threads);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, draining for up to {} s", strsignal(received),
               f.shutdown_grace);
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(f.shutdown_grace * 1000)));
  server->Wait();
  spdlog::info("stopped");
  return 0;
}
