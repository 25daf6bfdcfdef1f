// EvaluateForwardInPlace and EvaluateModelInferInPlace write an element-wise
// activation's float32 or float64 output over the request's input: for every
// such activation of the registry and every dtype, its bytes equal
// EvaluateForward's, on a pool of threads (parallel chunks), and the response
// really holds the input's buffer (16-bit tensors get new memory). Activations
// that are not element-wise, and inputs under the size that pays, get new
// memory.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/core/compute.h"
#include "server/service/evaluate.h"
#include "server/service/oip_mapping.h"

namespace actd {
namespace {

namespace pb = activation::v1;

// Bytes of `n` values over [-12, 12] with NaN, infinities and signed zeros at
// the front, in `dtype`'s raw form (16-bit types by truncation of float32:
// exact for these values up to their rounding, which both sides share).
std::string RawValues(pb::DataType dtype, int64_t n) {
  std::vector<double> v = {std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 0.0, -0.0};
  for (int64_t i = static_cast<int64_t>(v.size()); i < n; ++i)
    v.push_back(-12.0 + 24.0 * static_cast<double>(i) / static_cast<double>(n));
  std::string raw;
  for (double x : v) {
    if (dtype == pb::DATA_TYPE_FLOAT64) {
      raw.append(reinterpret_cast<const char*>(&x), 8);
      continue;
    }
    const float f = static_cast<float>(x);
    if (dtype == pb::DATA_TYPE_FLOAT32) {
      raw.append(reinterpret_cast<const char*>(&f), 4);
    } else if (dtype == pb::DATA_TYPE_BFLOAT16) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      const uint16_t top = static_cast<uint16_t>(bits >> 16);
      raw.append(reinterpret_cast<const char*>(&top), 2);
    } else {
      const _Float16 h = static_cast<_Float16>(f);
      raw.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return raw;
}

pb::ForwardRequest RequestFor(const std::string& name, pb::DataType dtype,
                              int64_t n) {
  pb::ForwardRequest request;
  request.mutable_activation()->set_name(name);
  pb::Tensor* input = request.mutable_input();
  input->set_dtype(dtype);
  input->add_shape(n);
  *input->mutable_raw_data() = RawValues(dtype, n);
  return request;
}

// 48 Ki elements: 96 KiB in the 16-bit types, over the 64 KiB that pays.
constexpr int64_t kElements = 48 << 10;

// Runs check(name, dtype, wide) for every element-wise activation of the
// registry and every dtype (`wide`: float32 or float64, the ones computed in
// place); returns how many.
int ForEveryElementwiseCase(
    const std::function<void(const std::string&, pb::DataType, bool)>& check) {
  int checked = 0;
  for (const Activation* a : AllActivations()) {
    if (!a->info().elementwise) continue;
    for (pb::DataType dtype : {pb::DATA_TYPE_FLOAT32, pb::DATA_TYPE_FLOAT64,
                               pb::DATA_TYPE_BFLOAT16, pb::DATA_TYPE_FLOAT16}) {
      SCOPED_TRACE(a->info().name + " dtype " + pb::DataType_Name(dtype));
      check(a->info().name, dtype,
            dtype == pb::DATA_TYPE_FLOAT32 || dtype == pb::DATA_TYPE_FLOAT64);
      ++checked;
    }
  }
  return checked;
}

TEST(ForwardInPlace, EqualsForwardForEveryElementwiseActivationAndDtype) {
  const ComputeContext pool(2);
  const int checked = ForEveryElementwiseCase([&](const std::string& name,
                                                  pb::DataType dtype,
                                                  bool wide) {
    const pb::ForwardRequest request = RequestFor(name, dtype, kElements);
    pb::ForwardResponse expected;
    ASSERT_TRUE(EvaluateForward(request, &expected, {}, pool).ok());

    pb::ForwardRequest owned = request;
    const char* buffer = owned.input().raw_data().data();
    pb::ForwardResponse in_place;
    ASSERT_TRUE(EvaluateForwardInPlace(&owned, &in_place, {}, pool).ok());
    EXPECT_EQ(in_place.output().raw_data().data() == buffer, wide);
    // Compared as a flag: a mismatch would print 96 KiB of bytes.
    EXPECT_TRUE(in_place.output().raw_data() == expected.output().raw_data());
    EXPECT_EQ(in_place.output().shape_size(), 1);
  });
  EXPECT_GE(checked, 4 * 15);
}

TEST(ForwardInPlace, OtherActivationsAndSmallInputsGetNewMemory) {
  const ComputeContext pool(2);
  for (const auto& [name, n] :
       {std::pair<std::string, int64_t>{"glu", kElements},
        {"relu", int64_t{1000}}}) {
    SCOPED_TRACE(name);
    pb::ForwardRequest request = RequestFor(name, pb::DATA_TYPE_FLOAT32, n);
    const std::string input = request.input().raw_data();
    pb::ForwardResponse expected;
    ASSERT_TRUE(EvaluateForward(request, &expected, {}, pool).ok());
    pb::ForwardResponse response;
    ASSERT_TRUE(EvaluateForwardInPlace(&request, &response, {}, pool).ok());
    EXPECT_EQ(response.output().raw_data(), expected.output().raw_data());
    EXPECT_EQ(request.input().raw_data(), input);  // left as it was
  }
}

// The protocol's name of each dtype.
const char* OipDatatype(pb::DataType dtype) {
  switch (dtype) {
    case pb::DATA_TYPE_FLOAT64:
      return "FP64";
    case pb::DATA_TYPE_BFLOAT16:
      return "BF16";
    case pb::DATA_TYPE_FLOAT16:
      return "FP16";
    default:
      return "FP32";
  }
}

inference::ModelInferRequest InferRequestFor(const std::string& name,
                                             pb::DataType dtype, int64_t n,
                                             const char* direction) {
  inference::ModelInferRequest request;
  request.set_model_name(name);
  (*request.mutable_parameters())["direction"].set_string_param(direction);
  auto* x = request.add_inputs();
  x->set_name("x");
  x->set_datatype(OipDatatype(dtype));
  x->add_shape(n);
  request.add_raw_input_contents(RawValues(dtype, n));
  return request;
}

TEST(ModelInferInPlace, EqualsModelInferForEveryElementwiseActivationAndDtype) {
  const ComputeContext pool(2);
  const int checked = ForEveryElementwiseCase(
      [&](const std::string& name, pb::DataType dtype, bool wide) {
        const inference::ModelInferRequest request =
            InferRequestFor(name, dtype, kElements, "forward");
        inference::ModelInferResponse expected;
        ASSERT_TRUE(oip::EvaluateModelInfer(request, &expected, {}, pool).ok());

        inference::ModelInferRequest owned = request;
        const char* buffer = owned.raw_input_contents(0).data();
        inference::ModelInferResponse in_place;
        ASSERT_TRUE(
            oip::EvaluateModelInferInPlace(&owned, &in_place, {}, pool).ok());
        ASSERT_EQ(in_place.raw_output_contents_size(), 1);
        EXPECT_EQ(in_place.raw_output_contents(0).data() == buffer, wide);
        EXPECT_TRUE(in_place.raw_output_contents(0) ==
                    expected.raw_output_contents(0));
        EXPECT_EQ(in_place.outputs(0).name(), "y");
      });
  EXPECT_GE(checked, 4 * 15);
}

TEST(ModelInferInPlace, BackwardAndOtherActivationsLeaveTheInput) {
  const ComputeContext pool(2);
  for (const auto& [name, direction] :
       {std::pair<std::string, const char*>{"relu", "backward"},
        {"glu", "forward"}}) {
    SCOPED_TRACE(name);
    inference::ModelInferRequest request =
        InferRequestFor(name, pb::DATA_TYPE_FLOAT32, kElements, direction);
    const std::string input = request.raw_input_contents(0);
    inference::ModelInferResponse expected;
    ASSERT_TRUE(oip::EvaluateModelInfer(request, &expected, {}, pool).ok());
    inference::ModelInferResponse response;
    ASSERT_TRUE(
        oip::EvaluateModelInferInPlace(&request, &response, {}, pool).ok());
    EXPECT_TRUE(response.raw_output_contents(0) ==
                expected.raw_output_contents(0));
    EXPECT_TRUE(request.raw_input_contents(0) == input);  // left as it was
  }
}

}  // namespace
}  // namespace actd
