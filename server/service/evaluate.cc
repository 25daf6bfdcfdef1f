// Request decoding and response writing around the core's RunForward /
// RunBackward.
#include "server/service/evaluate.h"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/activation.h"
#include "server/service/tensor_codec.h"
#include "server/service/wire.h"

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

// Decodes what every call carries: the input tensor (whose encoding the
// response will use) and the activation.
absl::Status DecodeCall(const Tensor& input, const ActivationSpec& spec,
                        const ServiceOptions& options,
                        const ComputeContext& compute, Decoded& d) {
  d.request.compute = &compute;
  absl::StatusOr<DecodedTensor> x =
      DecodeTensor(input, "input", options.max_elements);
  if (!x.ok()) return x.status();
  d.request.input = x->view;
  d.encoding = x->encoding;
  d.keep.push_back(*std::move(x));
  return DecodeSpec(spec, options, d);
}

int64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// Runs the core on a decoded request and books the time.
template <typename Run>
absl::Status Compute(Run&& run, ProtoSink& sink, CallTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = run();
  const auto computed = std::chrono::steady_clock::now();
  if (status.ok()) sink.Finish();  // typed 16-bit results: widen in place
  if (timing != nullptr) {
    timing->compute_ns +=
        NanosSince(start) - NanosSince(computed) - sink.allocate_ns();
    timing->encode_ns += sink.allocate_ns() + NanosSince(computed);
  }
  return status;
}

// The checks of DecodeTensor on each named tensor, without keeping the views;
// `elements` gets the first one's element count when all are valid.
absl::Status ValidateTensors(
    std::initializer_list<std::pair<const Tensor*, const char*>> tensors,
    const ActivationSpec& spec, const ServiceOptions& options,
    int64_t* elements) {
  int64_t first = -1;
  for (const auto& [tensor, field] : tensors) {
    if (tensor == nullptr) continue;
    absl::StatusOr<DecodedTensor> t =
        DecodeTensor(*tensor, field, options.max_elements);
    if (!t.ok()) return t.status();
    if (first < 0) first = t->view.size();
  }
  // The cost estimate counts the input and every weight the computation reads
  // (an affine Maxout's weight multiplies the whole input).
  int64_t weights = 0;
  for (const auto& [name, tensor] : spec.weights()) {
    absl::StatusOr<DecodedTensor> w =
        DecodeTensor(tensor, absl::StrCat("activation.weights[\"", name, "\"]"),
                     options.max_elements);
    if (!w.ok()) return w.status();
    weights += w->view.size();
  }
  *elements = std::max<int64_t>(first, 0) + weights;
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRequest(const activation::v1::ForwardRequest& request,
                             const ServiceOptions& options, int64_t* elements) {
  *elements = 0;
  return ValidateTensors({{&request.input(), "input"}}, request.activation(),
                         options, elements);
}

absl::Status ValidateRequest(const activation::v1::BackwardRequest& request,
                             const ServiceOptions& options, int64_t* elements) {
  *elements = 0;
  return ValidateTensors(
      {{&request.input(), "input"},
       {request.has_grad_output() ? &request.grad_output() : nullptr,
        "grad_output"},
       {request.has_output() ? &request.output() : nullptr, "output"}},
      request.activation(), options, elements);
}

absl::Status ValidateRequest(
    const activation::v1::BatchEvaluateRequest& request,
    const ServiceOptions& options, int64_t* elements) {
  *elements = 0;
  if (request.items_size() > options.max_batch_items) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "items: ", request.items_size(), " items exceed the limit of ",
        options.max_batch_items, " per batch (--max_batch_items)"));
  }
  for (const auto& item : request.items()) {
    int64_t n = 0;
    if (item.has_forward()) {
      (void)ValidateRequest(item.forward(), options, &n);
    } else if (item.has_backward()) {
      (void)ValidateRequest(item.backward(), options, &n);
    }
    *elements += n;
  }
  return absl::OkStatus();
}

namespace {

// Forward; with `reusable` (the request's input raw_data), the output is
// written over it when the activation is element-wise. Not for the 16-bit
// types: their kernels may read an input packet again after a store.
absl::Status Forward(const activation::v1::ForwardRequest& request,
                     std::string* reusable,
                     activation::v1::ForwardResponse* response,
                     const ServiceOptions& options,
                     const ComputeContext& compute, CallTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  Decoded d;
  if (absl::Status s = DecodeCall(request.input(), request.activation(),
                                  options, compute, d);
      !s.ok())
    return s;
  if (timing != nullptr) timing->decode_ns += NanosSince(start);
  ProtoSink sink(d.encoding, [response](absl::string_view name) {
    return name == "output" ? response->mutable_output()
                            : &(*response->mutable_extras())[std::string(name)];
  });
  if (reusable != nullptr) {
    if (ForwardMayOverwrite(FindActivation(d.request.name), d.request.input,
                            *reusable)) {
      sink.Reuse("output", reusable);
    } else {
      // The parse kept the freed receive buffers (wire::ParseReleasing of a
      // ForwardRequest): a new output must not be added to them.
      wire::ReturnReceivedMemory(request.ByteSizeLong());
    }
  }
  return Compute([&] { return RunForward(d.request, sink); }, sink, timing);
}

}  // namespace

bool ForwardMayOverwrite(const Activation* activation,
                         const ConstTensorView& input,
                         const std::string& storage) {
  constexpr size_t kMinBytes = size_t{64} << 10;
  return activation != nullptr && activation->info().elementwise &&
         !Is16Bit(input.dtype) && storage.size() >= kMinBytes &&
         storage.data() == input.data;
}

absl::Status EvaluateForward(const activation::v1::ForwardRequest& request,
                             activation::v1::ForwardResponse* response,
                             const ServiceOptions& options,
                             const ComputeContext& compute,
                             CallTiming* timing) {
  return Forward(request, nullptr, response, options, compute, timing);
}

absl::Status EvaluateForwardInPlace(activation::v1::ForwardRequest* request,
                                    activation::v1::ForwardResponse* response,
                                    const ServiceOptions& options,
                                    const ComputeContext& compute,
                                    CallTiming* timing) {
  std::string* input = request->has_input()
                           ? request->mutable_input()->mutable_raw_data()
                           : nullptr;
  return Forward(*request, input, response, options, compute, timing);
}

absl::Status EvaluateBackward(const activation::v1::BackwardRequest& request,
                              activation::v1::BackwardResponse* response,
                              const ServiceOptions& options,
                              const ComputeContext& compute,
                              CallTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  Decoded d;
  if (absl::Status s = DecodeCall(request.input(), request.activation(),
                                  options, compute, d);
      !s.ok())
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
  if (timing != nullptr) timing->decode_ns += NanosSince(start);
  ProtoSink sink(d.encoding, [response](absl::string_view name) {
    return name == "grad_input"
               ? response->mutable_grad_input()
               : &(*response->mutable_grad_params())[std::string(name)];
  });
  return Compute([&] { return RunBackward(d.request, sink); }, sink, timing);
}

absl::Status EvaluateBatch(const activation::v1::BatchEvaluateRequest& request,
                           activation::v1::BatchEvaluateResponse* response,
                           const ServiceOptions& options,
                           const ComputeContext& compute, CallTiming* timing) {
  if (request.items_size() > options.max_batch_items) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "items: ", request.items_size(), " items exceed the limit of ",
        options.max_batch_items, " per batch (--max_batch_items)"));
  }
  for (const auto& item : request.items())
    response->add_results()->set_id(item.id());
  // One item per chunk; items run concurrently, each writing only its own
  // result.
  absl::Status batch = compute.ParallelFor(
      request.items_size(), 1, [&](int64_t i, int64_t, int64_t) {
        const activation::v1::EvaluateRequest& item = request.items(i);
        activation::v1::EvaluateResponse* result = response->mutable_results(i);
        absl::Status s;
        switch (item.op_case()) {
          case activation::v1::EvaluateRequest::kForward:
            s = EvaluateForward(item.forward(), result->mutable_forward(),
                                options, compute, timing);
            break;
          case activation::v1::EvaluateRequest::kBackward:
            s = EvaluateBackward(item.backward(), result->mutable_backward(),
                                 options, compute, timing);
            break;
          default:
            s = absl::InvalidArgumentError(
                "no operation set (forward or backward)");
        }
        if (!s.ok()) {
          result->clear_result();
          result->set_code(static_cast<int>(s.code()));
          result->set_message(absl::StrCat("items[", i, "]: ", s.message()));
        }
      });
  return batch;
}

}  // namespace actd
