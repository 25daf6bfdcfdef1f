// Flag values -> activation.v1 messages. Files go through the client
// library's tensor readers; literal numbers through its value parser.
#include "client/cli/request_args.h"

#include <filesystem>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli/output.h"
#include "client/lib/tensor_io.h"

namespace actd::cli {

namespace pb = activation::v1;
using client::HostTensor;

namespace {

template <typename T>
T OrUsageError(absl::StatusOr<T> value) {
  if (!value.ok()) throw UsageError(std::string(value.status().message()));
  return *std::move(value);
}

HostTensor ReadFile(const std::string& path,
                    pb::DataType want = pb::DATA_TYPE_UNSPECIFIED) {
  return OrUsageError(client::ReadTensorFile(path, want));
}

}  // namespace

client::Encoding EncodingOf(const TensorArgs& args) {
  if (args.encoding.empty()) return client::Encoding::kRaw;
  return OrUsageError(client::ParseEncoding(args.encoding));
}

HostTensor BuildInput(const TensorArgs& args,
                      const std::string& fallback_values) {
  const int sources =
      !args.values.empty() + !args.input.empty() + (args.random > 0);
  if (sources > 1) {
    throw UsageError("give only one of --values, --input and --random");
  }
  if (sources == 0 && fallback_values.empty()) {
    throw UsageError("no input: give --values, --input or --random");
  }
  const pb::DataType want =
      args.dtype.empty() ? pb::DATA_TYPE_UNSPECIFIED
                         : OrUsageError(client::ParseDataType(args.dtype));
  HostTensor tensor;
  tensor.dtype = pb::DATA_TYPE_UNSPECIFIED;
  if (!args.input.empty()) {
    tensor = ReadFile(args.input, want);
  } else if (args.random > 0) {
    std::mt19937_64 engine(args.seed);
    std::normal_distribution<double> normal;
    tensor.values.resize(args.random);
    for (double& v : tensor.values) v = normal(engine);
    tensor.shape = {args.random};
  } else {
    tensor.values = OrUsageError(client::ParseValues(
        args.values.empty() ? fallback_values : args.values));
    tensor.shape = {static_cast<int64_t>(tensor.values.size())};
  }
  if (!args.shape.empty()) {
    tensor.shape = OrUsageError(
        client::ResolveShape(args.shape == "[]" ? "" : args.shape,
                             static_cast<int64_t>(tensor.values.size())));
  }
  if (want != pb::DATA_TYPE_UNSPECIFIED) {
    tensor.dtype = want;
  } else if (tensor.dtype == pb::DATA_TYPE_UNSPECIFIED) {
    tensor.dtype = pb::DATA_TYPE_FLOAT32;
  }
  return tensor;
}

std::pair<std::string, pb::Param> ParseParam(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("--param '" + text + "': expected key=value");
  }
  std::pair<std::string, pb::Param> out;
  out.first = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  double number;
  if (value == "true" || value == "false") {
    out.second.set_flag(value == "true");
  } else if (absl::SimpleAtod(value, &number)) {
    out.second.set_number(number);
  } else {
    out.second.set_text(value);
  }
  return out;
}

HostTensor TensorFromFileOrValues(const std::string& text,
                                  const HostTensor& like,
                                  bool scalar_if_single) {
  HostTensor tensor;
  std::error_code error;
  if (std::filesystem::is_regular_file(text, error)) {
    tensor = ReadFile(text, like.dtype);
  } else {
    absl::StatusOr<std::vector<double>> values = client::ParseValues(text);
    if (!values.ok() || values->empty()) {
      throw UsageError("'" + text +
                       "' is neither a file nor a list of numbers");
    }
    tensor.values = *std::move(values);
    const int64_t n = static_cast<int64_t>(tensor.values.size());
    if (n == client::ElementCount(like.shape)) {
      tensor.shape = like.shape;
    } else if (!(n == 1 && scalar_if_single)) {
      tensor.shape = {n};
    }
  }
  tensor.dtype = like.dtype;
  return tensor;
}

pb::ActivationSpec BuildSpec(const std::string& name, const SpecArgs& args,
                             pb::DataType dtype, client::Encoding encoding) {
  pb::ActivationSpec spec;
  spec.set_name(name);
  for (const std::string& text : args.params) {
    auto [key, param] = ParseParam(text);
    (*spec.mutable_params())[key] = param;
  }
  HostTensor like;
  like.dtype = dtype;
  like.shape = {-1};  // weights never take the input's shape implicitly
  for (const std::string& text : args.weights) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--weight '" + text + "': expected name=FILE|values");
    }
    HostTensor weight = TensorFromFileOrValues(text.substr(eq + 1), like,
                                               /*scalar_if_single=*/true);
    (*spec.mutable_weights())[text.substr(0, eq)] =
        client::ToProto(weight, encoding);
  }
  return spec;
}

}  // namespace actd::cli
