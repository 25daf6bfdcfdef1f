// The activation registry: one row per activation, read by every RPC and by the
// CLI.
//
// A row (an `Activation`) carries the activation's description, its parameter
// and weight schema, the six properties of the seed article, and its forward
// and backward kernels. Callers go through RunForward / RunBackward, which
// validate the request against the row before any kernel runs, so kernels see
// only well-formed inputs.
#ifndef ACTD_SERVER_CORE_ACTIVATION_H_
#define ACTD_SERVER_CORE_ACTIVATION_H_

#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/core/compute.h"
#include "server/core/tensor.h"

namespace actd {

// A parameter value as the caller wrote it: a number, a text or a flag.
using ParamValue = std::variant<double, std::string, bool>;
using ParamMap = std::map<std::string, ParamValue, std::less<>>;
using WeightMap = std::map<std::string, ConstTensorView, std::less<>>;

enum class ParamKind { kNumber, kText, kFlag };
enum class CostClass { kNoTranscendental, kExp, kErf, kMatmul };

struct ParamInfo {
  std::string name;
  ParamKind kind = ParamKind::kNumber;
  ParamValue default_value;
  // Numbers: the closed range [min, max]; `integer` restricts to whole numbers.
  double min = 0, max = 0;
  bool integer = false;
  // Texts: the allowed values.
  std::vector<std::string> choices;
  std::string meaning;
  bool learnable = false;  // Backward returns its gradient as a 0-d tensor
  // Other names the parameter is accepted under (leaky_relu's alpha is also
  // PyTorch's negative_slope); giving two names of one parameter is an error.
  std::vector<std::string> aliases;
  // "[0, 1e6]", "none|tanh|sigmoid", "integer in [1, 4096]", "true|false".
  std::string AllowedText() const;
};

struct WeightInfo {
  std::string name;
  std::string shape;          // "[] or [C]"
  std::string default_value;  // "0.25", "zeros", "required for inference"
  std::string meaning;
  bool learnable = false;
};

// The properties of the seed article (part one), plus range, zero-centering and
// self-normalization. Every claim is checked numerically by the test suite.
struct Properties {
  bool nonlinear = true;
  bool monotonic = false;
  bool smooth = false;        // C1 everywhere
  std::vector<double> kinks;  // where only a subgradient exists
  bool zero_centered = false;
  double range_min = 0, range_max = 0;  // +-infinity when unbounded
  bool saturates_left = false;
  bool saturates_right = false;
  bool self_normalizing = false;
  std::string learnable_parameters;   // "0", "1", "1 per channel", ...
  int learnable_parameter_count = 0;  // -1 when it depends on shapes
  CostClass cost = CostClass::kNoTranscendental;
};

struct ActivationInfo {
  std::string name;
  std::string summary;
  std::string formula;
  std::string derivative;
  std::string reference;
  std::vector<ParamInfo> params;
  std::vector<WeightInfo> weights;
  Properties properties;
  bool backward_from_output = false;
  bool elementwise = true;
  // A gated linear unit: the input splits along params["axis"] into halves a
  // and b (even length), y = a·g(b) has half the length there, and the
  // properties describe the gate g (y as a function of b at a = 1).
  bool gated = false;
};

// Parameters resolved against the schema: every parameter present, of the right
// kind, in range.
class ResolvedParams {
 public:
  double Number(absl::string_view name) const;
  const std::string& Text(absl::string_view name) const;
  bool Flag(absl::string_view name) const;
  void Set(std::string name, ParamValue value);

 private:
  ParamMap values_;
};

// Everything one Forward or Backward call needs; the views outlive the call.
struct ActivationCall {
  ConstTensorView input;
  ResolvedParams params;
  WeightMap weights;
  // Backward only. A missing grad_output means ones; `output` is y from
  // Forward, if given.
  const ConstTensorView* grad_output = nullptr;
  const ConstTensorView* output = nullptr;
  // Threads and stop check; never null.
  const ComputeContext* compute = &ComputeContext::Inline();
};

// One row of the registry. Implementations live in activations/<name>.cc.
class Activation {
 public:
  virtual ~Activation() = default;
  virtual const ActivationInfo& info() const = 0;
  // Checks the weights (and input shape) beyond what the schema covers;
  // INVALID_ARGUMENT naming the field and value. Called before Forward and
  // Backward.
  virtual absl::Status Validate(const ActivationCall& call) const = 0;
  // Shape of y for an input shape already accepted by Validate.
  virtual Shape OutputShape(const ActivationCall& call) const {
    return call.input.shape;
  }
  // Writes "output" (and extras) to the sink. Thread-safe; inputs were
  // validated.
  virtual absl::Status Forward(const ActivationCall& call,
                               OutputSink& sink) const = 0;
  // Writes "grad_input" and the learnable parameters' gradients to the sink.
  virtual absl::Status Backward(const ActivationCall& call,
                                OutputSink& sink) const = 0;
};

// Every activation, in a fixed order (the order of the spec, identity last).
std::span<const Activation* const> AllActivations();
// The activation called `name`, or nullptr.
const Activation* FindActivation(absl::string_view name);

// A request as the service receives it, before validation.
struct ActivationRequest {
  absl::string_view name;
  const ParamMap* params = nullptr;  // null = no parameters
  WeightMap weights;
  ConstTensorView input;
  const ConstTensorView* grad_output = nullptr;
  const ConstTensorView* output = nullptr;
  // Threads and stop check; null = inline, never stopped.
  const ComputeContext* compute = nullptr;
};

// Validates the request (NOT_FOUND for an unknown name, INVALID_ARGUMENT for a
// bad parameter, weight or shape, each message naming the field and the value)
// and computes y into `sink`.
absl::Status RunForward(const ActivationRequest& request, OutputSink& sink);
// The same for dL/dx and the parameter gradients.
absl::Status RunBackward(const ActivationRequest& request, OutputSink& sink);

}  // namespace actd

#endif  // ACTD_SERVER_CORE_ACTIVATION_H_
