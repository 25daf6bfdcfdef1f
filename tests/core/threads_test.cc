// Results do not depend on the thread count: chunking follows the element
// count only and partial sums are combined in chunk order, so a call on a
// two-thread pool returns the same bits as one on a single thread, for the
// element-wise rows (with a learnable sum), PReLU per channel, Maxout and Dice.
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/compute.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

template <typename T>
void ExpectSameBits(Request<T> r) {
  SCOPED_TRACE(r.name + " " + TypeName<T>());
  ComputeContext one(1), pool(2);
  for (bool backward : {false, true}) {
    r.compute = &one;
    absl::StatusOr<Results<T>> inline_run = Run(r, backward);
    r.compute = &pool;
    absl::StatusOr<Results<T>> pooled = Run(r, backward);
    ASSERT_TRUE(inline_run.ok()) << inline_run.status();
    ASSERT_TRUE(pooled.ok()) << pooled.status();
    ASSERT_EQ(inline_run->tensors.size(), pooled->tensors.size());
    for (const auto& [name, t] : inline_run->tensors) {
      ASSERT_TRUE(pooled->has(name)) << name;
      const std::vector<T>& other = (*pooled)[name];
      ASSERT_EQ(t.values.size(), other.size()) << name;
      EXPECT_EQ(
          std::memcmp(t.values.data(), other.data(), other.size() * sizeof(T)),
          0)
          << name << " differs between one and two threads";
    }
  }
}

template <typename T>
Request<T> Big(const std::string& name, Shape shape) {
  Request<T> r;
  r.name = name;
  std::vector<T> x = RandomNormals<T>(3, (NumElements(shape) + 5) / 6);
  x.resize(NumElements(shape));
  r.input = {shape, x};
  r.grad_output = Tensor<T>{shape, RandomGrads<T>(4, x.size())};
  return r;
}

TEST(Threads, SameBitsForAnyThreadCount) {
  // A million elements and more: many chunks, and an odd tail.
  ExpectSameBits(Big<float>("swish", {1000003}));
  ExpectSameBits(Big<double>("swish", {1000000}));
  ExpectSameBits(Big<double>("elu", {1000001}));
  ExpectSameBits(Big<float>("elu", {1000000}));
  ExpectSameBits(Big<float>("gelu", {1000000}));
  ExpectSameBits(Big<double>("mish", {1000000}));
  Request<float> prelu = Big<float>("prelu", {5, 4, 50001});
  prelu.weights["alpha"] = {{4}, {0.1f, 0.2f, 0.3f, 0.4f}};
  ExpectSameBits(prelu);
  Request<double> dice = Big<double>("dice", {250000, 4});
  dice.weights["alpha"] = {{4}, {0.1, -0.2, 0.3, 0.05}};
  ExpectSameBits(dice);
  Request<float> dice32 = Big<float>("dice", {4, 250000});
  dice32.params["axis"] = ParamValue(0.0);
  dice32.weights["alpha"] = {{4}, {0.1f, -0.2f, 0.3f, 0.05f}};
  ExpectSameBits(dice32);
  // Channels in the middle: packets along inner, many chunks of whole rows.
  Request<float> dice_inner = Big<float>("dice", {50, 4, 5001});
  dice_inner.params["axis"] = ParamValue(1.0);
  dice_inner.weights["alpha"] = {{4}, {0.1f, -0.2f, 0.3f, 0.05f}};
  ExpectSameBits(dice_inner);
  Request<float> maxout = Big<float>("maxout", {2000, 64});
  maxout.grad_output = Tensor<float>{{2000, 32}, RandomGrads<float>(5, 64000)};
  ExpectSameBits(maxout);
}

}  // namespace
}  // namespace actd::testing
