// The Open Inference Protocol over HTTP/REST (the KServe v2 REST API, with
// Triton's binary tensor extension), and the activation explorer page at "/".
// Requests go through the same mapping and compute path as the gRPC service
// (server/service/oip_mapping.h): JSON is turned into a ModelInferRequest,
// the result back into JSON or binary.
#ifndef ACTD_SERVER_HTTP_HTTP_SERVER_H_
#define ACTD_SERVER_HTTP_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/service/evaluate.h"

namespace actd {

struct HttpOptions {
  std::string host = "0.0.0.0";
  int port = 8000;  // 0 = any free port
  // PEM files, as for gRPC: TLS when cert and key are set, and client
  // certificates signed by client_ca required when that is set too.
  std::string tls_cert, tls_key, tls_client_ca;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // The port it listens on.
  virtual int port() const = 0;
  // Stops accepting and returns once the listener thread has ended.
  virtual void Stop() = 0;
};

// Binds and starts serving on a thread of its own. UNAVAILABLE when the port
// cannot be bound, INVALID_ARGUMENT when the TLS files do not load.
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& http, ServiceOptions options);

}  // namespace actd

#endif  // ACTD_SERVER_HTTP_HTTP_SERVER_H_
