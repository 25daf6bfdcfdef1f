// Tests of client/lib without a server: DoubleToFloat16 against GCC's
// _Float16 conversion (correctly rounded) and DoubleToBfloat16 against the
// round-to-nearest-even bit rule on float inputs, both exhaustively over the
// 16-bit patterns; the raw and typed wire encodings and .npy files of the
// 16-bit types; --shape -1; the default port; did-you-mean.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "client/lib/client.h"
#include "client/lib/half_float.h"
#include "client/lib/tensor.h"
#include "client/lib/tensor_io.h"
#include "gtest/gtest.h"

namespace actd::client {
namespace {

namespace pb = activation::v1;

uint16_t CompilerFloat16Bits(double value) {
  const _Float16 h = static_cast<_Float16>(value);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

// bfloat16 of a float by the usual bit rule (round to nearest even).
uint16_t FloatToBfloat16Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

bool IsNan16(uint16_t bits, int mantissa_bits) {
  const uint16_t exp_mask =
      static_cast<uint16_t>(0x7FFF >> mantissa_bits << mantissa_bits);
  return (bits & exp_mask) == exp_mask && (bits & ~exp_mask & 0x7FFF) != 0;
}

TEST(HalfFloat, EveryFloat16PatternRoundTrips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const double v = Float16ToDouble(static_cast<uint16_t>(b));
    if (IsNan16(b, 10)) {
      EXPECT_TRUE(std::isnan(v));
      EXPECT_TRUE(IsNan16(DoubleToFloat16(v), 10));
      continue;
    }
    ASSERT_EQ(DoubleToFloat16(v), b) << v;
    ASSERT_EQ(CompilerFloat16Bits(v), b) << v;
  }
}

TEST(HalfFloat, EveryBfloat16PatternRoundTrips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const double v = Bfloat16ToDouble(static_cast<uint16_t>(b));
    uint32_t wide = b << 16;
    float f;
    std::memcpy(&f, &wide, 4);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(v));
      continue;
    }
    ASSERT_EQ(v, static_cast<double>(f));
    ASSERT_EQ(DoubleToBfloat16(v), b) << v;
  }
}

// Midpoints between neighbours (ties go to even) and points just beside
// them, where a wrong rounding shows first.
TEST(HalfFloat, Float16RoundsLikeTheCompilerAtEveryMidpoint) {
  for (uint32_t b = 0; b < 0x7C00; ++b) {
    const double lo = Float16ToDouble(static_cast<uint16_t>(b));
    const double hi = b + 1 < 0x7C00 ? Float16ToDouble(b + 1) : 65536.0;
    const double mid = (lo + hi) / 2;
    for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, 1e9)}) {
      for (double s : {1.0, -1.0}) {
        ASSERT_EQ(DoubleToFloat16(s * x), CompilerFloat16Bits(s * x)) << s * x;
      }
    }
  }
}

TEST(HalfFloat, Float16RandomDoublesMatchTheCompiler) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-30, 17);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(1.0 + (rng() >> 11) * 0x1p-53, exponent(rng)) *
                     (i % 2 ? -1 : 1);
    ASSERT_EQ(DoubleToFloat16(x), CompilerFloat16Bits(x)) << x;
  }
}

TEST(HalfFloat, Float16EdgeValues) {
  EXPECT_EQ(DoubleToFloat16(65504), 0x7BFF);
  EXPECT_EQ(DoubleToFloat16(65519.99), 0x7BFF);
  EXPECT_EQ(DoubleToFloat16(65520), 0x7C00);  // the tie rounds to 2^16: inf
  EXPECT_EQ(DoubleToFloat16(-INFINITY), 0xFC00);
  EXPECT_EQ(DoubleToFloat16(0x1p-24), 0x0001);  // smallest subnormal
  EXPECT_EQ(DoubleToFloat16(0x1p-25), 0x0000);  // tie to even: zero
  EXPECT_EQ(DoubleToFloat16(0x1.8p-25), 0x0001);
  EXPECT_EQ(DoubleToFloat16(-0.0), 0x8000);
  EXPECT_EQ(DoubleToFloat16(-NAN), 0xFE00);
  EXPECT_EQ(DoubleToFloat16(0.1), 0x2E66);
}

TEST(HalfFloat, Bfloat16MatchesTheBitRuleOnFloats) {
  std::mt19937 rng(11);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t bits = rng();
    if (i < 65536) bits = (static_cast<uint32_t>(i) << 16) | 0x8000;  // ties
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(DoubleToBfloat16(f), FloatToBfloat16Bits(f)) << f;
  }
}

TEST(HalfFloat, Bfloat16RoundsOnceFromDouble) {
  // 1 + 2^-8 is the tie between 1 and 1 + 2^-7; a hair above it must round
  // up, although rounding through float first would land on the tie and go
  // to even (down).
  const double x = 1 + 0x1p-8 + 0x1p-40;
  EXPECT_EQ(static_cast<double>(static_cast<float>(x)), 1 + 0x1p-8);
  EXPECT_EQ(DoubleToBfloat16(x), 0x3F81);
  EXPECT_EQ(DoubleToBfloat16(1 + 0x1p-8), 0x3F80);
  EXPECT_EQ(DoubleToBfloat16(3.5e38), 0x7F80);  // over the largest: inf
  EXPECT_EQ(DoubleToBfloat16(NAN), 0x7FC0);
}

TEST(Tensor, HalfTypesTravelAsTwoByteValues) {
  HostTensor t;
  t.dtype = pb::DATA_TYPE_FLOAT16;
  t.shape = {3};
  t.values = {1, -2, 70000};
  pb::Tensor raw = ToProto(t, Encoding::kRaw);
  ASSERT_EQ(raw.raw_data().size(), 6u);
  EXPECT_EQ(raw.raw_data(), std::string("\x00\x3C\x00\xC0\x00\x7C", 6));
  absl::StatusOr<HostTensor> back = FromProto(raw);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dtype, pb::DATA_TYPE_FLOAT16);
  EXPECT_EQ(back->values, (std::vector<double>{1, -2, INFINITY}));

  t.dtype = pb::DATA_TYPE_BFLOAT16;
  t.values = {0.1, 1, -3};
  pb::Tensor typed = ToProto(t, Encoding::kTyped);
  ASSERT_EQ(typed.float_data_size(), 3);
  EXPECT_EQ(typed.float_data(0), static_cast<float>(Bfloat16ToDouble(0x3DCD)));
  back = FromProto(typed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->dtype, pb::DATA_TYPE_BFLOAT16);

  raw.set_raw_data("\x00\x3C\x00", 3);
  EXPECT_NE(FromProto(raw).status().message().find("2 bytes each"),
            std::string::npos);
}

TEST(Tensor, ParseDataTypeNamesEveryType) {
  EXPECT_EQ(*ParseDataType("bfloat16"), pb::DATA_TYPE_BFLOAT16);
  EXPECT_EQ(*ParseDataType("float16"), pb::DATA_TYPE_FLOAT16);
  EXPECT_EQ(DataTypeName(pb::DATA_TYPE_BFLOAT16), "bfloat16");
  EXPECT_FALSE(ParseDataType("half").ok());
}

TEST(Tensor, ResolveShapeInfersOneDimension) {
  EXPECT_EQ(*ResolveShape("-1,2", 6), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(*ResolveShape("2,-1,1", 6), (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(*ResolveShape("2,3", 6), (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(ResolveShape("-1,4", 6).ok());
  EXPECT_FALSE(ResolveShape("-1,-1", 6).ok());
  EXPECT_FALSE(ResolveShape("0,-1", 0).ok());
  EXPECT_FALSE(ResolveShape("-2,3", 6).ok());
  EXPECT_NE(ResolveShape("2,2", 6).status().message().find("--shape 2,2"),
            std::string::npos);
}

std::string TempPath(const std::string& name) {
  return std::string(::testing::TempDir()) + "/" + name;
}

TEST(TensorIo, Float16AndBfloat16Npy) {
  HostTensor t;
  t.dtype = pb::DATA_TYPE_FLOAT16;
  t.shape = {2};
  t.values = {0.5, -65504};
  const std::string f16 = EncodeNpy(t);
  EXPECT_NE(f16.find("'descr': '<f2'"), std::string::npos);
  ASSERT_TRUE(WriteTensorFile(TempPath("h.npy"), t).ok());
  absl::StatusOr<HostTensor> back = ReadTensorFile(TempPath("h.npy"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dtype, pb::DATA_TYPE_FLOAT16);
  EXPECT_EQ(back->values, t.values);

  t.dtype = pb::DATA_TYPE_BFLOAT16;
  t.values = {1, -2.5};
  EXPECT_NE(EncodeNpy(t).find("'descr': '<u2'"), std::string::npos);
  ASSERT_TRUE(WriteTensorFile(TempPath("b.npy"), t).ok());
  back = ReadTensorFile(TempPath("b.npy"), pb::DATA_TYPE_BFLOAT16);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dtype, pb::DATA_TYPE_BFLOAT16);
  EXPECT_EQ(back->values, t.values);
  // Bit patterns are not values: refused unless bfloat16 is asked for.
  absl::Status refused = ReadTensorFile(TempPath("b.npy")).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("--dtype bfloat16"), std::string::npos);
}

TEST(TensorIo, NpzIsAZipOfNpyFiles) {
  HostTensor a, b;
  a.shape = {2};
  a.values = {1, 2};
  b.shape = {};
  b.values = {3};
  ASSERT_TRUE(
      WriteNpz(TempPath("t.npz"), {{"grad_input", a}, {"alpha", b}}).ok());
  std::ifstream in(TempPath("t.npz"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.substr(0, 4), "PK\x03\x04");
  EXPECT_NE(bytes.find("grad_input.npy"), std::string::npos);
  EXPECT_NE(bytes.find("alpha.npy"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 22, 4), "PK\x05\x06");
}

TEST(Client, TargetWithoutPortMeansTheServerDefault) {
  EXPECT_EQ(WithDefaultPort("localhost"), "localhost:50051");
  EXPECT_EQ(WithDefaultPort("127.0.0.1"), "127.0.0.1:50051");
  EXPECT_EQ(WithDefaultPort("[::1]"), "[::1]:50051");
  EXPECT_EQ(WithDefaultPort("::1"), "[::1]:50051");
  EXPECT_EQ(WithDefaultPort("dns:///::1"), "dns:///[::1]:50051");
  EXPECT_EQ(WithDefaultPort("dns:///actd.svc"), "dns:///actd.svc:50051");
  EXPECT_EQ(WithDefaultPort("dns:actd"), "dns:actd:50051");
  EXPECT_EQ(WithDefaultPort("localhost:1234"), "localhost:1234");
  EXPECT_EQ(WithDefaultPort("[::1]:1234"), "[::1]:1234");
  EXPECT_EQ(WithDefaultPort("dns:///actd.svc:7"), "dns:///actd.svc:7");
  EXPECT_EQ(WithDefaultPort("unix:/tmp/actd.sock"), "unix:/tmp/actd.sock");
  EXPECT_EQ(WithDefaultPort("ipv4:10.0.0.1:5,10.0.0.2:5"),
            "ipv4:10.0.0.1:5,10.0.0.2:5");
}

TEST(Client, ClosestNameSuggestsLikelyTypos) {
  const std::vector<std::string> names = {"gelu", "relu", "elu", "selu",
                                          "swish"};
  EXPECT_EQ(ClosestName("gleu", names), "gelu");  // a transposition
  EXPECT_EQ(ClosestName("swissh", names), "swish");
  EXPECT_EQ(ClosestName("zzzzzz", names), "");
  EXPECT_EQ(ClosestName("forwrd", {"forward", "backward", "list"}), "forward");
}

}  // namespace
}  // namespace actd::client

namespace actd::client {
namespace {

// Waits (up to 5 s) until the channel has applied its resolver result.
std::shared_ptr<grpc::Channel> ResolvedChannel(const ConnectionOptions& o) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(o);
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(5);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (channel->GetLoadBalancingPolicyName().empty() &&
         channel->WaitForStateChange(state, deadline)) {
    state = channel->GetState(true);
  }
  return channel;
}

TEST(Client, ChannelsUseTheRecommendedServiceConfig) {
  ConnectionOptions options;
  options.target = "127.0.0.1:1";  // nothing listens; resolution suffices
  std::shared_ptr<grpc::Channel> channel = ResolvedChannel(options);
  EXPECT_EQ(channel->GetLoadBalancingPolicyName(), "round_robin");
  EXPECT_NE(channel->GetServiceConfigJSON().find("UNAVAILABLE"),
            std::string::npos);
  options.service_config.clear();
  EXPECT_EQ(ResolvedChannel(options)->GetLoadBalancingPolicyName(),
            "pick_first");
}

}  // namespace
}  // namespace actd::client
