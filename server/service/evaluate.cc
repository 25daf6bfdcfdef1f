// Request decoding and response writing around the core's RunForward /
// RunBackward.
#include "server/service/evaluate.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "server/core/activation.h"
#include "server/service/tensor_codec.h"

namespace actd {
namespace {

using activation::v1::ActivationSpec;
using activation::v1::Tensor;

// Everything decoded from one request; the views borrow from the request
// message.
struct Decoded {
  ParamMap params;
  std::vector<DecodedTensor> keep;  // input and weights, alive for the call
  std::optional<DecodedTensor> grad_output, output;
  ActivationRequest request;
  Encoding encoding = Encoding::kRaw;
};

absl::Status DecodeSpec(const ActivationSpec& spec,
                        const ServiceOptions& options, Decoded& d) {
  d.request.name = spec.name();
  for (const auto& [name, param] : spec.params()) {
    switch (param.value_case()) {
      case activation::v1::Param::kNumber:
        d.params[name] = param.number();
        break;
      case activation::v1::Param::kText:
        d.params[name] = param.text();
        break;
      case activation::v1::Param::kFlag:
        d.params[name] = param.flag();
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("activation.params[\"", name,
                         "\"]: no value set (number, text or flag)"));
    }
  }
  d.request.params = &d.params;
  for (const auto& [name, tensor] : spec.weights()) {
    absl::StatusOr<DecodedTensor> w =
        DecodeTensor(tensor, absl::StrCat("activation.weights[\"", name, "\"]"),
                     options.max_elements);
    if (!w.ok()) return w.status();
    d.request.weights.emplace(name, w->view);
    d.keep.push_back(*std::move(w));
  }
  return absl::OkStatus();
}

absl::Status DecodeInput(const Tensor& input, const ServiceOptions& options,
                         Decoded& d) {
  absl::StatusOr<DecodedTensor> x =
      DecodeTensor(input, "input", options.max_elements);
  if (!x.ok()) return x.status();
  d.request.input = x->view;
  d.encoding = x->encoding;
  d.keep.push_back(*std::move(x));
  return absl::OkStatus();
}

}  // namespace

absl::Status EvaluateForward(const activation::v1::ForwardRequest& request,
                             activation::v1::ForwardResponse* response,
                             const ServiceOptions& options) {
  Decoded d;
  if (absl::Status s = DecodeInput(request.input(), options, d); !s.ok())
    return s;
  if (absl::Status s = DecodeSpec(request.activation(), options, d); !s.ok())
    return s;
  ProtoSink sink(d.encoding, [response](absl::string_view name) {
    return name == "output" ? response->mutable_output()
                            : &(*response->mutable_extras())[std::string(name)];
  });
  return RunForward(d.request, sink);
}

absl::Status EvaluateBackward(const activation::v1::BackwardRequest& request,
                              activation::v1::BackwardResponse* response,
                              const ServiceOptions& options) {
  Decoded d;
  if (absl::Status s = DecodeInput(request.input(), options, d); !s.ok())
    return s;
  if (absl::Status s = DecodeSpec(request.activation(), options, d); !s.ok())
    return s;
  if (request.has_grad_output()) {
    absl::StatusOr<DecodedTensor> dy = DecodeTensor(
        request.grad_output(), "grad_output", options.max_elements);
    if (!dy.ok()) return dy.status();
    d.grad_output = *std::move(dy);
    d.request.grad_output = &d.grad_output->view;
  }
  if (request.has_output()) {
    absl::StatusOr<DecodedTensor> y =
        DecodeTensor(request.output(), "output", options.max_elements);
    if (!y.ok()) return y.status();
    d.output = *std::move(y);
    d.request.output = &d.output->view;
  }
  ProtoSink sink(d.encoding, [response](absl::string_view name) {
    return name == "grad_input"
               ? response->mutable_grad_input()
               : &(*response->mutable_grad_params())[std::string(name)];
  });
  return RunBackward(d.request, sink);
}

absl::Status EvaluateBatch(const activation::v1::BatchEvaluateRequest& request,
                           activation::v1::BatchEvaluateResponse* response,
                           const ServiceOptions& options) {
  if (request.items_size() > options.max_batch_items) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "items: ", request.items_size(), " items exceed the limit of ",
        options.max_batch_items, " per batch (--max_batch_items)"));
  }
  for (int i = 0; i < request.items_size(); ++i) {
    const activation::v1::EvaluateRequest& item = request.items(i);
    activation::v1::EvaluateResponse* result = response->add_results();
    result->set_id(item.id());
    absl::Status s;
    switch (item.op_case()) {
      case activation::v1::EvaluateRequest::kForward:
        s = EvaluateForward(item.forward(), result->mutable_forward(), options);
        break;
      case activation::v1::EvaluateRequest::kBackward:
        s = EvaluateBackward(item.backward(), result->mutable_backward(),
                             options);
        break;
      default:
        s = absl::InvalidArgumentError(absl::StrCat(
            "items[", i, "]: no operation set (forward or backward)"));
    }
    if (!s.ok()) {
      result->clear_result();
      result->set_code(static_cast<int>(s.code()));
      result->set_message(absl::StrCat("items[", i, "]: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace actd
