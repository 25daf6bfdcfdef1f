// list, info, health, describe, forward/backward, batch, compare and plot.
// Each builds its request from the parsed flags, makes one or two RPCs and
// prints either readable text or the protobuf JSON of the response.
#include "client/cli/commands.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/plot.h"
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

// Samples f and f' of `spec` on [lo, hi] with one Forward and one Backward.
grpc::Status SampleCurve(client::ActdClient& client,
                         const pb::ActivationSpec& spec, double lo, double hi,
                         int points, Curve* curve) {
  HostTensor grid;
  grid.dtype = pb::DATA_TYPE_FLOAT64;
  grid.shape = {points};
  for (int i = 0; i < points; ++i) {
    grid.values.push_back(lo + (hi - lo) * i / (points - 1));
  }
  pb::ForwardRequest forward;
  *forward.mutable_activation() = spec;
  *forward.mutable_input() = client::ToProto(grid, client::Encoding::kRaw);
  pb::ForwardResponse f;
  if (grpc::Status s = client.Forward(forward, &f); !s.ok()) return s;
  pb::BackwardRequest backward;
  *backward.mutable_activation() = spec;
  *backward.mutable_input() = forward.input();
  pb::BackwardResponse df;
  if (grpc::Status s = client.Backward(backward, &df); !s.ok()) return s;
  curve->name = spec.name();
  curve->x = grid.values;
  curve->f = Unpack(f.output()).values;
  curve->df = Unpack(df.grad_input()).values;
  return grpc::Status::OK;
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
  pb::ListActivationsResponse response;
  if (grpc::Status s = client.ListActivations(&response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  if (context.json) {
    PrintJson(response);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pb::ActivationInfo& a : response.activations()) {
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
  pb::ServerInfo info;
  if (grpc::Status s = client.GetServerInfo(&info); !s.ok()) {
    return ReportRpcError(context, s);
  }
  if (context.json) {
    PrintJson(info);
    return kExitOk;
  }
  PrintTable({"FIELD", "VALUE"},
             {{"version", info.version()},
              {"isa", info.isa()},
              {"compute_threads", absl::StrCat(info.compute_threads())},
              {"max_message_bytes", absl::StrCat(info.max_message_bytes())},
              {"max_elements", absl::StrCat(info.max_elements())},
              {"max_batch_items", absl::StrCat(info.max_batch_items())},
              {"max_inflight", absl::StrCat(info.max_inflight())}},
             context.color_out);
  return kExitOk;
}

int RunHealth(const RunContext& context, const std::string& service) {
  client::ActdClient client(context.connection);
  grpc::health::v1::HealthCheckResponse response;
  if (grpc::Status s = client.CheckHealth(service, &response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  const bool serving =
      response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  std::cout << Colored(context.color_out, serving ? "32" : "31", name) << "\n";
  return serving ? kExitOk : kExitRpcError;
}

int RunDescribe(const RunContext& context, const std::string& name,
                const SpecArgs& spec_args) {
  client::ActdClient client(context.connection);
  pb::ActivationInfo a;
  if (grpc::Status s = client.Describe(name, &a); !s.ok()) {
    return ReportRpcError(context, s);
  }
  if (context.json) {
    PrintJson(a);
    return kExitOk;
  }
  const bool color = context.color_out;
  const pb::Properties& p = a.properties();
  std::cout << Colored(color, "1", a.name()) << " — " << a.summary() << "\n\n"
            << "  f(x)  = " << a.formula() << "\n"
            << "  f'(x) = " << a.derivative() << "\n\n";
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
  std::cout << "properties:\n";
  PrintTable(
      {"  PROPERTY", "VALUE"},
      {{"  nonlinear", YesNo(p.nonlinear())},
       {"  monotonic", YesNo(p.monotonic())},
       {"  smooth", p.smooth()
                        ? "yes"
                        : absl::StrCat("no (kinks at ",
                                       absl::StrJoin(p.kinks(), ", "), ")")},
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
  std::cout << "\nreference: " << a.reference() << "\n\n";

  Curve curve;
  const pb::ActivationSpec spec =
      BuildSpec(name, spec_args, pb::DATA_TYPE_FLOAT64, client::Encoding::kRaw);
  if (grpc::Status s = SampleCurve(client, spec, -5, 5, 61, &curve); s.ok()) {
    std::cout << "f and f' on [-5, 5]:\n" << TextPlot(curve);
  } else {
    std::cout << "(no plot: " << client::StatusCodeName(s.error_code()) << ": "
              << s.error_message() << ")\n";
  }
  return kExitOk;
}

int RunEvaluate(const RunContext& context, const EvaluateArgs& args) {
  const HostTensor input = BuildInput(args.tensor);
  const client::Encoding encoding = EncodingOf(args.tensor);
  const pb::ActivationSpec spec =
      BuildSpec(args.name, args.spec, input.dtype, encoding);
  client::ActdClient client(context.connection);
  if (!args.backward) {
    pb::ForwardRequest request;
    *request.mutable_activation() = spec;
    *request.mutable_input() = client::ToProto(input, encoding);
    pb::ForwardResponse response;
    if (grpc::Status s = client.Forward(request, &response); !s.ok()) {
      return ReportRpcError(context, s);
    }
    const HostTensor output = Unpack(response.output());
    if (!args.output.empty()) WriteOrThrow(args.output, output);
    if (context.json) {
      PrintJson(response);
    } else if (!args.output.empty()) {
      std::cout << "output  " << client::DataTypeName(output.dtype) << " "
                << client::ShapeString(output.shape) << " written to "
                << args.output << "\n";
      PrintTensorMap("extras", response.extras());
    } else {
      PrintTensor("output", output);
      PrintTensorMap("extras", response.extras());
    }
    return kExitOk;
  }
  pb::BackwardRequest request;
  *request.mutable_activation() = spec;
  *request.mutable_input() = client::ToProto(input, encoding);
  if (!args.grad_output.empty()) {
    *request.mutable_grad_output() = client::ToProto(
        TensorFromFileOrValues(args.grad_output, input, false), encoding);
  }
  pb::BackwardResponse response;
  if (grpc::Status s = client.Backward(request, &response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  const HostTensor grad_input = Unpack(response.grad_input());
  if (!args.output.empty()) WriteOrThrow(args.output, grad_input);
  if (context.json) {
    PrintJson(response);
  } else {
    if (!args.output.empty()) {
      std::cout << "grad_input  " << client::DataTypeName(grad_input.dtype)
                << " " << client::ShapeString(grad_input.shape)
                << " written to " << args.output << "\n";
    } else {
      PrintTensor("grad_input", grad_input);
    }
    PrintTensorMap("grad_params", response.grad_params());
  }
  return kExitOk;
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
  pb::BatchEvaluateResponse response;
  if (grpc::Status s = client.BatchEvaluate(request, &response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  bool all_ok = true;
  for (const pb::EvaluateResponse& r : response.results())
    all_ok &= r.code() == 0;
  if (context.json) {
    PrintJson(response);
    return all_ok ? kExitOk : kExitRpcError;
  }
  for (int i = 0; i < response.results_size(); ++i) {
    const pb::EvaluateResponse& r = response.results(i);
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

// `names`, with a lone "all" replaced by every element-wise activation the
// server lists.
grpc::Status ExpandAll(client::ActdClient& client,
                       const std::vector<std::string>& names,
                       std::vector<std::string>* out) {
  *out = names;
  if (names.size() != 1 || names[0] != "all") return grpc::Status::OK;
  pb::ListActivationsResponse list;
  if (grpc::Status s = client.ListActivations(&list); !s.ok()) return s;
  out->clear();
  for (const pb::ActivationInfo& a : list.activations()) {
    if (a.elementwise()) out->push_back(a.name());
  }
  return grpc::Status::OK;
}

int RunCompare(const RunContext& context, const CompareArgs& args) {
  HostTensor input = BuildInput(args.tensor, "-3,-2,-1,-0.5,0,0.5,1,2,3");
  const client::Encoding encoding = EncodingOf(args.tensor);
  client::ActdClient client(context.connection);
  std::vector<std::string> names;
  if (grpc::Status s = ExpandAll(client, args.names, &names); !s.ok()) {
    return ReportRpcError(context, s);
  }
  pb::BatchEvaluateRequest request;
  const pb::Tensor wire_input = client::ToProto(input, encoding);
  for (const std::string& name : names) {
    pb::EvaluateRequest* item = request.add_items();
    item->set_id(name);
    pb::ActivationSpec* spec =
        args.backward ? item->mutable_backward()->mutable_activation()
                      : item->mutable_forward()->mutable_activation();
    spec->set_name(name);
    *(args.backward ? item->mutable_backward()->mutable_input()
                    : item->mutable_forward()->mutable_input()) = wire_input;
  }
  pb::BatchEvaluateResponse response;
  if (grpc::Status s = client.BatchEvaluate(request, &response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  if (context.json) {
    PrintJson(response);
    return kExitOk;
  }
  std::vector<std::string> header = {"x"};
  std::vector<std::vector<std::string>> rows(input.values.size());
  for (size_t k = 0; k < input.values.size(); ++k) {
    rows[k].push_back(FormatNumber(input.values[k], input.dtype));
  }
  int exit_code = kExitOk;
  for (const pb::EvaluateResponse& r : response.results()) {
    if (r.code() != 0) {
      std::cerr << Colored(context.color_err, "31", "error") << ": " << r.id()
                << ": " << client::StatusCodeName(r.code()) << ": "
                << r.message() << "\n";
      exit_code = kExitRpcError;
      continue;
    }
    const HostTensor result = Unpack(args.backward ? r.backward().grad_input()
                                                   : r.forward().output());
    header.push_back(args.backward ? r.id() + "'" : r.id());
    for (size_t k = 0; k < rows.size() && k < result.values.size(); ++k) {
      rows[k].push_back(FormatNumber(result.values[k], result.dtype));
    }
  }
  PrintTable(header, rows, context.color_out);
  return exit_code;
}

int RunPlot(const RunContext& context, const PlotArgs& args) {
  std::vector<std::string> bounds = absl::StrSplit(args.range, ':');
  double lo, hi;
  if (bounds.size() != 2 || !absl::SimpleAtod(bounds[0], &lo) ||
      !absl::SimpleAtod(bounds[1], &hi) || !(lo < hi)) {
    throw UsageError("--range '" + args.range +
                     "': expected lo:hi with lo < hi");
  }
  if (args.points < 2) throw UsageError("--points must be at least 2");
  HostTensor grid;
  grid.dtype = pb::DATA_TYPE_FLOAT64;
  grid.shape = {args.points};
  for (int i = 0; i < args.points; ++i) {
    grid.values.push_back(lo + (hi - lo) * i / (args.points - 1));
  }
  const pb::Tensor wire_grid = client::ToProto(grid, client::Encoding::kRaw);
  client::ActdClient client(context.connection);
  std::vector<std::string> names;
  if (grpc::Status s = ExpandAll(client, args.names, &names); !s.ok()) {
    return ReportRpcError(context, s);
  }
  pb::BatchEvaluateRequest request;
  for (const std::string& name : names) {
    const pb::ActivationSpec spec = BuildSpec(
        name, args.spec, pb::DATA_TYPE_FLOAT64, client::Encoding::kRaw);
    pb::EvaluateRequest* f = request.add_items();
    f->set_id(name);
    *f->mutable_forward()->mutable_activation() = spec;
    *f->mutable_forward()->mutable_input() = wire_grid;
    pb::EvaluateRequest* df = request.add_items();
    df->set_id(name + "'");
    *df->mutable_backward()->mutable_activation() = spec;
    *df->mutable_backward()->mutable_input() = wire_grid;
  }
  pb::BatchEvaluateResponse response;
  if (grpc::Status s = client.BatchEvaluate(request, &response); !s.ok()) {
    return ReportRpcError(context, s);
  }
  std::vector<Curve> curves;
  for (size_t i = 0; i < names.size(); ++i) {
    const pb::EvaluateResponse& f = response.results(2 * i);
    const pb::EvaluateResponse& df = response.results(2 * i + 1);
    for (const pb::EvaluateResponse* r : {&f, &df}) {
      if (r->code() != 0) {
        return ReportRpcError(
            context, grpc::Status(static_cast<grpc::StatusCode>(r->code()),
                                  r->id() + ": " + r->message()));
      }
    }
    curves.push_back({names[i], grid.values,
                      Unpack(f.forward().output()).values,
                      Unpack(df.backward().grad_input()).values});
  }
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
  return kExitOk;
}

}  // namespace actd::cli
