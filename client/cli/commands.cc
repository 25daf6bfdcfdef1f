// list, info, health, describe, forward/backward, batch, compare and plot.
// Each builds its request from the parsed flags, makes one or two RPCs and
// prints either readable text or the protobuf JSON of the response.
#include "client/cli/commands.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/plot.h"
#include "client/cli/probe.h"
#include "client/lib/tensor_io.h"
#include "google/protobuf/util/json_util.h"

namespace actd::cli {

namespace pb = activation::v1;
using client::HostTensor;

namespace {

HostTensor Unpack(const pb::Tensor& tensor) {
  absl::StatusOr<HostTensor> out = client::FromProto(tensor);
  if (!out.ok()) {
    throw std::runtime_error("malformed tensor in the response: " +
                             std::string(out.status().message()));
  }
  return *std::move(out);
}

std::string Bound(double v) {
  if (std::isinf(v)) return v < 0 ? "-∞" : "∞";
  return absl::StrFormat("%g", v);
}

std::string RangeText(const pb::Properties& p) {
  return absl::StrCat(Bound(p.range_min()), " .. ", Bound(p.range_max()));
}

std::string CostText(pb::CostClass cost) {
  const std::string name = pb::CostClass_Name(cost);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "COST_CLASS_"));
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

std::string ParamText(const pb::Param& p) {
  switch (p.value_case()) {
    case pb::Param::kNumber:
      return absl::StrFormat("%g", p.number());
    case pb::Param::kText:
      return p.text();
    case pb::Param::kFlag:
      return p.flag() ? "true" : "false";
    default:
      return "-";
  }
}

// Prints a map of tensors sorted by name, indented under `title`.
void PrintTensorMap(const std::string& title,
                    const google::protobuf::Map<std::string, pb::Tensor>& map) {
  if (map.empty()) return;
  std::cout << title << ":\n";
  std::map<std::string, pb::Tensor> sorted(map.begin(), map.end());
  // Entries sit two columns right of the title, however far it is indented.
  const std::string indent(title.find_first_not_of(' ') + 2, ' ');
  for (const auto& [name, tensor] : sorted) {
    PrintTensor(indent + name, Unpack(tensor));
  }
}

void WriteOrThrow(const std::string& path, const HostTensor& tensor) {
  if (absl::Status s = client::WriteTensorFile(path, tensor); !s.ok()) {
    throw UsageError(std::string(s.message()));
  }
}

template <typename T>
T OrRuntimeError(absl::StatusOr<T> value) {
  if (!value.ok()) throw std::runtime_error(value.status().ToString());
  return *std::move(value);
}

// Writes the main result `name` and the named side tensors (Dice's batch
// statistics, parameter gradients): all in one .npz, or the main one to
// `path` and each other to "<stem>.<name><ext>" beside it.
std::vector<std::string> WriteResults(
    const std::string& path, const std::string& name, const HostTensor& main,
    const google::protobuf::Map<std::string, pb::Tensor>& others) {
  std::map<std::string, pb::Tensor> sorted(others.begin(), others.end());
  const std::filesystem::path file(path);
  if (absl::AsciiStrToLower(file.extension().string()) == ".npz") {
    std::vector<std::pair<std::string, HostTensor>> all = {{name, main}};
    for (const auto& [key, tensor] : sorted)
      all.emplace_back(key, Unpack(tensor));
    if (absl::Status s = client::WriteNpz(path, all); !s.ok()) {
      throw UsageError(std::string(s.message()));
    }
    return {path};
  }
  WriteOrThrow(path, main);
  std::vector<std::string> written = {path};
  for (const auto& [key, tensor] : sorted) {
    std::filesystem::path side = file;
    side.replace_filename(file.stem().string() + "." + key +
                          file.extension().string());
    WriteOrThrow(side.string(), Unpack(tensor));
    written.push_back(side.string());
  }
  return written;
}

// A NOT_FOUND for an unknown activation gains "did you mean ...?" from the
// server's list.
absl::Status WithSuggestion(client::ActdClient& client, absl::Status status,
                            const std::string& name) {
  if (status.code() != absl::StatusCode::kNotFound) return status;
  absl::StatusOr<pb::ListActivationsResponse> list = client.ListActivations();
  if (!list.ok()) return status;
  std::vector<std::string> names;
  for (const pb::ActivationInfo& a : list->activations()) {
    names.push_back(a.name());
  }
  const std::string guess = client::ClosestName(name, names);
  if (guess.empty() || absl::StrContains(status.message(), "did you mean")) {
    return status;
  }
  return absl::NotFoundError(
      absl::StrCat(status.message(), "; did you mean ", guess, "?"));
}

// The points lo .. hi, `points` of them.
std::vector<double> Grid(double lo, double hi, int points) {
  std::vector<double> x;
  for (int i = 0; i < points; ++i)
    x.push_back(lo + (hi - lo) * i / (points - 1));
  return x;
}

// Samples f and f' of `spec` at `x` through `probe` with one Forward and one
// Backward.
absl::StatusOr<Curve> SampleCurve(client::ActdClient& client,
                                  const Probe& probe,
                                  const pb::ActivationSpec& spec,
                                  const std::vector<double>& x) {
  pb::ForwardRequest forward;
  *forward.mutable_activation() = ProbeSpec(probe, spec);
  *forward.mutable_input() = client::ToProto(
      ProbeInput(probe, x, pb::DATA_TYPE_FLOAT64), client::Encoding::kRaw);
  absl::StatusOr<pb::ForwardResponse> f = client.Forward(forward);
  if (!f.ok()) return f.status();
  pb::BackwardRequest backward;
  *backward.mutable_activation() = forward.activation();
  *backward.mutable_input() = forward.input();
  absl::StatusOr<pb::BackwardResponse> df = client.Backward(backward);
  if (!df.ok()) return df.status();
  Curve curve;
  curve.name = spec.name();
  curve.note = probe.note;
  curve.x = x;
  curve.f = ProbeOutput(probe, Unpack(f->output()));
  curve.df = ProbeGradient(probe, Unpack(df->grad_input()));
  return curve;
}

std::string ReadWholeFile(const std::string& path) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int RunList(const RunContext& context) {
  client::ActdClient client(context.connection);
  absl::StatusOr<pb::ListActivationsResponse> response =
      client.ListActivations();
  if (!response.ok()) return ReportRpcError(context, response.status());
  if (context.json) {
    PrintMessage(context, *response);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::ActivationInfo& a : response->activations()) {
    const pb::Properties& p = a.properties();
    rows.push_back({a.name(), YesNo(p.monotonic()), YesNo(p.smooth()),
                    RangeText(p), CostText(p.cost()),
                    p.learnable_parameters()});
  }
  PrintTable({"NAME", "MONOTONIC", "SMOOTH", "RANGE", "COST", "LEARNABLE"},
             rows, context.color_out);
  return kExitOk;
}

int RunInfo(const RunContext& context) {
  client::ActdClient client(context.connection);
  absl::StatusOr<pb::ServerInfo> info = client.GetServerInfo();
  if (!info.ok()) return ReportRpcError(context, info.status());
  if (context.json) {
    PrintMessage(context, *info);
    return kExitOk;
  }
  PrintTable({"FIELD", "VALUE"},
             {{"version", info->version()},
              {"isa", info->isa()},
              {"compute_threads", absl::StrCat(info->compute_threads())},
              {"max_message_bytes", absl::StrCat(info->max_message_bytes())},
              {"max_elements", absl::StrCat(info->max_elements())},
              {"max_batch_items", absl::StrCat(info->max_batch_items())},
              {"max_inflight", absl::StrCat(info->max_inflight())}},
             context.color_out);
  return kExitOk;
}

int RunHealth(const RunContext& context, const std::string& service) {
  client::ActdClient client(context.connection);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> response =
      client.CheckHealth(service);
  if (!response.ok()) return ReportRpcError(context, response.status());
  const bool serving =
      response->status() == grpc::health::v1::HealthCheckResponse::SERVING;
  if (context.json) {
    PrintMessage(context, *response);
  } else {
    const std::string name =
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
            response->status());
    std::cout << Colored(context.color_out, serving ? "32" : "31", name)
              << "\n";
  }
  return serving ? kExitOk : kExitRpcError;
}

namespace {

void PrintParamsAndWeights(const pb::ActivationInfo& a, bool color) {
  if (a.params_size() > 0) {
    std::cout << "params:\n";
    for (const pb::ParamInfo& param : a.params()) {
      std::cout << "  " << Colored(color, "1", param.name()) << "  default "
                << ParamText(param.default_value()) << ", allowed "
                << param.allowed() << (param.learnable() ? ", learnable" : "")
                << "\n      " << param.meaning() << "\n";
    }
    std::cout << "\n";
  }
  if (a.weights_size() > 0) {
    std::cout << "weights:\n";
    for (const pb::WeightInfo& w : a.weights()) {
      std::cout << "  " << Colored(color, "1", w.name()) << "  shape "
                << w.shape() << ", default " << w.default_value()
                << (w.learnable() ? ", learnable" : "") << "\n      "
                << w.meaning() << "\n";
    }
    std::cout << "\n";
  }
}

std::string SmoothText(const pb::Properties& p) {
  if (p.smooth()) return "yes";
  if (p.kinks().empty()) return "no";
  return absl::StrCat("no (kinks at ", absl::StrJoin(p.kinks(), ", "), ")");
}

void PrintProperties(const pb::ActivationInfo& a) {
  const pb::Properties& p = a.properties();
  std::cout << "properties:\n";
  PrintTable(
      {"  PROPERTY", "VALUE"},
      {{"  nonlinear", YesNo(p.nonlinear())},
       {"  monotonic", YesNo(p.monotonic())},
       {"  smooth", SmoothText(p)},
       {"  zero-centered", YesNo(p.zero_centered())},
       {"  range", RangeText(p)},
       {"  saturates", absl::StrCat("left ", YesNo(p.saturates_left()),
                                    ", right ", YesNo(p.saturates_right()))},
       {"  self-normalizing", YesNo(p.self_normalizing())},
       {"  learnable parameters", p.learnable_parameters()},
       {"  cost", CostText(p.cost())},
       {"  elementwise", YesNo(a.elementwise())},
       {"  backward from output", YesNo(a.backward_from_output())}},
      false);
}

}  // namespace

int RunDescribe(const RunContext& context, const std::string& name,
                const SpecArgs& spec_args) {
  client::ActdClient client(context.connection);
  absl::StatusOr<pb::ActivationInfo> a = client.Describe(name);
  if (!a.ok()) return ReportRpcError(context, a.status());
  if (context.json) {
    PrintMessage(context, *a);
    return kExitOk;
  }
  const bool color = context.color_out;
  std::cout << Colored(color, "1", a->name()) << " — " << a->summary() << "\n\n"
            << "  f(x)  = " << a->formula() << "\n"
            << "  f'(x) = " << a->derivative() << "\n\n";
  PrintParamsAndWeights(*a, color);
  PrintProperties(*a);
  std::cout << "\nreference: " << a->reference() << "\n\n";

  const pb::ActivationSpec spec =
      BuildSpec(name, spec_args, pb::DATA_TYPE_FLOAT64, client::Encoding::kRaw);
  const Probe probe = MakeProbe(*a, spec);
  if (probe.kind == Probe::Kind::kNone) {
    std::cout << "no plot: " << probe.note << "\n";
    return kExitOk;
  }
  absl::StatusOr<Curve> curve =
      SampleCurve(client, probe, spec, Grid(-5, 5, 61));
  if (!curve.ok()) return ReportRpcError(context, curve.status());
  std::cout << "f and f' on [-5, 5]"
            << (probe.note.empty() ? "" : ", " + probe.note) << ":\n"
            << TextPlot(*curve);
  return kExitOk;
}

namespace {

int RunForward(const RunContext& context, const EvaluateArgs& args,
               const pb::ActivationSpec& spec, const HostTensor& input,
               client::Encoding encoding) {
  client::ActdClient client(context.connection);
  pb::ForwardRequest request;
  *request.mutable_activation() = spec;
  *request.mutable_input() = client::ToProto(input, encoding);
  absl::StatusOr<pb::ForwardResponse> response = client.Forward(request);
  if (!response.ok()) {
    return ReportRpcError(context,
                          WithSuggestion(client, response.status(), args.name));
  }
  const HostTensor output = Unpack(response->output());
  std::vector<std::string> written;
  if (!args.output.empty()) {
    written = WriteResults(args.output, "output", output, response->extras());
  }
  if (context.json) {
    PrintMessage(context, *response);
  } else if (!args.output.empty()) {
    std::cout << "output  " << client::DataTypeName(output.dtype) << " "
              << client::ShapeString(output.shape) << " written to "
              << absl::StrJoin(written, ", ") << "\n";
  } else {
    PrintTensor("output", output);
    PrintTensorMap("extras", response->extras());
  }
  return kExitOk;
}

int RunBackward(const RunContext& context, const EvaluateArgs& args,
                const pb::ActivationSpec& spec, const HostTensor& input,
                client::Encoding encoding) {
  client::ActdClient client(context.connection);
  pb::BackwardRequest request;
  *request.mutable_activation() = spec;
  *request.mutable_input() = client::ToProto(input, encoding);
  if (!args.grad_output.empty()) {
    *request.mutable_grad_output() = client::ToProto(
        TensorFromFileOrValues(args.grad_output, input, false), encoding);
  }
  absl::StatusOr<pb::BackwardResponse> response = client.Backward(request);
  if (!response.ok()) {
    return ReportRpcError(context,
                          WithSuggestion(client, response.status(), args.name));
  }
  const HostTensor grad_input = Unpack(response->grad_input());
  std::vector<std::string> written;
  if (!args.output.empty()) {
    written = WriteResults(args.output, "grad_input", grad_input,
                           response->grad_params());
  }
  if (context.json) {
    PrintMessage(context, *response);
  } else if (!args.output.empty()) {
    std::cout << "grad_input  " << client::DataTypeName(grad_input.dtype) << " "
              << client::ShapeString(grad_input.shape)
              << (response->grad_params().empty() ? "" : " and grad_params")
              << " written to " << absl::StrJoin(written, ", ") << "\n";
  } else {
    PrintTensor("grad_input", grad_input);
    PrintTensorMap("grad_params", response->grad_params());
  }
  return kExitOk;
}

}  // namespace

int RunEvaluate(const RunContext& context, const EvaluateArgs& args) {
  const HostTensor input = BuildInput(args.tensor);
  const client::Encoding encoding = EncodingOf(args.tensor);
  const pb::ActivationSpec spec =
      BuildSpec(args.name, args.spec, input.dtype, encoding);
  return args.backward ? RunBackward(context, args, spec, input, encoding)
                       : RunForward(context, args, spec, input, encoding);
}

int RunBatch(const RunContext& context, const std::string& file) {
  pb::BatchEvaluateRequest request;
  const std::string text = ReadWholeFile(file);
  if (auto s = google::protobuf::util::JsonStringToMessage(text, &request);
      !s.ok()) {
    throw UsageError(absl::StrCat(file, ": not a BatchEvaluateRequest in ",
                                  "protobuf JSON: ", s.message().as_string()));
  }
  client::ActdClient client(context.connection);
  absl::StatusOr<pb::BatchEvaluateResponse> response =
      client.BatchEvaluate(request);
  if (!response.ok()) return ReportRpcError(context, response.status());
  bool all_ok = true;
  for (const pb::EvaluateResponse& r : response->results())
    all_ok &= r.code() == 0;
  if (context.json) {
    PrintMessage(context, *response);
    return all_ok ? kExitOk : kExitRpcError;
  }
  for (int i = 0; i < response->results_size(); ++i) {
    const pb::EvaluateResponse& r = response->results(i);
    const std::string code = client::StatusCodeName(r.code());
    std::cout << "[" << i << "] " << (r.id().empty() ? "-" : r.id()) << "  "
              << Colored(context.color_out, r.code() == 0 ? "32" : "31", code);
    if (!r.message().empty()) std::cout << ": " << r.message();
    std::cout << "\n";
    if (r.has_forward()) {
      PrintTensor("  output", Unpack(r.forward().output()));
      PrintTensorMap("  extras", r.forward().extras());
    } else if (r.has_backward()) {
      PrintTensor("  grad_input", Unpack(r.backward().grad_input()));
      PrintTensorMap("  grad_params", r.backward().grad_params());
    }
  }
  return all_ok ? kExitOk : kExitRpcError;
}

namespace {

// The activations `names` stands for ("all" = every one the server lists),
// each with its description; unknown names are NOT_FOUND with a suggestion.
absl::StatusOr<std::vector<pb::ActivationInfo>> Resolve(
    client::ActdClient& client, const std::vector<std::string>& names) {
  absl::StatusOr<pb::ListActivationsResponse> list = client.ListActivations();
  if (!list.ok()) return list.status();
  std::vector<pb::ActivationInfo> out;
  if (names.size() == 1 && names[0] == "all") {
    out.assign(list->activations().begin(), list->activations().end());
    return out;
  }
  std::vector<std::string> known;
  for (const pb::ActivationInfo& a : list->activations()) {
    known.push_back(a.name());
  }
  for (const std::string& name : names) {
    auto it = std::find(known.begin(), known.end(), name);
    if (it == known.end()) {
      const std::string guess = client::ClosestName(name, known);
      return absl::NotFoundError(absl::StrCat(
          "unknown activation ", name,
          guess.empty() ? "" : absl::StrCat("; did you mean ", guess, "?"),
          " (known: ", absl::StrJoin(known, ", "), ")"));
    }
    out.push_back(list->activations(it - known.begin()));
  }
  return out;
}

// The probes of `infos` under `spec_args`; those without one are reported on
// stderr (one line each) and dropped.
std::vector<std::pair<pb::ActivationSpec, Probe>> ProbesOf(
    const std::vector<pb::ActivationInfo>& infos, const SpecArgs& spec_args,
    pb::DataType dtype) {
  std::vector<std::pair<pb::ActivationSpec, Probe>> out;
  for (const pb::ActivationInfo& a : infos) {
    const pb::ActivationSpec spec =
        BuildSpec(a.name(), spec_args, dtype, client::Encoding::kRaw);
    Probe probe = MakeProbe(a, spec);
    if (probe.kind == Probe::Kind::kNone) {
      std::cerr << a.name() << ": left out: " << probe.note << "\n";
      continue;
    }
    out.emplace_back(ProbeSpec(probe, spec), std::move(probe));
  }
  return out;
}

void PrintNotes(const std::vector<std::pair<pb::ActivationSpec, Probe>>& all) {
  for (const auto& [spec, probe] : all) {
    if (!probe.note.empty())
      std::cout << spec.name() << ": " << probe.note << "\n";
  }
}

}  // namespace

int RunCompare(const RunContext& context, const CompareArgs& args) {
  HostTensor input = BuildInput(args.tensor, "-3,-2,-1,-0.5,0,0.5,1,2,3");
  const client::Encoding encoding = EncodingOf(args.tensor);
  client::ActdClient client(context.connection);
  absl::StatusOr<std::vector<pb::ActivationInfo>> infos =
      Resolve(client, args.names);
  if (!infos.ok()) return ReportRpcError(context, infos.status());
  const auto probes = ProbesOf(*infos, SpecArgs{}, input.dtype);
  pb::BatchEvaluateRequest request;
  for (const auto& [spec, probe] : probes) {
    pb::EvaluateRequest* item = request.add_items();
    item->set_id(spec.name());
    const HostTensor probe_input =
        probe.kind == Probe::Kind::kElementwise
            ? input
            : ProbeInput(probe, input.values, input.dtype);
    auto* call = args.backward ? item->mutable_backward()->mutable_activation()
                               : item->mutable_forward()->mutable_activation();
    *call = spec;
    *(args.backward ? item->mutable_backward()->mutable_input()
                    : item->mutable_forward()->mutable_input()) =
        client::ToProto(probe_input, encoding);
  }
  absl::StatusOr<pb::BatchEvaluateResponse> response =
      client.BatchEvaluate(request);
  if (!response.ok()) return ReportRpcError(context, response.status());
  if (context.json) {
    PrintMessage(context, *response);
    return kExitOk;
  }
  std::vector<std::string> header = {"x"};
  std::vector<std::vector<std::string>> rows(input.values.size());
  for (size_t k = 0; k < input.values.size(); ++k) {
    rows[k].push_back(FormatNumber(input.values[k], input.dtype));
  }
  int exit_code = kExitOk;
  for (int i = 0; i < response->results_size(); ++i) {
    const pb::EvaluateResponse& r = response->results(i);
    if (r.code() != 0) {
      std::cerr << Colored(context.color_err, "31", "error") << ": " << r.id()
                << ": " << client::StatusCodeName(r.code()) << ": "
                << r.message() << "\n";
      exit_code = kExitRpcError;
      continue;
    }
    const Probe& probe = probes[i].second;
    const HostTensor result = Unpack(args.backward ? r.backward().grad_input()
                                                   : r.forward().output());
    const std::vector<double> column = args.backward
                                           ? ProbeGradient(probe, result)
                                           : ProbeOutput(probe, result);
    header.push_back(args.backward ? r.id() + "'" : r.id());
    for (size_t k = 0; k < rows.size(); ++k) {
      rows[k].push_back(
          k < column.size() ? FormatNumber(column[k], result.dtype) : "-");
    }
  }
  PrintTable(header, rows, context.color_out);
  PrintNotes(probes);
  return exit_code;
}

namespace {

std::pair<double, double> ParseRange(const std::string& range) {
  std::vector<std::string> bounds = absl::StrSplit(range, ':');
  double lo, hi;
  if (bounds.size() != 2 || !absl::SimpleAtod(bounds[0], &lo) ||
      !absl::SimpleAtod(bounds[1], &hi) || !(lo < hi)) {
    throw UsageError("--range '" + range + "': expected lo:hi with lo < hi");
  }
  return {lo, hi};
}

}  // namespace

int RunPlot(const RunContext& context, const PlotArgs& args) {
  const auto [lo, hi] = ParseRange(args.range);
  if (args.points < 2) throw UsageError("--points must be at least 2");
  const std::vector<double> x = Grid(lo, hi, args.points);
  client::ActdClient client(context.connection);
  absl::StatusOr<std::vector<pb::ActivationInfo>> infos =
      Resolve(client, args.names);
  if (!infos.ok()) return ReportRpcError(context, infos.status());
  const auto probes = ProbesOf(*infos, args.spec, pb::DATA_TYPE_FLOAT64);
  pb::BatchEvaluateRequest request;
  for (const auto& [spec, probe] : probes) {
    const pb::Tensor grid = client::ToProto(
        ProbeInput(probe, x, pb::DATA_TYPE_FLOAT64), client::Encoding::kRaw);
    pb::EvaluateRequest* f = request.add_items();
    f->set_id(spec.name());
    *f->mutable_forward()->mutable_activation() = spec;
    *f->mutable_forward()->mutable_input() = grid;
    pb::EvaluateRequest* df = request.add_items();
    df->set_id(spec.name() + "'");
    *df->mutable_backward()->mutable_activation() = spec;
    *df->mutable_backward()->mutable_input() = grid;
  }
  absl::StatusOr<pb::BatchEvaluateResponse> response =
      client.BatchEvaluate(request);
  if (!response.ok()) return ReportRpcError(context, response.status());
  std::vector<Curve> curves;
  for (size_t i = 0; i < probes.size(); ++i) {
    const pb::EvaluateResponse& f = response->results(2 * i);
    const pb::EvaluateResponse& df = response->results(2 * i + 1);
    for (const pb::EvaluateResponse* r : {&f, &df}) {
      if (r->code() != 0) {
        return ReportRpcError(
            context, absl::Status(static_cast<absl::StatusCode>(r->code()),
                                  r->id() + ": " + r->message()));
      }
    }
    const Probe& probe = probes[i].second;
    curves.push_back(
        {probes[i].first.name(), probe.note, x,
         ProbeOutput(probe, Unpack(f.forward().output())),
         ProbeGradient(probe, Unpack(df.backward().grad_input()))});
  }
  std::vector<std::string> names;
  for (const Curve& c : curves) names.push_back(c.name);
  const std::string svg =
      RenderSvg(curves,
                absl::StrCat(absl::StrJoin(names, ", "),
                             " and derivatives on [", absl::StrFormat("%g", lo),
                             ", ", absl::StrFormat("%g", hi), "]"),
                args.layout == "grid");
  std::ofstream out(args.out, std::ios::binary);
  if (!(out << svg)) throw UsageError(args.out + ": cannot write the file");
  std::cout << "wrote " << args.out << " (" << curves.size() << " activations, "
            << args.points << " points each)\n";
  PrintNotes(probes);
  return kExitOk;
}

}  // namespace actd::cli
