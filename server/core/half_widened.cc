// ForwardWidened / BackwardWidened of half_ops.h: a 16-bit call to a row that
// computes in float32, through float32 copies.
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/half_ops.h"

namespace actd {
namespace {

// Chunks for the conversions over the pool: 64 Ki elements.
constexpr int64_t kChunk = int64_t{1} << 16;

template <typename H>
absl::Status WidenAll(const H* from, float* to, int64_t n,
                      const ComputeContext& compute) {
  return compute.ParallelFor(n, kChunk, [&](int64_t, int64_t b, int64_t e) {
    Widen(from + b, to + b, e - b);
  });
}

// A float32 copy of a 16-bit view, kept alive by `store`.
absl::StatusOr<ConstTensorView> WidenView(
    const ConstTensorView& v, std::vector<std::unique_ptr<float[]>>& store,
    const ComputeContext& compute) {
  if (!Is16Bit(v.dtype)) return v;
  const int64_t n = v.size();
  float* data = store.emplace_back(new float[std::max<int64_t>(n, 1)]).get();
  const absl::Status s = v.dtype == DType::kBFloat16
                             ? WidenAll(v.as<BFloat16>(), data, n, compute)
                             : WidenAll(v.as<Float16>(), data, n, compute);
  if (!s.ok()) return s;
  return ConstTensorView{DType::kFloat32, data, v.shape};
}

// Gives the row float32 buffers for "output" and "grad_input" and rounds them
// into the real sink's 16-bit tensors in Finish; passes every other result
// through as float32.
class NarrowingSink final : public OutputSink {
 public:
  NarrowingSink(OutputSink& inner, DType dtype)
      : inner_(inner), dtype_(dtype) {}

  TensorView Allocate(absl::string_view name, DType dtype,
                      const Shape& shape) override {
    if (name != "output" && name != "grad_input") {
      return inner_.Allocate(name, dtype, shape);
    }
    Pending& p = pending_.emplace_back();
    p.target = inner_.Allocate(name, dtype_, shape);
    p.data.reset(new float[std::max<int64_t>(p.target.size(), 1)]);
    return {DType::kFloat32, p.data.get(), shape};
  }

  absl::Status Finish(const ComputeContext& compute) {
    for (Pending& p : pending_) {
      const float* from = p.data.get();
      absl::Status s = compute.ParallelFor(
          p.target.size(), kChunk, [&](int64_t, int64_t b, int64_t e) {
            if (dtype_ == DType::kBFloat16) {
              Narrow(from + b, p.target.as<BFloat16>() + b, e - b);
            } else {
              Narrow(from + b, p.target.as<Float16>() + b, e - b);
            }
          });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  struct Pending {
    std::unique_ptr<float[]> data;
    TensorView target;
  };
  OutputSink& inner_;
  DType dtype_;
  std::vector<Pending> pending_;
};

// Runs `run(widened_call, sink)` on float32 copies of the call's tensors.
template <typename Run>
absl::Status Widened(const ActivationCall& call, OutputSink& sink,
                     const Run& run) {
  const ComputeContext& compute = *call.compute;
  std::vector<std::unique_ptr<float[]>> store;
  ActivationCall wide;
  wide.params = call.params;
  wide.compute = call.compute;
  absl::StatusOr<ConstTensorView> v = WidenView(call.input, store, compute);
  if (!v.ok()) return v.status();
  wide.input = *v;
  for (const auto& [name, w] : call.weights) {
    if (v = WidenView(w, store, compute); !v.ok()) return v.status();
    wide.weights.emplace(name, *v);
  }
  ConstTensorView dy, y;
  if (call.grad_output != nullptr) {
    if (v = WidenView(*call.grad_output, store, compute); !v.ok()) {
      return v.status();
    }
    dy = *v;
    wide.grad_output = &dy;
  }
  if (call.output != nullptr) {
    if (v = WidenView(*call.output, store, compute); !v.ok()) return v.status();
    y = *v;
    wide.output = &y;
  }
  NarrowingSink narrowing(sink, call.input.dtype);
  if (absl::Status s = run(wide, narrowing); !s.ok()) return s;
  return narrowing.Finish(compute);
}

}  // namespace

absl::Status ForwardWidened(const Activation& row, const ActivationCall& call,
                            OutputSink& sink) {
  return Widened(call, sink, [&](const ActivationCall& c, OutputSink& s) {
    return row.Forward(c, s);
  });
}

absl::Status BackwardWidened(const Activation& row, const ActivationCall& call,
                             OutputSink& sink) {
  return Widened(call, sink, [&](const ActivationCall& c, OutputSink& s) {
    return row.Backward(c, s);
  });
}

}  // namespace actd
