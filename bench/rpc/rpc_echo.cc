// rpc_echo: the transport limit for bench/rpc. A gRPC server on the callback
// API that answers every unary call, whatever its method path, with the
// request's bytes unchanged. It never parses a message, so a call costs only
// what gRPC itself costs: the ceiling any service on the same path can reach.
//
// Usage: rpc_echo [host:port] [--unary]   (default 127.0.0.1:0; prints
// "port N" once listening, then serves until SIGINT or SIGTERM).
//
// --unary serves /activation.v1.ActivationService/Forward as a registered
// callback unary method instead (every other path stays generic): the two
// ways gRPC's callback API offers a unary method, measured side by side
// (compare.py --unary-echo).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
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

// The Forward path as a registered callback unary method: gRPC reads the
// request before the handler runs, and the handler's reactor finishes with it.
class UnaryEchoService final : public grpc::Service {
 public:
  UnaryEchoService() {
    AddMethod(new grpc::internal::RpcServiceMethod(
        "/activation.v1.ActivationService/Forward",
        grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodCallback(
        0, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer,
                                                    grpc::ByteBuffer>(
               [](grpc::CallbackServerContext* context,
                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                 *response = *request;  // shares the slices
                 grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
                 reactor->Finish(grpc::Status::OK);
                 return reactor;
               }));
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
  std::string address = "127.0.0.1:0";
  bool unary = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--unary") {
      unary = true;
    } else {
      address = argv[i];
    }
  }
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
  UnaryEchoService unary_service;
  if (unary) builder.RegisterService(&unary_service);
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
