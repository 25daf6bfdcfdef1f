// Outputs of 16 MiB and more are written with non-temporal stores (after a
// plainly stored head up to the first packet-aligned element). They must hold
// the same bits as the plain path: the test computes a tensor just over the
// threshold, into an output deliberately misaligned by one element, and
// compares it with the same values computed in pieces below the threshold.
// Packets group differently in the two, so this also checks that no lane's
// result depends on its packet's neighbours (pm::WideLanes), with wide-range
// inputs among the random normals. bfloat16 and float16 outputs stream too
// (half_loops.h), their lanes redone in float64 after the streamed stores: the
// test runs every 16-bit pattern through them.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/core/half.h"
#include "server/core/kernel_table.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

// Allocates each output in a buffer of its own, the first (y or dx) `offset`
// bytes in; the others (parameter gradients, float32 for 16-bit inputs) at the
// buffer's start, aligned for their type.
class OffsetSink final : public OutputSink {
 public:
  explicit OffsetSink(size_t offset) : offset_(offset) {}
  TensorView Allocate(absl::string_view, DType dtype,
                      const Shape& shape) override {
    const size_t offset = buffers_.empty() ? offset_ : 0;
    auto& b = buffers_.emplace_back(NumElements(shape) * DTypeSize(dtype) +
                                    offset + 64);
    return {dtype, b.data() + offset, shape};
  }
  template <typename T>
  const T* First() const {
    return reinterpret_cast<const T*>(buffers_.front().data() + offset_);
  }

 private:
  size_t offset_;
  std::vector<std::vector<std::byte>> buffers_;
};

enum class Mode { kForward, kBackward, kBackwardFromOutput };

// Whether v, an element of `dtype` (16-bit ones as their bits), is NaN.
template <typename T>
bool IsNaN(DType dtype, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    const int magnitude = v & 0x7FFF;
    return magnitude > (dtype == DType::kBFloat16 ? 0x7F80 : 0x7C00);
  }
}

// The index of the first element of a and b whose bits differ, or -1. A NaN
// equals any NaN: x86 passes on the first NaN operand of an operation, a
// compiler may order the operands of a commutative one differently in two
// copies of a loop (the ThreadSanitizer build does, for gelu's backward, so a
// -NaN input came out as -NaN in one path and +NaN in the other), and the
// contract promises NaN for NaN, not its sign or payload.
template <typename T>
int64_t FirstDifference(DType dtype, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (IsNaN(dtype, a[i]) && IsNaN(dtype, b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
  }
  return -1;
}

// The first output of `name` over `x` (dy and y taken from the same offsets),
// elements of `dtype` held as T.
template <typename T>
std::vector<T> Compute(const std::string& name, Mode mode, DType dtype,
                       const T* x, const T* dy, const T* y, int64_t n,
                       size_t offset) {
  ActivationRequest r;
  r.name = name;
  r.input = {dtype, x, {n}};
  const ConstTensorView dy_view{dtype, dy, {n}}, y_view{dtype, y, {n}};
  if (mode != Mode::kForward) r.grad_output = &dy_view;
  if (mode == Mode::kBackwardFromOutput) r.output = &y_view;
  OffsetSink sink(offset);
  const absl::Status s =
      mode == Mode::kForward ? RunForward(r, sink) : RunBackward(r, sink);
  EXPECT_TRUE(s.ok()) << s;
  const T* out = sink.First<T>();
  return std::vector<T>(out, out + n);
}

// Computes x (and dy) whole, streamed into an output misaligned by one
// element, and in unstreamed pieces, and compares the two.
template <typename T>
void ExpectWholeMatchesPieces(const std::string& name, Mode mode, DType dtype,
                              const std::vector<T>& x,
                              const std::vector<T>& dy) {
  const auto n = static_cast<int64_t>(x.size());
  ASSERT_TRUE(StreamOutput(n * sizeof(T)));
  const std::vector<T> y =
      Compute<T>(name, Mode::kForward, dtype, x.data(), nullptr, nullptr, n, 0);
  const std::vector<T> whole = Compute<T>(name, mode, dtype, x.data(),
                                          dy.data(), y.data(), n, sizeof(T));
  constexpr int64_t kPiece = 1000003;
  ASSERT_FALSE(StreamOutput(kPiece * sizeof(T)));
  for (int64_t begin = 0; begin < n; begin += kPiece) {
    const int64_t len = std::min(kPiece, n - begin);
    const std::vector<T> piece =
        Compute<T>(name, mode, dtype, x.data() + begin, dy.data() + begin,
                   y.data() + begin, len, 0);
    const int64_t i =
        FirstDifference(dtype, piece.data(), whole.data() + begin, len);
    ASSERT_EQ(i, -1) << "element " << begin + i << ": x = " << +x[begin + i]
                     << ", piece " << +piece[i] << ", whole "
                     << +whole[begin + i];
  }
}

template <typename T>
void ExpectStreamedMatchesPlain(const std::string& name, Mode mode) {
  SCOPED_TRACE(name + " " + TypeName<T>() + " mode " +
               std::to_string(static_cast<int>(mode)));
  const int64_t n = (int64_t{16} << 20) / sizeof(T) + 5;
  // Normals at several scales, with the edge inputs (NaN, ±inf, ...) first.
  std::vector<T> x = EdgeInputs<T>();
  const std::vector<T> normals = RandomNormals<T>(3, (n + 5) / 6);
  x.insert(x.end(), normals.begin(), normals.end());
  x.resize(n);
  const std::vector<T> dy = RandomGrads<T>(4, n);
  ExpectWholeMatchesPieces(name, mode, kDType<T>, x, dy);
}

// Every 16-bit pattern, many times over in a scattered order (so that each
// meets every lane position), with dy from seeded normals.
void ExpectStreamed16MatchesPlain(const std::string& name, Mode mode,
                                  DType dtype) {
  SCOPED_TRACE(name + (dtype == DType::kBFloat16 ? " bf16" : " f16") +
               " mode " + std::to_string(static_cast<int>(mode)));
  const int64_t n = (int64_t{16} << 20) / 2 + 5;
  std::vector<uint16_t> x(n), dy(n);
  const std::vector<float> grads = RandomGrads<float>(4, 4099);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<uint16_t>(i * 40503);  // odd: a permutation per 2^16
    const float g = grads[i % grads.size()];
    dy[i] = dtype == DType::kBFloat16 ? half_bits::FloatToBf16(g)
                                      : half_bits::FloatToF16(g);
  }
  ExpectWholeMatchesPieces(name, mode, dtype, x, dy);
}

TEST(Streaming, SameBitsAsPlainStores) {
  for (const char* name : {"identity", "relu", "sigmoid", "gelu", "swish",
                           "mish", "elu", "tanh"}) {
    ExpectStreamedMatchesPlain<float>(name, Mode::kForward);
    ExpectStreamedMatchesPlain<float>(name, Mode::kBackward);
  }
  ExpectStreamedMatchesPlain<float>("sigmoid", Mode::kBackwardFromOutput);
  ExpectStreamedMatchesPlain<double>("tanh", Mode::kForward);
  ExpectStreamedMatchesPlain<double>("relu", Mode::kBackwardFromOutput);
}

TEST(Streaming, SameBitsAsPlainStoresIn16Bits) {
  for (const DType dtype : {DType::kBFloat16, DType::kFloat16}) {
    for (const char* name :
         {"identity", "relu", "leaky_relu", "sigmoid", "gelu", "swish"}) {
      ExpectStreamed16MatchesPlain(name, Mode::kForward, dtype);
      ExpectStreamed16MatchesPlain(name, Mode::kBackward, dtype);
    }
    ExpectStreamed16MatchesPlain("sigmoid", Mode::kBackwardFromOutput, dtype);
  }
}

}  // namespace
}  // namespace actd::testing
