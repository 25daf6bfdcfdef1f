// actd's configuration: every flag, its ACTD_* environment variable, and the
// parse that turns both into one ServerFlags.
//
// Flags are written in kebab-case (--max-elements), as actctl's are; the
// snake_case spelling (--max_elements) is accepted too. Each flag can also come
// from ACTD_<NAME> (ACTD_MAX_ELEMENTS); a flag on the command line wins over
// the environment, and a bad environment value is refused naming the variable.
#ifndef ACTD_SERVER_OPTIONS_H_
#define ACTD_SERVER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace actd {

struct ServerFlags {
  // Network
  std::string host = "0.0.0.0";
  int port = 50051;
  int metrics_port = 8002;  // Triton's metrics port; Prometheus itself has 9090
  int http_port = 8000;     // the Open Inference Protocol over HTTP; 0 = off
  int threads = 0;
  double max_connection_age = 300;
  double keepalive_time = 60;
  double keepalive_timeout = 20;
  double shutdown_grace = 20;
  // Limits
  int64_t max_message_bytes = int64_t{256} << 20;
  int64_t max_elements = int64_t{64} << 20;
  int max_batch_items = 1024;
  int max_inflight = 64;
  int max_concurrent_streams = 100;
  // Compute
  int compute_threads = 0;
  std::string isa = "auto";
  // Observability
  std::string log_level = "info";
  std::string log_format = "text";
  bool access_log = false;
  // Security
  std::string tls_cert, tls_key, tls_client_ca, auth_token_file;
};

// Parses the environment and argv into `flags`. Returns the exit status when
// the process should stop here (0 after --help or --version, 2 after one
// diagnostic line on stderr for a bad flag or variable), nullopt to go on.
std::optional<int> ParseServerFlags(int argc, const char* const* argv,
                                    const char* version, ServerFlags* flags);

// Prints a configuration error found after parsing (one line naming the flag,
// then the --help hint) to stderr and returns 2, the exit status for it.
int ConfigError(const std::string& message);

}  // namespace actd

#endif  // ACTD_SERVER_OPTIONS_H_
