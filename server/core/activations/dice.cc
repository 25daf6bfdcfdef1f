// Dice (Zhou et al. 2018, Deep Interest Network, eq. 9): a PReLU whose switch
// point follows the data. Per channel c along `axis`, p = σ((x - μ_c)/√(var_c +
// ε)) and y = x·(α_c + (1 - α_c)·p). Training uses the batch's statistics
// (returned as extras) and differentiates through them; inference uses the
// given running statistics.
//
// Statistics are two-pass (mean, then centred squares). The passes over the
// data are packet kernels of the kernel table (dice_kernels.h), which compute
// in float64 and accumulate in float64, so float32 results are correctly
// rounded to within a few ulp whatever the batch size. This file validates,
// splits the work into chunks of whole rows for the compute pool and adds the
// chunks' per-channel sums in chunk order, so that results do not depend on the
// thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/core/kernel_table.h"
#include "server/core/rows.h"
#include "server/core/validation.h"

namespace actd {
namespace {

// Per-channel sums, one set per chunk, added in chunk order at the end so that
// the result does not depend on the thread count.
class ChannelSums {
 public:
  ChannelSums(int64_t chunks, int64_t channels, int kinds)
      : channels_(channels),
        kinds_(kinds),
        data_(chunks * channels * kinds, 0.0) {}
  double* at(int64_t chunk, int kind) {
    return &data_[(chunk * kinds_ + kind) * channels_];
  }
  std::vector<double> Total(int kind) const {
    std::vector<double> total(channels_, 0.0);
    const int64_t chunks =
        channels_ == 0 ? 0 : data_.size() / (channels_ * kinds_);
    for (int64_t k = 0; k < chunks; ++k) {
      for (int64_t c = 0; c < channels_; ++c) {
        total[c] += data_[(k * kinds_ + kind) * channels_ + c];
      }
    }
    return total;
  }

 private:
  int64_t channels_;
  int kinds_;
  std::vector<double> data_;
};

// Per-channel constants of one call.
struct Channels {
  AxisSplit split;
  std::vector<double> mean, var, inv_r, alpha;
};

class Dice final : public Activation {
 public:
  Dice() {
    info_.name = "dice";
    info_.summary =
        "Data-adaptive PReLU: a smooth switch centred on each channel's mean, "
        "scaled by "
        "its spread.";
    info_.formula =
        "y = x·(α_c + (1 - α_c)·p), p = σ((x - μ_c)/√(var_c + ε)), μ, var per "
        "channel "
        "(batch in training, running in inference)";
    info_.derivative =
        "inference: dy·(α + (1-α)p) + g/r; training: dy·(α + (1-α)p) + (g - "
        "mean(g) - "
        "z·mean(g·z))/r, g = dy·x·(1-α)·p·(1-p); dL/dα_c = Σ dy·x·(1-p)";
    info_.reference =
        "Zhou et al., Deep Interest Network for Click-Through Rate Prediction, "
        "KDD 2018, "
        "arXiv:1706.06978";
    info_.params = {
        IntegerParam("axis", -1, -64, 63,
                     "axis of the channels; all others are the batch"),
        NumberParam("epsilon", 1e-8, 1e-30, 1.0,
                    "added to the variance before the root"),
        FlagParam("training", true,
                  "true: batch statistics (returned as batch_mean, batch_var); "
                  "false: "
                  "running_mean and running_var")};
    info_.weights = {
        {"alpha", "[C]", "zeros",
         "output slope share for the 'off' side, per channel", true},
        {"running_mean", "[C]", "required for inference",
         "μ for training = false", false},
        {"running_var", "[C]", "required for inference",
         "var for training = false", false}};
    Properties& p = info_.properties;
    p.monotonic = false;
    p.smooth = true;
    p.zero_centered = true;  // f(0) = 0, negative and positive outputs
    p.range_min = -kInf;
    p.range_max = kInf;
    p.saturates_left = true;  // with α = 0 (the default) f' -> 0 as x -> -inf
    p.learnable_parameters = "1 per channel (alpha)";
    p.learnable_parameter_count = 1;
    p.cost = CostClass::kExp;
    info_.elementwise = false;
  }

  const ActivationInfo& info() const override { return info_; }

  absl::Status Validate(const ActivationCall& call) const override {
    const int rank = static_cast<int>(call.input.shape.size());
    absl::StatusOr<int> axis = NormalizeAxis(call.params.Number("axis"), rank,
                                             "activation.params[\"axis\"]");
    if (!axis.ok()) return axis.status();
    const AxisSplit s = SplitAround(call.input.shape, *axis);
    const std::string expected =
        absl::StrCat("[C] = [", s.channels, "] (C = input.shape[", *axis, "])");
    const bool training = call.params.Flag("training");
    for (const WeightInfo& w : info_.weights) {
      absl::StatusOr<const ConstTensorView*> t = FindWeight(call, w.name);
      if (!t.ok()) return t.status();
      if (*t == nullptr) {
        if (!training && w.name != "alpha") {
          return absl::InvalidArgumentError(absl::StrCat(
              "activation.weights[\"", w.name,
              "\"]: required when activation.params[\"training\"] is false"));
        }
        continue;
      }
      absl::Status shape =
          CheckWeightShape(w.name, **t, {s.channels}, expected);
      if (!shape.ok()) return shape;
    }
    if (training && s.channels > 0 && s.outer * s.inner == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input.shape: ", ShapeToString(call.input.shape),
          " has no elements per channel to take batch statistics from"));
    }
    if (!training) {
      const ConstTensorView& var = call.weights.find("running_var")->second;
      for (int64_t c = 0; c < s.channels; ++c) {
        const double v = var.dtype == DType::kFloat32 ? var.as<float>()[c]
                                                      : var.as<double>()[c];
        if (!(v >= 0)) {
          return absl::InvalidArgumentError(
              absl::StrCat("activation.weights[\"running_var\"][", c, "]: ", v,
                           " is not a variance (must be >= 0)"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Forward(const ActivationCall& call,
                       OutputSink& sink) const override {
    return call.input.dtype == DType::kFloat32 ? ForwardT<float>(call, sink)
                                               : ForwardT<double>(call, sink);
  }

  absl::Status Backward(const ActivationCall& call,
                        OutputSink& sink) const override {
    return call.input.dtype == DType::kFloat32 ? BackwardT<float>(call, sink)
                                               : BackwardT<double>(call, sink);
  }

 private:
  // Calls f(chunk, block) for the chunks of whole outer rows of the [outer,
  // channels, inner] view, on the compute pool; the block holds the chunk's
  // pointers and shape, and `proto`'s per-channel arrays. Returns the stop
  // check's status.
  template <typename T, typename F>
  static absl::Status ForBlocks(const ActivationCall& call, const AxisSplit& s,
                                const DiceBlock<T>& proto, F&& f) {
    const int64_t row = s.channels * s.inner;
    return call.compute->ParallelFor(
        row == 0 ? 0 : s.outer, Grain(s),
        [&](int64_t chunk, int64_t begin, int64_t end) {
          DiceBlock<T> b = proto;
          b.x += begin * row;
          if (b.dy) b.dy += begin * row;
          if (b.out) b.out += begin * row;
          b.rows = end - begin;
          f(chunk, b);
        });
  }
  // Outer rows per chunk, and the number of chunks.
  static int64_t Grain(const AxisSplit& s) {
    return std::max<int64_t>(
        1, kGrain / std::max<int64_t>(1, s.channels * s.inner));
  }
  static int64_t Chunks(const AxisSplit& s) {
    if (s.channels * s.inner == 0) return 0;
    return (s.outer + Grain(s) - 1) / Grain(s);
  }

  template <typename T>
  static std::vector<double> Weight(const ActivationCall& call,
                                    absl::string_view name, int64_t channels) {
    std::vector<double> v(channels, 0.0);
    if (auto it = call.weights.find(name); it != call.weights.end()) {
      for (int64_t c = 0; c < channels; ++c) v[c] = it->second.as<T>()[c];
    }
    return v;
  }

  // A block over the whole input, without per-channel arrays.
  template <typename T>
  static DiceBlock<T> Whole(const ActivationCall& call, const AxisSplit& s) {
    DiceBlock<T> b;
    b.x = call.input.as<T>();
    b.channels = s.channels;
    b.inner = s.inner;
    return b;
  }

  template <typename T>
  static absl::StatusOr<Channels> Statistics(const ActivationCall& call) {
    Channels ch;
    int axis = static_cast<int>(call.params.Number("axis"));
    if (axis < 0) axis += static_cast<int>(call.input.shape.size());
    ch.split = SplitAround(call.input.shape, axis);
    const int64_t C = ch.split.channels;
    ch.alpha = Weight<T>(call, "alpha", C);
    if (call.params.Flag("training")) {
      const DiceOps<T>& ops = Kernels().dice<T>();
      const double n = static_cast<double>(ch.split.outer * ch.split.inner);
      DiceBlock<T> b = Whole<T>(call, ch.split);
      ChannelSums sums(Chunks(ch.split), C, 1);
      absl::Status s = ForBlocks(call, ch.split, b,
                                 [&](int64_t k, const DiceBlock<T>& block) {
                                   ops.sum(block, sums.at(k, 0));
                                 });
      if (!s.ok()) return s;
      ch.mean = sums.Total(0);
      for (double& m : ch.mean) m /= n;
      b.mean = ch.mean.data();
      ChannelSums squares(Chunks(ch.split), C, 1);
      s = ForBlocks(call, ch.split, b,
                    [&](int64_t k, const DiceBlock<T>& block) {
                      ops.centred_squares(block, squares.at(k, 0));
                    });
      if (!s.ok()) return s;
      ch.var = squares.Total(0);
      for (double& v : ch.var) v /= n;
    } else {
      ch.mean = Weight<T>(call, "running_mean", C);
      ch.var = Weight<T>(call, "running_var", C);
    }
    const double eps = call.params.Number("epsilon");
    ch.inv_r.resize(C);
    for (int64_t c = 0; c < C; ++c)
      ch.inv_r[c] = 1 / std::sqrt(ch.var[c] + eps);
    return ch;
  }

  // A block over the whole input with the per-channel arrays of `ch`.
  template <typename T>
  static DiceBlock<T> WithChannels(const ActivationCall& call,
                                   const Channels& ch) {
    DiceBlock<T> b = Whole<T>(call, ch.split);
    b.mean = ch.mean.data();
    b.inv_r = ch.inv_r.data();
    b.alpha = ch.alpha.data();
    return b;
  }

  template <typename T>
  static absl::Status ForwardT(const ActivationCall& call, OutputSink& sink) {
    absl::StatusOr<Channels> stats = Statistics<T>(call);
    if (!stats.ok()) return stats.status();
    const Channels& ch = *stats;
    const DiceOps<T>& ops = Kernels().dice<T>();
    DiceBlock<T> b = WithChannels<T>(call, ch);
    b.out = sink.Allocate("output", call.input.dtype, call.input.shape).as<T>();
    absl::Status s = ForBlocks(
        call, ch.split, b,
        [&](int64_t, const DiceBlock<T>& block) { ops.forward(block); });
    if (call.params.Flag("training")) {
      const Shape shape = {ch.split.channels};
      T* mean = sink.Allocate("batch_mean", call.input.dtype, shape).as<T>();
      T* var = sink.Allocate("batch_var", call.input.dtype, shape).as<T>();
      for (int64_t c = 0; c < ch.split.channels; ++c) {
        mean[c] = static_cast<T>(ch.mean[c]);
        var[c] = static_cast<T>(ch.var[c]);
      }
    }
    return s;
  }

  template <typename T>
  static absl::Status BackwardT(const ActivationCall& call, OutputSink& sink) {
    absl::StatusOr<Channels> stats = Statistics<T>(call);
    if (!stats.ok()) return stats.status();
    const Channels& ch = *stats;
    const int64_t C = ch.split.channels;
    const DiceOps<T>& ops = Kernels().dice<T>();
    DiceBlock<T> b = WithChannels<T>(call, ch);
    b.dy = call.grad_output ? call.grad_output->as<T>() : nullptr;
    b.out =
        sink.Allocate("grad_input", call.input.dtype, call.input.shape).as<T>();
    const bool training = call.params.Flag("training");
    enum Kind { kAlpha, kG, kGz };
    ChannelSums sums(Chunks(ch.split), C, 3);
    absl::Status s =
        ForBlocks(call, ch.split, b, [&](int64_t k, const DiceBlock<T>& block) {
          if (training) {
            ops.backward_sums(block, sums.at(k, kAlpha), sums.at(k, kG),
                              sums.at(k, kGz));
          } else {
            ops.backward_inference(block, sums.at(k, kAlpha));
          }
        });
    if (!s.ok()) return s;
    if (training) {
      const double n = static_cast<double>(ch.split.outer * ch.split.inner);
      std::vector<double> mean_g = sums.Total(kG), mean_gz = sums.Total(kGz);
      for (int64_t c = 0; c < C; ++c) {
        mean_g[c] /= n;
        mean_gz[c] /= n;
      }
      b.mean_g = mean_g.data();
      b.mean_gz = mean_gz.data();
      s = ForBlocks(call, ch.split, b, [&](int64_t, const DiceBlock<T>& block) {
        ops.backward_training(block);
      });
      if (!s.ok()) return s;
    }
    const std::vector<double> dalpha = sums.Total(kAlpha);
    T* da = sink.Allocate("alpha", call.input.dtype, {C}).as<T>();
    for (int64_t c = 0; c < C; ++c) da[c] = static_cast<T>(dalpha[c]);
    return absl::OkStatus();
  }

  ActivationInfo info_;
};

}  // namespace

ACTD_REGISTER_ACTIVATION(dice, new Dice())

}  // namespace actd
