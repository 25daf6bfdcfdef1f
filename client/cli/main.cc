// actctl: the command-line client of actd. Flags and environment are read
// here only; each subcommand is a function of plain argument structs.
// Exit codes: 0 ok, 1 RPC error (or a failed health check / batch item),
// 2 usage error.
#include <unistd.h>

#include <algorithm>
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
  std::string service_config;  // FILE, "none", or "" for the default
};

void AddGlobalFlags(CLI::App& app, GlobalFlags& g) {
  app.add_option("--target", g.target,
                 "server address host[:port] (port 50051 when omitted)")
      ->envname("ACTCTL_TARGET")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout,
                 "deadline of each call in seconds (0 = none)")
      ->capture_default_str();
  app.add_option("-o,--format", g.format, "output: text, json or yaml")
      ->check(CLI::IsMember({"text", "json", "yaml"}))
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
  app.add_option("--lb", g.lb,
                 "load-balancing policy, overriding the service config's");
  app.add_option("--service-config", g.service_config,
                 "client service config JSON file, or none (default: the "
                 "recommended one: round_robin, retries of UNAVAILABLE)");
}

RunContext MakeContext(const GlobalFlags& g) {
  RunContext context;
  const bool no_color = std::getenv("NO_COLOR") != nullptr;
  context.color_out = !no_color && isatty(STDOUT_FILENO);
  context.color_err = !no_color && isatty(STDERR_FILENO);
  context.json = g.format != "text";
  context.yaml = g.format == "yaml";
  client::ConnectionOptions& c = context.connection;
  c.target = g.target;
  c.timeout_seconds = g.timeout;
  c.lb_policy = g.lb;
  if (g.service_config == "none") {
    c.service_config.clear();
  } else if (!g.service_config.empty()) {
    c.service_config = ReadFileOrThrow(g.service_config, "--service-config");
  }
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
    sub->add_option("--input", t.input,
                    "input tensor file: .npy, .csv, .json (bfloat16 .npy: "
                    "uint16 bit patterns with --dtype bfloat16)")
        ->check(CLI::ExistingFile);
    sub->add_option("--random", t.random, "N standard normal input values");
    sub->add_option("--seed", t.seed, "seed of --random")
        ->capture_default_str();
  }
  sub->add_option("--shape", t.shape,
                  "input shape, e.g. 2,3 or -1,2 (-1 inferred; default [N])");
  sub->add_option("--dtype", t.dtype,
                  "float32 (default), float64, bfloat16 or float16")
      ->check(CLI::IsMember({"float32", "float64", "bfloat16", "float16"}));
  sub->add_option("--encoding", t.encoding,
                  "raw (packed bytes, default) or typed (repeated fields; "
                  "default with -o json)")
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

// The subcommands and what each runs once parsed.
using Command = std::pair<CLI::App*, std::function<int(RunContext&)>>;

// Every flag value of every subcommand, kept alive while the app runs.
struct Flags {
  GlobalFlags global;
  std::string health_service, describe_name, batch_file, shell;
  SpecArgs describe_spec;
  EvaluateArgs forward, backward;
  CompareArgs compare;
  PlotArgs plot;
  BenchArgs bench;
};

CLI::App* AddCommand(CLI::App& app, std::vector<Command>& commands,
                     const char* name, const char* help, const char* example,
                     std::function<int(RunContext&)> run) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->footer(std::string("Example:\n  ") + example);
  commands.emplace_back(sub, std::move(run));
  return sub;
}

void AddInspectCommands(CLI::App& app, std::vector<Command>& c, Flags& f) {
  AddCommand(app, c, "list", "table of the activations and their properties",
             "actctl list", [](RunContext& r) { return RunList(r); });
  AddCommand(app, c, "info", "server version, compute ISA, threads and limits",
             "actctl info", [](RunContext& r) { return RunInfo(r); });
  AddCommand(app, c, "health", "grpc.health.v1 check; exit 0 when SERVING",
             "actctl health",
             [&f](RunContext& r) { return RunHealth(r, f.health_service); })
      ->add_option("service", f.health_service, "service name ('' = server)");
  CLI::App* describe = AddCommand(
      app, c, "describe", "formula, parameters, properties and a plot of one",
      "actctl describe gelu --param approximate=tanh", [&f](RunContext& r) {
        return RunDescribe(r, f.describe_name, f.describe_spec);
      });
  describe->add_option("name", f.describe_name, "activation")->required();
  AddSpecFlags(describe, f.describe_spec);
}

void AddEvaluateCommands(CLI::App& app, std::vector<Command>& c, Flags& f) {
  f.backward.backward = true;
  for (EvaluateArgs* e : {&f.forward, &f.backward}) {
    auto run = [e](RunContext& r) { return RunEvaluate(r, *e); };
    CLI::App* sub =
        e->backward
            ? AddCommand(app, c, "backward",
                         "dL/dx and parameter gradients (default dL/dy = 1)",
                         "actctl backward elu --values -1,0,2 --param "
                         "alpha=0.5",
                         run)
            : AddCommand(app, c, "forward", "y = f(x)",
                         "actctl forward relu --values -1,0,2", run);
    sub->add_option("name", e->name, "activation, e.g. relu")->required();
    AddTensorFlags(sub, e->tensor);
    AddSpecFlags(sub, e->spec);
    sub->add_option("--output", e->output,
                    e->backward
                        ? "write grad_input to .npy/.csv/.json (each of "
                          "grad_params to <stem>.<name>.<ext>), or all to .npz"
                        : "write the output to .npy/.csv/.json (each extra to "
                          "<stem>.<name>.<ext>), or all to .npz");
    if (e->backward) {
      sub->add_option("--grad-output", e->grad_output,
                      "dL/dy as a tensor file or comma-separated values");
    }
  }
  AddCommand(app, c, "batch",
             "BatchEvaluate from a BatchEvaluateRequest in protobuf JSON "
             "('-' = stdin); exit 1 if any item fails",
             "actctl batch requests.json",
             [&f](RunContext& r) { return RunBatch(r, f.batch_file); })
      ->add_option("file", f.batch_file, "request file")
      ->required();
}

void AddPictureCommands(CLI::App& app, std::vector<Command>& c, Flags& f) {
  CLI::App* compare = AddCommand(
      app, c, "compare", "one input through several activations, side by side",
      "actctl compare relu gelu swish --values -2,-1,0,1,2",
      [&f](RunContext& r) { return RunCompare(r, f.compare); });
  compare->add_option("names", f.compare.names, "activations, or all")
      ->required();
  compare->add_flag("--backward", f.compare.backward,
                    "compare derivatives instead of values");
  AddTensorFlags(compare, f.compare.tensor);

  CLI::App* plot = AddCommand(
      app, c, "plot", "SVG plot of activations and their derivatives",
      "actctl plot relu gelu mish --out act.svg --range -4:4",
      [&f](RunContext& r) { return RunPlot(r, f.plot); });
  plot->add_option("names", f.plot.names, "activations, or all")->required();
  plot->add_option("--out", f.plot.out, "SVG file to write")->required();
  plot->add_option("--range", f.plot.range, "x range lo:hi")
      ->capture_default_str();
  plot->add_option("--points", f.plot.points, "samples per curve")
      ->capture_default_str();
  plot->add_option("--layout", f.plot.layout,
                   "single (one chart) or grid (a panel per activation)")
      ->check(CLI::IsMember({"single", "grid"}))
      ->capture_default_str();
  AddSpecFlags(plot, f.plot.spec, /*with_weights=*/false);
}

void AddBenchCommand(CLI::App& app, std::vector<Command>& c, Flags& f) {
  BenchArgs& b = f.bench;
  CLI::App* bench = AddCommand(
      app, c, "bench",
      "load test of Forward/Backward (count, rps, latency percentiles)",
      "actctl bench relu -c 8 -z 5s --elements 4096 --report run.json",
      [&f](RunContext& r) { return RunBench(r, f.bench); });
  bench->add_option("name", b.name, "activation")->capture_default_str();
  bench->add_option("-c,--concurrency", b.concurrency, "concurrent workers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench->add_option("-n,--total", b.total, "number of requests")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench->add_option("-z,--duration", b.duration,
                    "run for a time instead of -n, e.g. 5s, 500ms, 1m");
  bench->add_option("--rps", b.rps, "overall request rate (0 = max)")
      ->check(CLI::NonNegativeNumber);
  bench
      ->add_option("--connections", b.connections,
                   "channels to spread the workers over")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench
      ->add_option("--elements", b.elements,
                   "elements per request when --shape is absent")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--direction", b.direction, "forward or backward")
      ->check(CLI::IsMember({"forward", "backward"}))
      ->capture_default_str();
  bench->add_option("--report", b.report,
                    "also write the figures to FILE: .json, or .csv (one "
                    "header row, one value row)");
  AddTensorFlags(bench, b.tensor, /*with_source=*/false);
  bench->add_option("--seed", b.tensor.seed, "seed of the input");
  AddSpecFlags(bench, b.spec);
}

void AddCompletionCommand(CLI::App& app, std::vector<Command>& c, Flags& f) {
  AddCommand(app, c, "completion", "print a shell completion script",
             "source <(actctl completion bash)",
             [&](RunContext&) {
               std::cout << CompletionScript(app, f.shell);
               return kExitOk;
             })
      ->add_option("shell", f.shell, "bash, zsh or fish")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}))
      ->required();
}

// The first argument that is not an option or an option's value, when it
// names no subcommand: "unknown command X; did you mean Y?" and true.
bool ReportUnknownCommand(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names.push_back(sub->get_name());
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return false;
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') != std::string::npos) continue;
      for (const CLI::Option* o : app.get_options()) {
        if (o->check_name(arg) && o->get_items_expected_min() > 0) ++i;
      }
      continue;
    }
    if (std::find(names.begin(), names.end(), arg) != names.end()) {
      return false;
    }
    const std::string guess = client::ClosestName(arg, names);
    std::cerr << "error: unknown command " << arg
              << (guess.empty() ? "" : "; did you mean " + guess + "?")
              << "\nRun with --help for the commands.\n";
    return true;
  }
  return false;
}

int RunParsed(std::vector<Command>& commands, Flags& f) {
  try {
    RunContext context = MakeContext(f.global);
    if (context.json) {
      for (TensorArgs* t :
           {&f.forward.tensor, &f.backward.tensor, &f.compare.tensor}) {
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

int Main(int argc, char** argv) {
  CLI::App app{"actctl: command-line client of the actd activation service"};
  app.set_version_flag("--version", "actctl 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Exit codes: 0 ok, 1 RPC error, 2 usage error.\n"
      "Example:\n  actctl --target localhost:50051 forward relu --values "
      "-1,0,2");
  Flags flags;
  AddGlobalFlags(app, flags.global);
  std::vector<Command> commands;
  AddInspectCommands(app, commands, flags);
  AddEvaluateCommands(app, commands, flags);
  AddPictureCommands(app, commands, flags);
  AddBenchCommand(app, commands, flags);
  AddCompletionCommand(app, commands, flags);
  if (ReportUnknownCommand(app, argc, argv)) return kExitUsage;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return RunParsed(commands, flags);
}

}  // namespace
}  // namespace actd::cli

int main(int argc, char** argv) { return actd::cli::Main(argc, argv); }
