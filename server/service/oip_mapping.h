// The Open Inference Protocol's view of the registry, and the one place where
// its messages meet the compute core.
//
// Every activation is a model of the same name, version "1". Its input `x`,
// its weights (PReLU's alpha, Maxout's weight and bias, Dice's alpha,
// running_mean and running_var) and, for a backward call, `grad_output` and
// `output` are input tensors; its parameters are request parameters (numbers
// as double or int64, texts as string, flags as bool), and the request
// parameter `direction` picks "forward" (the default) or "backward". Forward
// returns `y` (and Dice's `batch_mean`, `batch_var` in training); backward
// returns `grad_input` and `grad_<name>` for each learnable parameter or
// weight. Tensors are viewed in place (raw_input_contents or typed contents)
// and handed to RunForward / RunBackward, which validate and compute exactly as
// for the native API; results are written straight into the response, raw when
// the request was raw, typed otherwise.
#ifndef ACTD_SERVER_SERVICE_OIP_MAPPING_H_
#define ACTD_SERVER_SERVICE_OIP_MAPPING_H_

#include <optional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"
#include "server/core/activation.h"
#include "server/core/tensor.h"
#include "server/service/admission.h"
#include "server/service/evaluate.h"

namespace actd::oip {

inline constexpr absl::string_view kModelVersion = "1";
inline constexpr absl::string_view kPlatform = "actd";

// How a datatype's elements travel in typed form (InferTensorContents).
enum class TypedField { kFp32, kFp64, kRawOnly };

// One row per datatype the server computes: the protocol's name, the core's
// dtype and its typed field. Adding a dtype to the core adds one row here.
struct DataTypeRow {
  absl::string_view name;  // "FP32"
  DType dtype;
  TypedField typed;
};
std::span<const DataTypeRow> DataTypes();
// The row called `name`, or nullptr.
const DataTypeRow* FindDataType(absl::string_view name);

// The activation serving model `name` at `version` ("" = the only one);
// NOT_FOUND naming both otherwise.
absl::StatusOr<const Activation*> FindModel(absl::string_view name,
                                            absl::string_view version);

// The model's metadata: inputs and outputs (datatype FP32, the others listed
// in the tensor parameter "datatypes"; -1 for dimensions of any size) and its
// description and properties as parameters.
void DescribeModel(const Activation& activation,
                   inference::ModelMetadataResponse* response);

// Facts about a request for metrics and logs (model, dtype of x, elements).
CallFacts FactsOf(const inference::ModelInferRequest& request);

// One inference: decodes `request`, runs the core on `compute` and fills
// `response`. Errors name the request field and value, with the codes of the
// native API (NOT_FOUND for an unknown model, INVALID_ARGUMENT for a bad
// tensor or parameter, RESOURCE_EXHAUSTED over max_elements, ...).
absl::Status EvaluateModelInfer(const inference::ModelInferRequest& request,
                                inference::ModelInferResponse* response,
                                const ServiceOptions& options,
                                const ComputeContext& compute,
                                CallTiming* timing = nullptr);

// EvaluateModelInfer for a caller that owns `request`: a forward whose x
// travels in raw_input_contents may write y over those bytes
// (ForwardMayOverwrite), which move into the response. `request`'s x is left
// unspecified.
absl::Status EvaluateModelInferInPlace(inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response,
                                       const ServiceOptions& options,
                                       const ComputeContext& compute,
                                       CallTiming* timing = nullptr);

}  // namespace actd::oip

#endif  // ACTD_SERVER_SERVICE_OIP_MAPPING_H_
