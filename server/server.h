// The gRPC server around actd's services, in three steps: BuildServer
// (listening port, limits, keepalive, health checking, reflection, the
// services), Serve (until SIGINT or SIGTERM) and Drain (health NOT_SERVING,
// then gRPC's Shutdown with the grace period as its deadline).
#ifndef ACTD_SERVER_SERVER_H_
#define ACTD_SERVER_SERVER_H_

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"

namespace actd {

// Transport settings, from the flags of the same names.
struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 50051;  // 0 = any free port
  int threads = 0;   // 0 = gRPC's default
  int64_t max_message_bytes = int64_t{256} << 20;
  int max_concurrent_streams = 100;  // per connection, 0 = no limit
  double max_connection_age = 300;   // seconds, 0 = never
  double shutdown_grace = 20;        // seconds
  double keepalive_time = 60;
  double keepalive_timeout = 20;
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
};

// A started server and the port it listens on.
struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Blocks SIGINT and SIGTERM in this thread and every thread started after it,
// so that Serve can take them synchronously. Call before any thread starts.
void BlockStopSignals();

// Builds and starts a server with `services` (and `configure`'s extra builder
// settings), health checking (SERVING) and reflection; a null server when it
// cannot listen (gRPC has logged why). SO_REUSEPORT is off: a port in use is
// an error, not a second server sharing the traffic.
RunningServer BuildServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services,
    const std::function<void(grpc::ServerBuilder*)>& configure);

// Waits for SIGINT or SIGTERM (blocked by BlockStopSignals); returns it.
int Serve();

// Drains: health turns NOT_SERVING, the listener closes, clients are told to
// go elsewhere (GOAWAY) while calls in flight get `grace_seconds` to finish,
// and calls still running then are cancelled. Returns once every call is done.
void Drain(grpc::Server* server, double grace_seconds);

}  // namespace actd

#endif  // ACTD_SERVER_SERVER_H_
