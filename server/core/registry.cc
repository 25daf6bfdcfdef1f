// The registry and the two entry points: look a row up, validate the request
// against it, run its kernel. The rows come from the activation files, in the
// order of activations/list.h.
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/activations/list.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {

// Defined by ACTD_REGISTER_ACTIVATION in each activation file.
#define ACTD_DECLARE_ROW(name) const Activation* name##Activation();
ACTD_ACTIVATIONS(ACTD_DECLARE_ROW, ACTD_LIST_SKIP)
#undef ACTD_DECLARE_ROW

namespace {

// The rows in the order of activations/list.h.
std::vector<const Activation*> BuildRegistry() {
  return {
#define ACTD_ROW(name) name##Activation(),
      ACTD_ACTIVATIONS(ACTD_ROW, ACTD_LIST_SKIP)
#undef ACTD_ROW
  };
}

std::string KnownNames() {
  std::vector<std::string> names;
  for (const Activation* a : AllActivations()) names.push_back(a->info().name);
  return absl::StrJoin(names, ", ");
}

// A tensor that must have the input's dtype and `shape` (grad_output, output).
absl::Status CheckCompanion(absl::string_view field, const ConstTensorView& t,
                            DType dtype, const Shape& shape) {
  if (t.dtype != dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dtype: ", DTypeName(t.dtype),
                     " does not match input.dtype ", DTypeName(dtype)));
  }
  if (t.shape != shape) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".shape: ", ShapeToString(t.shape),
                     " does not match the activation's output shape ",
                     ShapeToString(shape)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ActivationCall> Prepare(const ActivationRequest& request,
                                       const Activation** activation) {
  const Activation* a = FindActivation(request.name);
  if (a == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("activation.name: unknown activation \"", request.name,
                     "\" (known: ", KnownNames(), ")"));
  }
  absl::StatusOr<ResolvedParams> params =
      ResolveParams(a->info(), request.params);
  if (!params.ok()) return params.status();
  for (const auto& [name, view] : request.weights) {
    bool known = false;
    std::vector<std::string> names;
    for (const WeightInfo& w : a->info().weights) {
      known |= w.name == name;
      names.push_back(w.name);
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "activation.weights[\"", name, "\"]: unknown weight for ",
          a->info().name,
          names.empty()
              ? " (it takes no weights)"
              : absl::StrCat(" (known: ", absl::StrJoin(names, ", "), ")")));
    }
  }
  ActivationCall call;
  call.input = request.input;
  call.params = *std::move(params);
  call.weights = request.weights;
  if (request.compute != nullptr) call.compute = request.compute;
  if (absl::Status s = a->Validate(call); !s.ok()) return s;
  *activation = a;
  return call;
}

}  // namespace

std::span<const Activation* const> AllActivations() {
  static const auto* rows = new std::vector<const Activation*>(BuildRegistry());
  return *rows;
}

const Activation* FindActivation(absl::string_view name) {
  for (const Activation* a : AllActivations()) {
    if (a->info().name == name) return a;
  }
  return nullptr;
}

absl::Status RunForward(const ActivationRequest& request, OutputSink& sink) {
  const Activation* activation = nullptr;
  absl::StatusOr<ActivationCall> call = Prepare(request, &activation);
  if (!call.ok()) return call.status();
  // Nothing is allocated for a call that is no longer wanted.
  if (absl::Status s = call->compute->CheckStop(); !s.ok()) return s;
  return activation->Forward(*call, sink);
}

absl::Status RunBackward(const ActivationRequest& request, OutputSink& sink) {
  const Activation* activation = nullptr;
  absl::StatusOr<ActivationCall> call = Prepare(request, &activation);
  if (!call.ok()) return call.status();
  const Shape out_shape = activation->OutputShape(*call);
  const DType dtype = request.input.dtype;
  if (request.grad_output != nullptr) {
    absl::Status s =
        CheckCompanion("grad_output", *request.grad_output, dtype, out_shape);
    if (!s.ok()) return s;
    call->grad_output = request.grad_output;
  }
  if (request.output != nullptr) {
    absl::Status s =
        CheckCompanion("output", *request.output, dtype, out_shape);
    if (!s.ok()) return s;
    call->output = request.output;
  }
  if (absl::Status s = call->compute->CheckStop(); !s.ok()) return s;
  return activation->Backward(*call, sink);
}

}  // namespace actd
