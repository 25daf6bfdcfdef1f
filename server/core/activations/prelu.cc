// prelu: a leaky ReLU whose slope is a weight, shared or one per channel;
// runs leaky_relu's kernel over each run of one channel.
#include "absl/strings/str_cat.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

// PReLU: a leaky ReLU whose slope `alpha` is a weight, scalar or one per
// channel along `channel_axis`. Runs the Leaky kernel over each contiguous run
// of one channel.
class Prelu final : public Activation {
 public:
  explicit Prelu(ActivationInfo info) : info_(std::move(info)) {}
  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    absl::StatusOr<const ConstTensorView*> alpha = FindWeight(call, "alpha");
    if (!alpha.ok()) return alpha.status();
    if (*alpha == nullptr || (*alpha)->size() == 1) {
      if (*alpha != nullptr && (*alpha)->shape.size() > 1) {
        return CheckWeightShape("alpha", **alpha, {1}, "[] or [1] or [C]");
      }
      return absl::OkStatus();
    }
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis =
        NormalizeAxis(call.params.Number("channel_axis"), rank,
                      "activation.params[\"channel_axis\"]");
    if (!axis.ok()) return axis.status();
    const int64_t channels = call.input.shape[*axis];
    return CheckWeightShape("alpha", **alpha, {channels},
                            absl::StrCat("[] or [1] or [C] = [", channels,
                                         "] (C = input.shape[", *axis, "])"));
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    const TensorView y =
        sink.Allocate("output", call.input.dtype, call.input.shape);
    const Runs runs = RunsOf(call);
    const bool stream = StreamOutput(y.bytes());
    absl::Status status;
    WithType(call.input.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto forward = Kernels().ops<T>(KernelId::kLeaky).forward;
      const T* x = call.input.as<T>();
      const T* alpha = runs.alpha ? runs.alpha->as<T>() : nullptr;
      status = call.compute->ParallelFor(
          runs.count, runs.grain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t offset = r * runs.length;
              const int64_t n = std::min(runs.length, runs.total - offset);
              forward({.alpha = Slope(alpha, runs, r), .stream = stream},
                      x + offset, y.as<T>() + offset, n);
            }
          });
    });
    return status;
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    const DType dtype = call.input.dtype;
    const TensorView dx = sink.Allocate("grad_input", dtype, call.input.shape);
    const Runs runs = RunsOf(call);
    const TensorView grad =
        sink.Allocate("alpha", dtype, runs.alpha ? runs.alpha->shape : Shape{});
    // Each run's sum of dy·x over x <= 0, then per slope in run order: the
    // same bits for any thread count.
    std::vector<double> partial(runs.count, 0.0);
    absl::Status status;
    WithType(dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto backward = Kernels().ops<T>(KernelId::kLeaky).backward;
      const T* x = call.input.as<T>();
      const T* dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
      const T* alpha = runs.alpha ? runs.alpha->as<T>() : nullptr;
      status = call.compute->ParallelFor(
          runs.count, runs.grain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t offset = r * runs.length;
              const int64_t n = std::min(runs.length, runs.total - offset);
              partial[r] = backward({.alpha = Slope(alpha, runs, r)},
                                    x + offset, dy ? dy + offset : nullptr,
                                    dx.as<T>() + offset, n, true);
            }
          });
      std::vector<double> sums(grad.size(), 0.0);
      for (int64_t r = 0; r < runs.count; ++r) {
        sums[runs.channels > 1 ? r % runs.channels : 0] += partial[r];
      }
      for (size_t c = 0; c < sums.size(); ++c) {
        grad.as<T>()[c] = static_cast<T>(sums[c]);
      }
    });
    return status;
  }

 private:
  // The input as consecutive runs of `length` elements sharing one slope: for a
  // shared alpha, kGrain-sized pieces of the whole tensor; per channel, the
  // inner blocks, run r having channel r % channels. `grain` runs make a chunk.
  struct Runs {
    const ConstTensorView* alpha = nullptr;  // null = the default 0.25
    int64_t total = 0, length = 1, count = 0, channels = 1, grain = 1;
  };

  static Runs RunsOf(const ActivationCall& call) {
    Runs runs;
    auto it = call.weights.find("alpha");
    if (it != call.weights.end()) runs.alpha = &it->second;
    runs.total = call.input.size();
    if (runs.alpha == nullptr || runs.alpha->size() == 1) {
      runs.length = kGrain;
    } else {
      const int rank = static_cast<int>(call.input.shape.size());
      int axis = static_cast<int>(call.params.Number("channel_axis"));
      if (axis < 0) axis += rank;
      const AxisSplit s = SplitAround(call.input.shape, axis);
      runs.length = std::max<int64_t>(1, s.inner);
      runs.channels = s.channels;
      runs.grain = std::max<int64_t>(1, kGrain / runs.length);
    }
    runs.count =
        runs.total == 0 ? 0 : (runs.total + runs.length - 1) / runs.length;
    return runs;
  }

  template <typename T>
  static double Slope(const T* alpha, const Runs& runs, int64_t run) {
    if (alpha == nullptr) return 0.25;
    return alpha[runs.channels > 1 ? run % runs.channels : 0];
  }

  ActivationInfo info_;
};

ActivationInfo Info() {
  ActivationInfo i;
  i.name = "prelu";
  i.summary =
      "Leaky ReLU whose negative slope is learned, one per channel or shared.";
  i.formula = "y = x if x > 0 else a_c·x (c = the channel of x)";
  i.derivative =
      "dy/dx = 1 if x > 0 else a_c; dL/da_c = Σ over x <= 0 in channel c of "
      "dy·x";
  i.reference =
      "He, Zhang, Ren, Sun, Delving Deep into Rectifiers, ICCV 2015, "
      "arXiv:1502.01852";
  i.params = {
      IntegerParam("channel_axis", 1, -64, 63,
                   "axis of the channels when alpha has one slope per channel "
                   "(1, as in PyTorch's NCHW)")};
  i.weights = {{"alpha", "[] or [1] or [C]", "0.25",
                "negative-side slope, shared or one per channel", true}};
  i.properties = MakeProperties(true, false, true, -kInf, kInf, false, false,
                                CostClass::kNoTranscendental);
  i.properties.learnable_parameters = "1, or 1 per channel (alpha)";
  i.properties.learnable_parameter_count = 1;
  return i;
}

}  // namespace

ACTD_REGISTER_ACTIVATION(prelu, new Prelu(Info()))

}  // namespace actd
