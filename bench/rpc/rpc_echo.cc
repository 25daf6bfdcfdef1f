// rpc_echo: the transport limit for bench/rpc. A gRPC server on the callback
// API that answers every unary call, whatever its method path, with the
// request's bytes unchanged. It never parses a message, so a call costs only
// what gRPC itself costs: the ceiling any service on the same path can reach.
//
// Usage: rpc_echo [host:port]   (default 127.0.0.1:0; prints "port N" once
// listening, then serves until SIGINT or SIGTERM).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

// One call: read the single request message, write it back, finish OK. The
// reactor deletes itself when gRPC reports the call done.
class EchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  EchoReactor() { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "request: no message was sent"));
      return;
    }
    // Unary: the message is final, so the write and the finish go together.
    StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer message_;
};

class EchoService final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* /*context*/) override {
    return new EchoReactor;
  }
};

// Blocks SIGINT and SIGTERM in every thread and returns when one arrives.
void WaitForStopSignal() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  int received = 0;
  sigwait(&stop, &received);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string address = argc > 1 ? argv[1] : "127.0.0.1:0";
  // Block the stop signals before gRPC starts threads, so they inherit the
  // mask and only sigwait() sees the signal.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&service);
  // As large as actd's default message limit, so the same requests pass.
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "rpc_echo: cannot listen on %s\n", address.c_str());
    return 2;
  }
  std::printf("port %d\n", port);
  std::fflush(stdout);
  WaitForStopSignal();
  server->Shutdown();
  return 0;
}
