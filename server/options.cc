// actd's flags with CLI11: declared once, grouped for --help, parsed from the
// environment first (one variable at a time, so an error names it) and then
// from the command line, which wins.
#include "server/options.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"

namespace actd {
namespace {

constexpr char kHelpHint[] = "Run with --help for more information.";

// "max-elements" -> "ACTD_MAX_ELEMENTS".
std::string EnvName(const std::string& flag) {
  std::string env = "ACTD_" + absl::StrReplaceAll(flag, {{"-", "_"}});
  absl::AsciiStrToUpper(&env);
  return env;
}

// Declares the flags of ServerFlags on an app, bound to one ServerFlags.
class Declarer {
 public:
  Declarer(CLI::App& app, ServerFlags& f, bool show_env)
      : app_(app), f_(f), show_env_(show_env) {}

  void All() {
    Network();
    Limits();
    Compute();
    Observability();
    Security();
  }

 private:
  template <typename T>
  CLI::Option* Add(const std::string& name, T& value, const std::string& help) {
    CLI::Option* option = std::is_same_v<T, bool>
                              ? app_.add_flag("--" + name, value, help)
                              : app_.add_option("--" + name, value, help);
    option->group(group_)->capture_default_str();
    if (show_env_) option->envname(EnvName(name));
    return option;
  }

  void Network() {
    group_ = "Network";
    Add("host", f_.host, "address to listen on (0.0.0.0: every interface)");
    Add("port", f_.port, "gRPC port (0 = any free port, logged at startup)")
        ->check(CLI::Range(0, 65535));
    Add("metrics-port", f_.metrics_port, "Prometheus /metrics port (0 = off)")
        ->check(CLI::Range(0, 65535));
    Add("http-port", f_.http_port,
        "Open Inference Protocol HTTP/REST port, with the explorer page at / "
        "(0 = off)")
        ->check(CLI::Range(0, 65535));
    Add("threads", f_.threads,
        "maximum gRPC server threads (0 = gRPC's default)")
        ->check(CLI::Range(0, 4096));
    Add("max-connection-age", f_.max_connection_age,
        "seconds before a connection is asked to go away, so clients "
        "re-resolve (0 = never)")
        ->check(CLI::Range(0.0, 1e6));
    Add("keepalive-time", f_.keepalive_time, "seconds between keepalive pings")
        ->check(CLI::Range(1.0, 1e6));
    Add("keepalive-timeout", f_.keepalive_timeout,
        "seconds to wait for a keepalive ack")
        ->check(CLI::Range(1.0, 1e6));
    Add("shutdown-grace", f_.shutdown_grace,
        "seconds in-flight calls get to finish after SIGTERM")
        ->check(CLI::Range(0.0, 3600.0));
  }

  void Limits() {
    group_ = "Limits";
    Add("max-message-bytes", f_.max_message_bytes,
        "largest request or response message, in bytes")
        ->check(CLI::Range(int64_t{1024}, int64_t{2047} << 20));
    Add("max-elements", f_.max_elements, "largest tensor, in elements")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    Add("max-batch-items", f_.max_batch_items,
        "most items in one BatchEvaluate")
        ->check(CLI::Range(1, 1 << 20));
    Add("max-inflight", f_.max_inflight,
        "most calls computing at once; more are refused with "
        "RESOURCE_EXHAUSTED (0 = no limit)")
        ->check(CLI::Range(0, 1 << 20));
    Add("max-concurrent-streams", f_.max_concurrent_streams,
        "most calls open at once on one connection; a client's further calls "
        "wait on its side (0 = no limit)")
        ->check(CLI::Range(0, 1 << 20));
  }

  void Compute() {
    group_ = "Compute";
    Add("compute-threads", f_.compute_threads,
        "threads for computation (0 = the cores this process may use, cgroup "
        "quota respected)")
        ->check(CLI::Range(0, 4096));
    Add("isa", f_.isa,
        "kernel instruction set: auto (the widest this CPU runs), baseline, "
        "avx2 or avx512");
  }

  void Observability() {
    group_ = "Observability";
    Add("log-level", f_.log_level, "trace, debug, info, warn, error or off")
        ->check(
            CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    Add("log-format", f_.log_format, "text or json (one object per line)")
        ->check(CLI::IsMember({"text", "json"}));
    Add("access-log", f_.access_log, "log one line per request at info level");
  }

  void Security() {
    group_ = "Security";
    Add("tls-cert", f_.tls_cert, "PEM server certificate (enables TLS)");
    Add("tls-key", f_.tls_key, "PEM server private key");
    Add("tls-client-ca", f_.tls_client_ca,
        "PEM CA bundle; when set, clients must present a certificate it "
        "signed (mTLS)");
    Add("auth-token-file", f_.auth_token_file,
        "file holding a bearer token that ActivationService calls must send");
  }

  CLI::App& app_;
  ServerFlags& f_;
  bool show_env_;
  std::string group_;
};

// argv after the program name with each long flag's name in kebab-case
// (--max_elements=5 -> --max-elements=5; values are left alone), reversed as
// CLI11's vector parse expects.
std::vector<std::string> KebabArgs(int argc, const char* const* argv) {
  std::vector<std::string> args;
  bool after_separator = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    after_separator |= arg == "--";
    if (!after_separator && arg.rfind("--", 0) == 0) {
      const size_t end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin(), arg.begin() + end, '_', '-');
    }
    args.push_back(std::move(arg));
  }
  std::reverse(args.begin(), args.end());
  return args;
}

// A short hint for values that are not actd's at all.
std::string EnvHint(const std::string& value) {
  if (value.rfind("tcp://", 0) == 0) {
    return " (Kubernetes sets such variables for a Service named actd; set "
           "enableServiceLinks: false in the pod spec)";
  }
  return "";
}

// Applies each ACTD_* variable that is set; on a bad value prints one line
// naming the variable and returns false.
bool ParseEnvironment(ServerFlags* flags) {
  CLI::App names;
  Declarer(names, *flags, false).All();
  for (const CLI::Option* option : names.get_options()) {
    if (option->get_lnames().empty()) continue;
    const std::string& name = option->get_lnames().front();
    const std::string var = EnvName(name);
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    CLI::App app;
    Declarer(app, *flags, false).All();
    try {
      app.parse(std::vector<std::string>{"--" + name + "=" + value});
    } catch (const CLI::ParseError& e) {
      std::cerr << var << "=" << value << ": " << e.what() << EnvHint(value)
                << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<int> ParseServerFlags(int argc, const char* const* argv,
                                    const char* version, ServerFlags* flags) {
  if (!ParseEnvironment(flags)) return 2;
  CLI::App app{
      "actd: evaluates neural-network activation functions over gRPC.\n"
      "Flags are kebab-case (--max-elements); --max_elements works too. Each "
      "can also be set through the environment variable shown."};
  app.name("actd");
  app.set_version_flag("--version", std::string("actd ") + version);
  Declarer(app, *flags, true).All();
  try {
    app.parse(KebabArgs(argc, argv));
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int ConfigError(const std::string& message) {
  std::cerr << message << "\n" << kHelpHint << "\n";
  return 2;
}

}  // namespace actd
