// BuildServer, Serve and Drain (server.h).
#include "server/server.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace actd {
namespace {

int Millis(double seconds) { return static_cast<int>(seconds * 1000); }

// How long a drain waits after turning NOT_SERVING before it shuts down.
constexpr std::chrono::milliseconds kHealthPropagation(250);

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

void ApplyTransportSettings(const ServerOptions& o,
                            grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  builder->SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  // One server per port: without this gRPC sets SO_REUSEPORT, and a second
  // actd on the same port would start and take half the connections.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // The calls a connection has open are requests gRPC receives and holds
  // until a thread admits or refuses them. Unbounded, a client sending faster
  // than the server can even refuse grew its memory by ~150 MiB in 2 s
  // (tests/soak/test_overload.py, the flood); bounded, its further calls wait
  // on the client for a stream (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
  if (o.max_concurrent_streams > 0) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                                o.max_concurrent_streams);
  }
  if (o.max_connection_age > 0) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                                Millis(o.max_connection_age));
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                                Millis(o.shutdown_grace));
  }
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                              Millis(o.keepalive_time));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              Millis(o.keepalive_timeout));
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  if (o.threads > 0) {
    grpc::ResourceQuota quota("actd");
    quota.SetMaxThreads(o.threads);
    builder->SetResourceQuota(quota);
  }
  // Sync services (reflection) poll with this timeout, which bounds how long
  // Shutdown waits for their pollers (gRPC's default is 10 s).
  builder->SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 100);
}

}  // namespace

void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

RunningServer BuildServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services,
    const std::function<void(grpc::ServerBuilder*)>& configure) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  RunningServer running;
  const std::string address = options.host + ":" + std::to_string(options.port);
  builder.AddListeningPort(address, options.credentials, &running.port);
  ApplyTransportSettings(options, &builder);
  if (configure) configure(&builder);
  for (grpc::Service* service : services) builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    running.server.reset();
    return running;
  }
  running.server->GetHealthCheckService()->SetServingStatus(true);
  return running;
}

int Serve() {
  const sigset_t signals = StopSignals();
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

void Drain(grpc::Server* server, double grace_seconds) {
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(Millis(grace_seconds));
  server->GetHealthCheckService()->SetServingStatus(false);
  // Clients that watch health (the recommended service config does) stop
  // picking this server within milliseconds; calls they send meanwhile are
  // served. Only then does Shutdown refuse new streams: a stream that reaches
  // a server after Shutdown began is cancelled by gRPC (CANCELLED, which a
  // client does not retry), so it must find none arriving.
  std::this_thread::sleep_for(
      std::min(kHealthPropagation,
               std::chrono::milliseconds(Millis(grace_seconds / 2))));
  server->Shutdown(deadline);
}

}  // namespace actd
