// actctl: the command-line client of actd. Flags and environment are read
// here only; each subcommand is a function of plain argument structs.
// Exit codes: 0 ok, 1 RPC error (or a failed health check / batch item),
// 2 usage error.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "client/cli/bench.h"
#include "client/cli/commands.h"
#include "client/cli/completion.h"

namespace actd::cli {
namespace {

std::string ReadFileOrThrow(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(std::string(flag) + " " + path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The flags shared by the connection and output settings.
struct GlobalFlags {
  std::string target = "localhost:50051";
  double timeout = 30;
  std::string format = "text";
  bool tls = false;
  std::string tls_ca, tls_cert, tls_key, token, token_file, lb;
};

void AddGlobalFlags(CLI::App& app, GlobalFlags& g) {
  app.add_option("--target", g.target, "server address host:port")
      ->envname("ACTCTL_TARGET")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout,
                 "deadline of each call in seconds (0 = none)")
      ->capture_default_str();
  app.add_option("--format", g.format, "output: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--tls", g.tls, "use TLS with the system root certificates");
  app.add_option("--tls-ca", g.tls_ca, "PEM CA bundle to verify the server")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", g.tls_cert, "PEM client certificate (mTLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", g.tls_key, "PEM client private key (mTLS)")
      ->check(CLI::ExistingFile);
  auto* token = app.add_option("--token", g.token,
                               "bearer token sent as authorization metadata");
  app.add_option("--token-file", g.token_file, "file holding the bearer token")
      ->check(CLI::ExistingFile)
      ->excludes(token);
  app.add_option(
      "--lb", g.lb,
      "load-balancing policy, e.g. round_robin with dns:/// targets");
}

RunContext MakeContext(const GlobalFlags& g) {
  RunContext context;
  const bool no_color = std::getenv("NO_COLOR") != nullptr;
  context.color_out = !no_color && isatty(STDOUT_FILENO);
  context.color_err = !no_color && isatty(STDERR_FILENO);
  context.json = g.format == "json";
  client::ConnectionOptions& c = context.connection;
  c.target = g.target;
  c.timeout_seconds = g.timeout;
  c.lb_policy = g.lb;
  c.tls = g.tls;
  if (!g.tls_ca.empty()) c.tls_ca = ReadFileOrThrow(g.tls_ca, "--tls-ca");
  if (!g.tls_cert.empty())
    c.tls_cert = ReadFileOrThrow(g.tls_cert, "--tls-cert");
  if (!g.tls_key.empty()) c.tls_key = ReadFileOrThrow(g.tls_key, "--tls-key");
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    throw UsageError("--tls-cert and --tls-key go together");
  }
  c.token = g.token;
  if (!g.token_file.empty()) {
    c.token = std::string(absl::StripAsciiWhitespace(
        ReadFileOrThrow(g.token_file, "--token-file")));
  }
  return context;
}

// --values/--shape/--input/--random/--seed/--dtype/--encoding.
void AddTensorFlags(CLI::App* sub, TensorArgs& t, bool with_source = true) {
  if (with_source) {
    sub->add_option("--values", t.values, "comma-separated input values");
    sub->add_option("--input", t.input, "input tensor file: .npy, .csv, .json")
        ->check(CLI::ExistingFile);
    sub->add_option("--random", t.random, "N standard normal input values");
    sub->add_option("--seed", t.seed, "seed of --random")
        ->capture_default_str();
  }
  sub->add_option("--shape", t.shape, "input shape, e.g. 2,3 (default [N])");
  sub->add_option("--dtype", t.dtype, "float32 (default) or float64")
      ->check(CLI::IsMember({"float32", "float64"}));
  sub->add_option("--encoding", t.encoding,
                  "raw (packed bytes, default) or typed (repeated fields; "
                  "default with --format json)")
      ->check(CLI::IsMember({"raw", "typed"}));
}

void AddSpecFlags(CLI::App* sub, SpecArgs& s, bool with_weights = true) {
  sub->add_option("--param", s.params,
                  "key=value: a number, true/false, or text (repeatable)");
  if (with_weights) {
    sub->add_option("--weight", s.weights,
                    "name=FILE|values, e.g. alpha=0.25 for prelu (repeatable)");
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"actctl: command-line client of the actd activation service"};
  app.set_version_flag("--version", "actctl 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Exit codes: 0 ok, 1 RPC error, 2 usage error.\n"
      "Example:\n  actctl --target localhost:50051 forward relu --values "
      "-1,0,2");
  GlobalFlags global;
  AddGlobalFlags(app, global);

  std::vector<std::pair<CLI::App*, std::function<int(RunContext&)>>> commands;
  auto add = [&](const char* name, const char* help, const char* example,
                 std::function<int(RunContext&)> run) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->footer(std::string("Example:\n  ") + example);
    commands.emplace_back(sub, std::move(run));
    return sub;
  };

  add("list", "table of the activations and their properties", "actctl list",
      [](RunContext& c) { return RunList(c); });
  add("info", "server version, compute ISA, threads and limits", "actctl info",
      [](RunContext& c) { return RunInfo(c); });
  std::string health_service;
  add("health", "grpc.health.v1 check; exit 0 when SERVING", "actctl health",
      [&](RunContext& c) { return RunHealth(c, health_service); })
      ->add_option("service", health_service, "service name ('' = server)");

  std::string describe_name;
  SpecArgs describe_spec;
  CLI::App* describe =
      add("describe", "formula, parameters, properties and a plot of one",
          "actctl describe gelu --param approximate=tanh", [&](RunContext& c) {
            return RunDescribe(c, describe_name, describe_spec);
          });
  describe->add_option("name", describe_name, "activation")->required();
  AddSpecFlags(describe, describe_spec);

  EvaluateArgs forward_args, backward_args;
  backward_args.backward = true;
  for (EvaluateArgs* e : {&forward_args, &backward_args}) {
    CLI::App* sub =
        e->backward
            ? add("backward",
                  "dL/dx and parameter gradients (default dL/dy = 1)",
                  "actctl backward elu --values -1,0,2 --param alpha=0.5",
                  [e](RunContext& c) { return RunEvaluate(c, *e); })
            : add("forward", "y = f(x)", "actctl forward relu --values -1,0,2",
                  [e](RunContext& c) { return RunEvaluate(c, *e); });
    sub->add_option("name", e->name, "activation, e.g. relu")->required();
    AddTensorFlags(sub, e->tensor);
    AddSpecFlags(sub, e->spec);
    sub->add_option("--output", e->output,
                    "write the result tensor to .npy, .csv or .json");
    if (e->backward) {
      sub->add_option("--grad-output", e->grad_output,
                      "dL/dy as a tensor file or comma-separated values");
    }
  }

  std::string batch_file;
  add("batch",
      "BatchEvaluate from a BatchEvaluateRequest in protobuf JSON "
      "('-' = stdin); exit 1 if any item fails",
      "actctl batch requests.json",
      [&](RunContext& c) { return RunBatch(c, batch_file); })
      ->add_option("file", batch_file, "request file")
      ->required();

  CompareArgs compare_args;
  CLI::App* compare =
      add("compare", "one input through several activations, side by side",
          "actctl compare relu gelu swish --values -2,-1,0,1,2",
          [&](RunContext& c) { return RunCompare(c, compare_args); });
  compare->add_option("names", compare_args.names, "activations, or all")
      ->required();
  compare->add_flag("--backward", compare_args.backward,
                    "compare derivatives instead of values");
  AddTensorFlags(compare, compare_args.tensor);

  PlotArgs plot_args;
  CLI::App* plot = add("plot", "SVG plot of activations and their derivatives",
                       "actctl plot relu gelu mish --out act.svg --range -4:4",
                       [&](RunContext& c) { return RunPlot(c, plot_args); });
  plot->add_option("names", plot_args.names, "activations, or all")->required();
  plot->add_option("--out", plot_args.out, "SVG file to write")->required();
  plot->add_option("--range", plot_args.range, "x range lo:hi")
      ->capture_default_str();
  plot->add_option("--points", plot_args.points, "samples per curve")
      ->capture_default_str();
  plot->add_option("--layout", plot_args.layout,
                   "single (one chart) or grid (a panel per activation)")
      ->check(CLI::IsMember({"single", "grid"}))
      ->capture_default_str();
  AddSpecFlags(plot, plot_args.spec, /*with_weights=*/false);

  BenchArgs bench_args;
  CLI::App* bench =
      add("bench",
          "load test of Forward/Backward (count, rps, latency percentiles)",
          "actctl bench relu -c 8 -z 5s --elements 4096",
          [&](RunContext& c) { return RunBench(c, bench_args); });
  bench->add_option("name", bench_args.name, "activation")
      ->capture_default_str();
  bench
      ->add_option("-c,--concurrency", bench_args.concurrency,
                   "concurrent workers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench->add_option("-n,--total", bench_args.total, "number of requests")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench->add_option("-z,--duration", bench_args.duration,
                    "run for a time instead of -n, e.g. 5s, 500ms, 1m");
  bench->add_option("--rps", bench_args.rps, "overall request rate (0 = max)")
      ->check(CLI::NonNegativeNumber);
  bench
      ->add_option("--connections", bench_args.connections,
                   "channels to spread the workers over")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench
      ->add_option("--elements", bench_args.elements,
                   "elements per request when --shape is absent")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--direction", bench_args.direction, "forward or backward")
      ->check(CLI::IsMember({"forward", "backward"}))
      ->capture_default_str();
  AddTensorFlags(bench, bench_args.tensor, /*with_source=*/false);
  bench->add_option("--seed", bench_args.tensor.seed, "seed of the input");
  AddSpecFlags(bench, bench_args.spec);

  std::string shell;
  add("completion", "print a shell completion script",
      "source <(actctl completion bash)",
      [&](RunContext&) {
        std::cout << BashCompletion(app);
        return kExitOk;
      })
      ->add_option("shell", shell, "bash")
      ->check(CLI::IsMember({"bash"}))
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    RunContext context = MakeContext(global);
    if (context.json) {
      for (TensorArgs* t : {&forward_args.tensor, &backward_args.tensor,
                            &compare_args.tensor}) {
        if (t->encoding.empty()) t->encoding = "typed";
      }
    }
    for (auto& [sub, run] : commands) {
      if (sub->parsed()) return run(context);
    }
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitRpcError;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace actd::cli

int main(int argc, char** argv) { return actd::cli::Main(argc, argv); }
