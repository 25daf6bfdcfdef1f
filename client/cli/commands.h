// The actctl subcommands other than bench: each takes the shared RunContext
// plus its own arguments, makes its RPCs and returns the process exit code
// (kExitOk, kExitRpcError; bad arguments throw UsageError).
#ifndef ACTD_CLIENT_CLI_COMMANDS_H_
#define ACTD_CLIENT_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "client/cli/output.h"
#include "client/cli/request_args.h"

namespace actd::cli {

struct EvaluateArgs {
  std::string name;
  bool backward = false;
  TensorArgs tensor;
  SpecArgs spec;
  std::string output;       // result file (.npy, .csv, .json)
  std::string grad_output;  // backward: dL/dy as a file or values
};

struct CompareArgs {
  std::vector<std::string> names;  // or {"all"}
  bool backward = false;
  TensorArgs tensor;
};

struct PlotArgs {
  std::vector<std::string> names;
  std::string out;             // .svg file
  std::string range = "-5:5";  // lo:hi
  int points = 201;
  std::string layout = "single";  // single chart, or grid: a panel each
  SpecArgs spec;                  // applied to every activation
};

int RunList(const RunContext& context);
int RunInfo(const RunContext& context);
// SERVING -> 0; any other status or an RPC error -> 1.
int RunHealth(const RunContext& context, const std::string& service);
int RunDescribe(const RunContext& context, const std::string& name,
                const SpecArgs& spec);
int RunEvaluate(const RunContext& context, const EvaluateArgs& args);
// 1 when the RPC fails or any item of the batch fails.
int RunBatch(const RunContext& context, const std::string& file);
int RunCompare(const RunContext& context, const CompareArgs& args);
int RunPlot(const RunContext& context, const PlotArgs& args);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_COMMANDS_H_
