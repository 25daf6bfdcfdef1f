// bfloat16 and float16 through the service: Forward, Backward and
// BatchEvaluate, raw and typed, for every activation, against the core's own
// 16-bit results on the same elements (the core's accuracy is tested
// exhaustively in tests/core/half_test.cc; here the transport is): results in
// the request's dtype and encoding, the same bits, typed values rounded to the
// type on arrival (nearest even), parameter gradients as float32, and the
// errors naming the 2-byte size.
#include "server/core/half.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "tests/service/harness.h"

namespace actd::service_test {
namespace {

using Bits = std::vector<uint16_t>;

bool IsBf16(pb::DataType d) { return d == pb::DATA_TYPE_BFLOAT16; }
DType CoreType(pb::DataType d) {
  return IsBf16(d) ? DType::kBFloat16 : DType::kFloat16;
}
float Widen(pb::DataType d, uint16_t h) {
  return IsBf16(d) ? half_bits::Bf16ToFloat(h) : half_bits::F16ToFloat(h);
}

// Seeded finite 16-bit values, normal(0, 3) rounded to the type.
Bits RandomBits(pb::DataType d, int64_t n, int seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0, 3);
  Bits v(n);
  for (uint16_t& h : v) {
    const float f = normal(gen);
    h = IsBf16(d) ? half_bits::FloatToBf16(f) : half_bits::FloatToF16(f);
  }
  return v;
}

pb::Tensor MakeHalf(const Bits& bits, const Shape& shape, pb::DataType d,
                    Encoding e) {
  pb::Tensor t;
  t.set_dtype(d);
  for (int64_t s : shape) t.add_shape(s);
  if (e == Encoding::kRaw) {
    t.mutable_raw_data()->assign(reinterpret_cast<const char*>(bits.data()),
                                 bits.size() * 2);
  } else {
    for (uint16_t h : bits) t.add_float_data(Widen(d, h));
  }
  return t;
}

// The 16-bit elements of a response tensor, checking dtype and encoding.
Bits BitsOf(const pb::Tensor& t, pb::DataType d, Encoding e) {
  EXPECT_EQ(t.dtype(), d);
  Bits out;
  if (e == Encoding::kRaw) {
    EXPECT_EQ(t.float_data_size(), 0);
    EXPECT_EQ(t.raw_data().size() % 2, 0u);
    out.resize(t.raw_data().size() / 2);
    std::memcpy(out.data(), t.raw_data().data(), out.size() * 2);
  } else {
    EXPECT_TRUE(t.raw_data().empty());
    for (float f : t.float_data()) {
      const uint16_t h =
          IsBf16(d) ? half_bits::FloatToBf16(f) : half_bits::FloatToF16(f);
      // Typed results are exactly the 16-bit values they stand for.
      if (!std::isnan(f)) EXPECT_EQ(Widen(d, h), f);
      out.push_back(h);
    }
  }
  return out;
}

// The core's result on the same request, as the reference for the bits.
struct CoreCall {
  std::string name;
  ParamMap params;
  std::map<std::string, Bits> weights;
  Shape shape;
  Bits x, dy;
};
BufferSink RunCore(const CoreCall& c, pb::DataType d, bool backward) {
  ActivationRequest r;
  r.name = c.name;
  r.params = &c.params;
  for (const auto& [name, w] : c.weights) {
    r.weights[name] = ConstTensorView{
        CoreType(d), w.data(), {static_cast<int64_t>(w.size())}};
  }
  r.input = ConstTensorView{CoreType(d), c.x.data(), c.shape};
  BufferSink sink;
  absl::Status s = backward ? RunBackward(r, sink) : RunForward(r, sink);
  EXPECT_TRUE(s.ok()) << s;
  return sink;
}

Bits SinkBits(const BufferSink& sink, const std::string& name) {
  const BufferSink::Buffer* b = sink.Find(name);
  if (b == nullptr) return {};
  Bits v(b->bytes.size() / 2);
  std::memcpy(v.data(), b->bytes.data(), v.size() * 2);
  return v;
}

// Bits equal, NaNs as any NaN.
void ExpectSameBits(pb::DataType d, const Bits& got, const Bits& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    if (got[i] == want[i]) continue;
    if (std::isnan(Widen(d, got[i])) && std::isnan(Widen(d, want[i]))) continue;
    ADD_FAILURE() << what << "[" << i << "]: got 0x" << std::hex << got[i]
                  << " want 0x" << want[i];
    ++bad;
  }
}

// Every activation with its weights (16-bit, like the input).
std::vector<CoreCall> Calls(pb::DataType d) {
  const Shape shape = {2, 4, 6};
  std::vector<CoreCall> calls;
  for (const Activation* a : AllActivations()) {
    CoreCall c;
    c.name = a->info().name;
    c.shape = shape;
    c.x = RandomBits(d, 48, 1);
    c.dy = RandomBits(d, 48, 2);
    if (c.name == "prelu") c.weights["alpha"] = RandomBits(d, 4, 3);
    if (c.name == "dice") c.params["training"] = true;
    calls.push_back(c);
  }
  return calls;
}

pb::ActivationSpec Spec(const CoreCall& c, pb::DataType d, Encoding e) {
  pb::ActivationSpec spec;
  spec.set_name(c.name);
  for (const auto& [k, v] : c.params) {
    if (const bool* flag = std::get_if<bool>(&v)) {
      (*spec.mutable_params())[k] = Flag(*flag);
    }
  }
  for (const auto& [k, w] : c.weights) {
    (*spec.mutable_weights())[k] =
        MakeHalf(w, {static_cast<int64_t>(w.size())}, d, e);
  }
  return spec;
}

using Variant = std::tuple<pb::DataType, Encoding>;

class HalfService : public ::testing::TestWithParam<Variant> {
 protected:
  static void SetUpTestSuite() { server_ = new InProcessServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  pb::DataType dtype() const { return std::get<0>(GetParam()); }
  Encoding encoding() const { return std::get<1>(GetParam()); }
  static InProcessServer* server_;
};
InProcessServer* HalfService::server_ = nullptr;

TEST_P(HalfService, ForwardEveryActivationGivesTheCoresBits) {
  for (const CoreCall& c : Calls(dtype())) {
    SCOPED_TRACE(c.name);
    pb::ForwardRequest req;
    *req.mutable_activation() = Spec(c, dtype(), encoding());
    *req.mutable_input() = MakeHalf(c.x, c.shape, dtype(), encoding());
    pb::ForwardResponse resp;
    const grpc::Status st = server_->Forward(req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    const BufferSink want = RunCore(c, dtype(), false);
    ExpectSameBits(dtype(), BitsOf(resp.output(), dtype(), encoding()),
                   SinkBits(want, "output"), "output");
    // Extras (Dice's batch statistics) are float32.
    for (const auto& [name, t] : resp.extras()) {
      EXPECT_EQ(t.dtype(), pb::DATA_TYPE_FLOAT32) << name;
    }
  }
}

TEST_P(HalfService, BackwardEveryActivationGivesTheCoresBits) {
  for (const CoreCall& c : Calls(dtype())) {
    SCOPED_TRACE(c.name);
    pb::BackwardRequest req;
    *req.mutable_activation() = Spec(c, dtype(), encoding());
    *req.mutable_input() = MakeHalf(c.x, c.shape, dtype(), encoding());
    pb::BackwardResponse resp;
    // Without grad_output (ones) so that the core reference is the same call.
    const grpc::Status st = server_->Backward(req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    const BufferSink want = RunCore(c, dtype(), true);
    ExpectSameBits(dtype(), BitsOf(resp.grad_input(), dtype(), encoding()),
                   SinkBits(want, "grad_input"), "grad_input");
    // Parameter gradients: float32, the core's values.
    for (const auto& [name, t] : resp.grad_params()) {
      EXPECT_EQ(t.dtype(), pb::DATA_TYPE_FLOAT32) << name;
      const BufferSink::Buffer* b = want.Find(name);
      ASSERT_NE(b, nullptr) << name;
      ASSERT_EQ(b->dtype, DType::kFloat32) << name;
      const Values got = ValuesOf(t);
      ASSERT_EQ(static_cast<int64_t>(got.size()),
                static_cast<int64_t>(b->bytes.size() / 4));
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(static_cast<float>(got[i]), b->as<float>()[i]) << name;
      }
    }
  }
}

TEST_P(HalfService, BatchEvaluateForwardAndBackward) {
  const CoreCall c = Calls(dtype())[0];  // an element-wise one
  pb::BatchEvaluateRequest req;
  auto* f = req.add_items();
  f->set_id("f");
  *f->mutable_forward()->mutable_activation() = Spec(c, dtype(), encoding());
  *f->mutable_forward()->mutable_input() =
      MakeHalf(c.x, c.shape, dtype(), encoding());
  auto* b = req.add_items();
  b->set_id("b");
  *b->mutable_backward()->mutable_activation() = Spec(c, dtype(), encoding());
  *b->mutable_backward()->mutable_input() =
      MakeHalf(c.x, c.shape, dtype(), encoding());
  *b->mutable_backward()->mutable_grad_output() =
      MakeHalf(c.dy, c.shape, dtype(), encoding());
  pb::BatchEvaluateResponse resp;
  ASSERT_TRUE(server_->BatchEvaluate(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 2);
  EXPECT_EQ(resp.results(0).code(), 0) << resp.results(0).message();
  EXPECT_EQ(resp.results(1).code(), 0) << resp.results(1).message();
  ExpectSameBits(
      dtype(), BitsOf(resp.results(0).forward().output(), dtype(), encoding()),
      SinkBits(RunCore(c, dtype(), false), "output"), "batch output");
  // dx = f'(x)·dy: the same as the core with dy.
  ActivationRequest r;
  r.name = c.name;
  r.input = ConstTensorView{CoreType(dtype()), c.x.data(), c.shape};
  const ConstTensorView dy{CoreType(dtype()), c.dy.data(), c.shape};
  r.grad_output = &dy;
  BufferSink sink;
  ASSERT_TRUE(RunBackward(r, sink).ok());
  ExpectSameBits(
      dtype(),
      BitsOf(resp.results(1).backward().grad_input(), dtype(), encoding()),
      SinkBits(sink, "grad_input"), "batch grad_input");
}

TEST_P(HalfService, MismatchedGradOutputDTypeIsRefused) {
  pb::BackwardRequest req;
  req.mutable_activation()->set_name("relu");
  *req.mutable_input() =
      MakeHalf(RandomBits(dtype(), 4, 1), {4}, dtype(), encoding());
  *req.mutable_grad_output() =
      MakeTensor({1, 2, 3, 4}, {4}, pb::DATA_TYPE_FLOAT32, encoding());
  pb::BackwardResponse resp;
  const std::string name = IsBf16(dtype()) ? "bfloat16" : "float16";
  ExpectError(server_->Backward(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
              {"grad_output.dtype", "float32", name});
}

INSTANTIATE_TEST_SUITE_P(
    Types, HalfService,
    ::testing::Combine(::testing::Values(pb::DATA_TYPE_BFLOAT16,
                                         pb::DATA_TYPE_FLOAT16),
                       ::testing::Values(Encoding::kRaw, Encoding::kTyped)),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return (IsBf16(std::get<0>(info.param)) ? std::string("bfloat16")
                                              : std::string("float16")) +
             "_" + EncodingName(std::get<1>(info.param));
    });

// Typed values are rounded to the type on arrival, to nearest, ties to even.
TEST(HalfServiceTyped, FloatDataIsRoundedToNearestEvenOnArrival) {
  InProcessServer server;
  struct Case {
    pb::DataType dtype;
    float in, out;
  };
  const Case cases[] = {
      // bfloat16 has 8 significant bits: 1 + 2^-8 is a tie between 1 and
      // 1 + 2^-7 (even: 1); 1 + 3·2^-8 is one between 1 + 2^-7 and 1 + 2^-6
      // (even: 1 + 2^-6).
      {pb::DATA_TYPE_BFLOAT16, 1.00390625f, 1.0f},
      {pb::DATA_TYPE_BFLOAT16, 1.01171875f, 1.015625f},
      {pb::DATA_TYPE_BFLOAT16, 3.4e38f, std::numeric_limits<float>::infinity()},
      // float16: 11 bits; 65520 and beyond overflow to inf; 2^-25 ties to 0.
      {pb::DATA_TYPE_FLOAT16, 1.00048828125f, 1.0f},
      {pb::DATA_TYPE_FLOAT16, 1.00146484375f, 1.001953125f},
      {pb::DATA_TYPE_FLOAT16, 65520.0f, std::numeric_limits<float>::infinity()},
      {pb::DATA_TYPE_FLOAT16, 2.98023223876953125e-8f, 0.0f},
      {pb::DATA_TYPE_FLOAT16, 1.0e-7f, 1.1920928955078125e-7f},
  };
  for (const Case& c : cases) {
    pb::ForwardRequest req;
    req.mutable_activation()->set_name("identity");
    req.mutable_input()->set_dtype(c.dtype);
    req.mutable_input()->add_float_data(c.in);
    pb::ForwardResponse resp;
    ASSERT_TRUE(server.Forward(req, &resp).ok());
    ASSERT_EQ(resp.output().float_data_size(), 1);
    EXPECT_EQ(resp.output().dtype(), c.dtype);
    EXPECT_EQ(resp.output().float_data(0), c.out) << c.in;
  }
}

TEST(HalfServiceErrors, OddByteCountsNameTheTwoByteSize) {
  InProcessServer server;
  for (auto [d, name] : {std::pair{pb::DATA_TYPE_BFLOAT16, "bfloat16"},
                         std::pair{pb::DATA_TYPE_FLOAT16, "float16"}}) {
    pb::ForwardRequest req;
    req.mutable_activation()->set_name("relu");
    req.mutable_input()->set_dtype(d);
    req.mutable_input()->add_shape(2);
    req.mutable_input()->set_raw_data(std::string(3, '\0'));
    pb::ForwardResponse resp;
    ExpectError(server.Forward(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
                {"input.raw_data", "3 bytes", "multiple of 2", name});
    // The same for grad_output in Backward.
    pb::BackwardRequest breq;
    breq.mutable_activation()->set_name("relu");
    breq.mutable_input()->set_dtype(d);
    breq.mutable_input()->add_shape(2);
    breq.mutable_input()->set_raw_data(std::string(4, '\0'));
    *breq.mutable_grad_output() = breq.input();
    breq.mutable_grad_output()->set_raw_data(std::string(5, '\0'));
    pb::BackwardResponse bresp;
    ExpectError(server.Backward(breq, &bresp),
                grpc::StatusCode::INVALID_ARGUMENT,
                {"grad_output.raw_data", "5 bytes", "multiple of 2", name});
    // Whole elements, but not the shape's count.
    req.mutable_input()->set_raw_data(std::string(6, '\0'));
    ExpectError(server.Forward(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
                {"input.raw_data", "3 elements", "[2]"});
  }
  // double_data cannot carry a 16-bit type.
  pb::ForwardRequest req;
  req.mutable_activation()->set_name("relu");
  req.mutable_input()->set_dtype(pb::DATA_TYPE_BFLOAT16);
  req.mutable_input()->add_double_data(1.0);
  pb::ForwardResponse resp;
  ExpectError(server.Forward(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "DATA_TYPE_BFLOAT16", "double_data"});
}

}  // namespace
}  // namespace actd::service_test
