// The gated row: y = a·g(b), where the input splits along `axis` into a (the
// first half) and b (the second), g being the element-wise function of one
// kernel of the table. Fused (gated.h): each element of x is read once and
// each of y written once, in parallel chunks on the call's compute pool, like
// the element-wise rows; no sums, so the same bits for any thread count.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/core/kernel_table.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

constexpr char kAxisField[] = "activation.params[\"axis\"]";

// The input as `outer` rows of two halves of `half` contiguous elements each
// (half = length along the axis / 2 × the inner size).
struct Halves {
  int64_t outer = 0, half = 0;
};

class Gated final : public Activation {
 public:
  Gated(ActivationInfo info, KernelChoice choice)
      : info_(std::move(info)), choice_(choice) {}
  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis =
        NormalizeAxis(call.params.Number("axis"), rank, kAxisField);
    if (!axis.ok()) return axis.status();
    const int64_t length = call.input.shape[*axis];
    if (length % 2 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input.shape[", *axis, "]: length ", length, " along axis ",
          call.params.Number("axis"), " is odd; ", info_.name,
          " splits it into two halves, so it must be even"));
    }
    return absl::OkStatus();
  }

  Shape OutputShape(const ActivationCall& call) const override {
    Shape shape = call.input.shape;
    shape[Axis(call)] /= 2;
    return shape;
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    const TensorView y =
        sink.Allocate("output", call.input.dtype, OutputShape(call));
    KernelArgs args;
    const KernelId id = choice_.choose(call.params, &args);
    args.stream = StreamOutput(y.bytes());
    const Halves h = HalvesOf(call);
    absl::Status status;
    WithType(call.input.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto forward = Kernels().ops<T>(id).gated_forward;
      const T* x = call.input.as<T>();
      status = ForEachRun(call, h, [&](int64_t row, int64_t j, int64_t n) {
        const T* a = x + row * 2 * h.half + j;
        forward(args, a, a + h.half, y.as<T>() + row * h.half + j, n);
      });
    });
    return status;
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    const TensorView dx =
        sink.Allocate("grad_input", call.input.dtype, call.input.shape);
    KernelArgs args;
    const KernelId id = choice_.choose(call.params, &args);
    const Halves h = HalvesOf(call);
    absl::Status status;
    WithType(call.input.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto backward = Kernels().ops<T>(id).gated_backward;
      const T* x = call.input.as<T>();
      const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
      status = ForEachRun(call, h, [&](int64_t row, int64_t j, int64_t n) {
        const int64_t in = row * 2 * h.half + j, out = row * h.half + j;
        backward(args, x + in, x + in + h.half, dy ? dy + out : nullptr,
                 dx.as<T>() + in, dx.as<T>() + in + h.half, n);
      });
    });
    return status;
  }

 private:
  static int Axis(const ActivationCall& call) {
    const int rank = static_cast<int>(call.input.shape.size());
    const int axis = static_cast<int>(call.params.Number("axis"));
    return axis < 0 ? axis + rank : axis;
  }

  static Halves HalvesOf(const ActivationCall& call) {
    const AxisSplit s = SplitAround(call.input.shape, Axis(call));
    return {s.outer, s.channels / 2 * s.inner};
  }

  // Calls run(row, j, n) over the output's elements in parallel chunks, each
  // call a run of n elements of one row starting at offset j within the half.
  template <typename Run>
  static absl::Status ForEachRun(const ActivationCall& call, const Halves& h,
                                 const Run& run) {
    return call.compute->ParallelFor(
        h.outer * h.half, kGrain, [&](int64_t, int64_t begin, int64_t end) {
          for (int64_t pos = begin; pos < end;) {
            const int64_t row = pos / h.half, j = pos % h.half;
            const int64_t n = std::min(end - pos, h.half - j);
            run(row, j, n);
            pos += n;
          }
        });
  }

  ActivationInfo info_;
  KernelChoice choice_;
};

}  // namespace

Activation* GatedRow(ActivationInfo info, KernelChoice choice) {
  info.params.insert(
      info.params.begin(),
      IntegerParam("axis", -1, -64, 63,
                   "axis split into the halves a (first) and b (second); its "
                   "length must be even, and the output has half of it"));
  info.elementwise = false;
  info.gated = true;
  return new Gated(std::move(info), choice);
}

}  // namespace actd
