// Fuzzes decode -> validate -> compute through the registry: requests built by
// FuzzedDataProvider for every activation (known names mostly, made-up ones
// too), with their declared parameters set to odd values, weights of odd
// shapes, every dtype and encoding, shapes that disagree with their data, and
// Forward, Backward and BatchEvaluate. Whatever the request, the service must
// answer a status (no crash, no sanitizer report, no leak), and an OK answer
// must carry a tensor of the size its shape says.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "activation/v1/activation.pb.h"
#include "server/core/activation.h"
#include "server/service/evaluate.h"

namespace pb = activation::v1;

namespace {

// Small limits keep one input fast; the paths taken are the same.
actd::ServiceOptions Options() {
  actd::ServiceOptions options;
  options.max_elements = 1 << 14;
  options.max_batch_items = 8;
  options.max_message_bytes = 1 << 20;
  return options;
}

std::string Name(FuzzedDataProvider& in) {
  const auto all = actd::AllActivations();
  if (in.ConsumeIntegralInRange(0, 15) == 0) {
    return in.ConsumeRandomLengthString(16);
  }
  return all[in.ConsumeIntegralInRange<size_t>(0, all.size() - 1)]->info().name;
}

double OddNumber(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
      return in.ConsumeIntegralInRange(-3, 70);
    case 1:
      return in.ConsumeFloatingPointInRange(-2.0, 2.0);
    case 2:
      return __builtin_nan("");
    case 3:
      return in.ConsumeBool() ? 1e308 * 10 : -1e308 * 10;
    default:
      return in.ConsumeFloatingPoint<double>();
  }
}

// A tensor whose shape, dtype, encoding and data length may or may not agree.
void FillTensor(FuzzedDataProvider& in, pb::Tensor* t) {
  t->set_dtype(static_cast<pb::DataType>(in.ConsumeIntegralInRange(0, 5)));
  const int rank = in.ConsumeIntegralInRange(0, 4);
  int64_t elements = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t dim = in.ConsumeIntegralInRange<int64_t>(
        in.ConsumeIntegralInRange(0, 20) == 0 ? -2 : 0, 12);
    t->add_shape(in.ConsumeIntegralInRange(0, 40) == 0 ? int64_t{1} << 40
                                                       : dim);
    elements *= std::max<int64_t>(dim, 1);
  }
  const int64_t n = in.ConsumeBool()
                        ? elements
                        : in.ConsumeIntegralInRange<int64_t>(0, 2 * elements);
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      for (int64_t i = 0; i < n; ++i) t->add_float_data(OddNumber(in));
      break;
    case 1:
      for (int64_t i = 0; i < n; ++i) t->add_double_data(OddNumber(in));
      break;
    default: {
      const size_t size = in.ConsumeIntegralInRange(0, 9) == 0
                              ? in.ConsumeIntegralInRange<size_t>(0, 64)
                              : n * (t->dtype() == pb::DATA_TYPE_FLOAT64   ? 8
                                     : t->dtype() == pb::DATA_TYPE_FLOAT32 ? 4
                                                                           : 2);
      std::string raw = in.ConsumeBytesAsString(size);
      raw.resize(size, '\x3f');
      t->set_raw_data(std::move(raw));
    }
  }
}

void FillSpec(FuzzedDataProvider& in, pb::ActivationSpec* spec) {
  spec->set_name(Name(in));
  const actd::Activation* a = actd::FindActivation(spec->name());
  if (a != nullptr) {
    for (const actd::ParamInfo& p : a->info().params) {
      if (!in.ConsumeBool()) continue;
      pb::Param& param = (*spec->mutable_params())[p.name];
      switch (in.ConsumeIntegralInRange(0, 3)) {
        case 0:
          param.set_text(in.ConsumeRandomLengthString(8));
          break;
        case 1:
          param.set_flag(in.ConsumeBool());
          break;
        default:
          param.set_number(OddNumber(in));
      }
    }
    for (const actd::WeightInfo& w : a->info().weights) {
      if (in.ConsumeBool()) FillTensor(in, &(*spec->mutable_weights())[w.name]);
    }
  }
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    (*spec->mutable_params())[in.ConsumeRandomLengthString(6)].set_number(1);
  }
}

// The elements an OK tensor's data holds must be what its shape says.
void CheckTensor(const pb::Tensor& t) {
  int64_t elements = 1;
  for (int64_t d : t.shape()) elements *= d;
  const int64_t size = t.dtype() == pb::DATA_TYPE_FLOAT64   ? 8
                       : t.dtype() == pb::DATA_TYPE_FLOAT32 ? 4
                                                            : 2;
  const int64_t held = !t.raw_data().empty()
                           ? static_cast<int64_t>(t.raw_data().size()) / size
                           : t.float_data_size() + t.double_data_size();
  if (held != elements) abort();
}

void Forward(FuzzedDataProvider& in, const actd::ComputeContext& compute) {
  pb::ForwardRequest request;
  FillSpec(in, request.mutable_activation());
  FillTensor(in, request.mutable_input());
  pb::ForwardResponse response;
  if (actd::EvaluateForward(request, &response, Options(), compute).ok()) {
    CheckTensor(response.output());
  }
}

void Backward(FuzzedDataProvider& in, const actd::ComputeContext& compute) {
  pb::BackwardRequest request;
  FillSpec(in, request.mutable_activation());
  FillTensor(in, request.mutable_input());
  if (in.ConsumeBool()) FillTensor(in, request.mutable_grad_output());
  if (in.ConsumeBool()) FillTensor(in, request.mutable_output());
  pb::BackwardResponse response;
  if (actd::EvaluateBackward(request, &response, Options(), compute).ok()) {
    CheckTensor(response.grad_input());
  }
}

void Batch(FuzzedDataProvider& in, const actd::ComputeContext& compute) {
  pb::BatchEvaluateRequest request;
  const int items = in.ConsumeIntegralInRange(0, 10);
  for (int i = 0; i < items; ++i) {
    pb::EvaluateRequest* item = request.add_items();
    item->set_id(std::to_string(i));
    if (in.ConsumeBool()) {
      FillSpec(in, item->mutable_forward()->mutable_activation());
      FillTensor(in, item->mutable_forward()->mutable_input());
    } else if (in.ConsumeBool()) {
      FillSpec(in, item->mutable_backward()->mutable_activation());
      FillTensor(in, item->mutable_backward()->mutable_input());
    }
  }
  pb::BatchEvaluateResponse response;
  if (actd::EvaluateBatch(request, &response, Options(), compute).ok() &&
      response.results_size() != items) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const actd::ComputeContext* pool = new actd::ComputeContext(2);
  FuzzedDataProvider in(data, size);
  const actd::ComputeContext& compute =
      in.ConsumeBool() ? *pool : actd::ComputeContext::Inline();
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0:
      Forward(in, compute);
      break;
    case 1:
      Backward(in, compute);
      break;
    default:
      Batch(in, compute);
  }
  return 0;
}
