// actbench: throughput of every activation kernel, through the same registry
// the service uses.
//
// Benchmarks are named <variant>/<direction>/<dtype>/<elements>/<workers> with
// items_per_second = elements per second; inputs are normals scaled by 3 (never
// zeros). `memcpy/<dtype>/...` is the memory-bandwidth reference (it moves the
// same bytes as a unary kernel). When built with oneDNN (libdnnl-dev
// installed), `onednn/...` runs its eltwise primitive on the same inputs in the
// same run, and our float32 one-worker benchmarks report `vs_onednn`, their
// throughput divided by oneDNN's (median of 21 passes each, timed
// alternately). Variants oneDNN lacks report `vs_<relative>` the same way
// against their nearest relative here (selu against elu, prelu against
// leaky_relu, gelu_sigmoid, silu and hardswish against swish, identity and
// relu6 against relu, hardsigmoid against sigmoid), and gelu's
// float64 one-worker benchmarks `vs_mish` against mish's.
//
// Gated units (glu, swiglu, geglu, reglu) take an input of [n / 1024, 2048]
// (the gate along the last axis) and count their n output elements. For
// swiglu and geglu, `vs_onednn` is against oneDNN's composition of two
// primitives, as a framework builds it: eltwise (swish with alpha 1, gelu_erf)
// on the b half into a temporary, then a binary multiply with the a half;
// backward: the same eltwise, two multiplies and the eltwise's backward.
// oneDNN gets the two halves as dense buffers of n (its 2.x eltwise needs
// dense memory: on the strided halves it would run its reference code).
//
// Every benchmark measures real time, so Google Benchmark appends "/real_time"
// to each name: relu/forward/f32/1048576/1/real_time. A --benchmark_filter
// anchored with '$' must include it; one that matches nothing makes actbench
// exit 1 (--benchmark_list_tests prints every name).
//
// Extra flag: --isa=auto|baseline|avx2|avx512 (before Google Benchmark's own
// flags).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/core/activation.h"
#include "server/core/half.h"
#include "server/core/kernel_table.h"

#ifdef ACTD_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace actd {
namespace {

// Reuses its buffers from one iteration to the next, so only the kernels are
// timed.
class ReusedSink final : public OutputSink {
 public:
  TensorView Allocate(absl::string_view name, DType dtype,
                      const Shape& shape) override {
    std::vector<std::byte>& b = buffers_[std::string(name)];
    b.resize(NumElements(shape) * DTypeSize(dtype));
    return {dtype, b.data(), shape};
  }
  const std::byte* Data(const std::string& name) {
    return buffers_[name].data();
  }

 private:
  std::map<std::string, std::vector<std::byte>> buffers_;
};

// Normal(0, 3) values, made once per dtype and size.
template <typename T>
const std::vector<T>& Inputs(int64_t n, int seed) {
  static std::map<std::pair<int64_t, int>, std::vector<T>> cache;
  auto [it, fresh] = cache.try_emplace({n, seed});
  if (fresh) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 3.0);
    it->second.resize(n);
    for (T& v : it->second) {
      do v = static_cast<T>(normal(gen));
      while (static_cast<double>(v) == 0);
    }
  }
  return it->second;
}

struct Variant {
  std::string name;        // benchmark name
  std::string activation;  // registry name
  ParamMap params;
  // Input shape for n elements, and the weights to pass (filled per dtype).
  Shape (*shape)(int64_t n) = nullptr;  // null = [n]
  const char* onednn = nullptr;         // oneDNN's counterpart, if it has one
  // For a variant oneDNN lacks: the variant here it is measured against.
  const char* relative = nullptr;
  // The variant its float64 one-worker benchmarks are paired with, if any.
  const char* f64_relative = nullptr;
  // The output halves the input's last axis (maxout, the gated units).
  bool halves = false;
  // For a gated unit: oneDNN's eltwise for the gate, for the composition.
  const char* onednn_gate = nullptr;
};

std::vector<Variant> Variants() {
  auto channels64 = [](int64_t n) { return Shape{1, 64, n / 64}; };
  auto rows64 = [](int64_t n) { return Shape{n / 64, 64}; };
  // n output elements: [n / 1024, 2 * 1024], halves a and b along axis -1.
  auto gated = [](int64_t n) { return Shape{n / 1024, 2048}; };
  return {
      {"identity", "identity", {}, {}, nullptr, "relu"},
      {"relu", "relu", {}, {}, "relu"},
      {"leaky_relu", "leaky_relu", {}, {}, "leaky_relu"},
      {"prelu", "prelu", {}, channels64, nullptr, "leaky_relu"},
      {"elu", "elu", {}, {}, "elu"},
      {"selu", "selu", {}, {}, nullptr, "elu"},
      {"sigmoid", "sigmoid", {}, {}, "sigmoid"},
      {"tanh", "tanh", {}, {}, "tanh"},
      {"gelu", "gelu", {}, {}, "gelu_erf", nullptr, "mish"},
      {"gelu_tanh",
       "gelu",
       {{"approximate", std::string("tanh")}},
       {},
       "gelu_tanh"},
      {"gelu_sigmoid",
       "gelu",
       {{"approximate", std::string("sigmoid")}},
       {},
       nullptr,
       "swish"},
      {"swish", "swish", {}, {}, "swish"},
      {"mish", "mish", {}, {}, "mish"},
      {"silu", "silu", {}, {}, nullptr, "swish"},
      {"softplus", "softplus", {}, {}},
      {"relu6", "relu6", {}, {}, nullptr, "relu"},
      {"hardsigmoid", "hardsigmoid", {}, {}, nullptr, "sigmoid"},
      {"hardswish", "hardswish", {}, {}, nullptr, "swish"},
      {"glu", "glu", {}, gated, nullptr, nullptr, nullptr, true},
      {"swiglu", "swiglu", {}, gated, nullptr, nullptr, nullptr, true, "swish"},
      {"geglu",
       "geglu",
       {},
       gated,
       nullptr,
       nullptr,
       nullptr,
       true,
       "gelu_erf"},
      {"reglu", "reglu", {}, gated, nullptr, nullptr, nullptr, true},
      {"maxout", "maxout", {}, {}, nullptr, nullptr, nullptr, true},
      {"dice", "dice", {}, rows64},
  };
}

const std::vector<Variant>& AllVariants() {
  static const std::vector<Variant> variants = Variants();
  return variants;
}
const Variant& FindVariant(const std::string& name) {
  for (const Variant& v : AllVariants()) {
    if (v.name == name) return v;
  }
  std::abort();
}

enum class Direction { kForward, kBackward, kBackwardFromOutput };
const char* DirectionName(Direction d) {
  return d == Direction::kForward    ? "forward"
         : d == Direction::kBackward ? "backward"
                                     : "backward_from_output";
}

// How much faster `ours` runs than `theirs`: the two are timed alternately,
// 21 pairs after a warm-up, and the ratio of the medians is returned, so both
// see the same machine state (a noisy neighbour slows both, not one).
double PairedRatio(const std::function<void()>& ours,
                   const std::function<void()>& theirs) {
  auto seconds = [](const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  for (int i = 0; i < 3; ++i) ours(), theirs();
  std::vector<double> a, b;
  for (int i = 0; i < 21; ++i) {
    a.push_back(seconds(ours));
    b.push_back(seconds(theirs));
  }
  auto median = [](std::vector<double>& t) {
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
  };
  return median(b) / median(a);
}

#ifdef ACTD_HAVE_DNNL
// oneDNN's eltwise primitive on the same inputs.
struct OneDnn {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};

  static dnnl::algorithm Algorithm(const std::string& name, float* alpha) {
    *alpha = 0;
    if (name == "relu") return dnnl::algorithm::eltwise_relu;
    if (name == "leaky_relu")
      return *alpha = 0.01f, dnnl::algorithm::eltwise_relu;
    if (name == "elu") return *alpha = 1, dnnl::algorithm::eltwise_elu;
    if (name == "tanh") return dnnl::algorithm::eltwise_tanh;
    if (name == "sigmoid") return dnnl::algorithm::eltwise_logistic;
    if (name == "gelu_tanh") return dnnl::algorithm::eltwise_gelu_tanh;
    if (name == "gelu_erf") return dnnl::algorithm::eltwise_gelu_erf;
    if (name == "swish") return *alpha = 1, dnnl::algorithm::eltwise_swish;
    return dnnl::algorithm::eltwise_mish;
  }

  // Returns a callable running one pass, or an empty one where oneDNN has no
  // implementation on this CPU (bfloat16 eltwise below avx512_core).
  // x and dy hold n elements of float32, or of bfloat16 when `bf16`.
  std::function<void()> Prepare(const std::string& name, bool backward,
                                const void* x, const void* dy, int64_t n,
                                bool bf16 = false) {
    float alpha;
    const dnnl::algorithm alg = Algorithm(name, &alpha);
    dnnl::memory::desc md(
        {n},
        bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32,
        dnnl::memory::format_tag::a);
    auto src = std::make_shared<dnnl::memory>(md, engine, const_cast<void*>(x));
    auto dst = std::make_shared<dnnl::memory>(md, engine);
    auto ddst =
        std::make_shared<dnnl::memory>(md, engine, const_cast<void*>(dy));
    auto dsrc = std::make_shared<dnnl::memory>(md, engine);
    dnnl::eltwise_forward::primitive_desc fpd;
    try {
      fpd = dnnl::eltwise_forward::primitive_desc(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg,
                                      md, alpha, 0),
          engine);
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
      return {};
    }
    if (!backward) {
      auto fwd = std::make_shared<dnnl::eltwise_forward>(fpd);
      return [=, this] {
        fwd->execute(stream, {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, *dst}});
        stream.wait();
      };
    }
    auto bpd = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(alg, md, md, alpha, 0), engine, fpd);
    auto bwd = std::make_shared<dnnl::eltwise_backward>(bpd);
    return [=, this] {
      bwd->execute(stream, {{DNNL_ARG_SRC, *src},
                            {DNNL_ARG_DIFF_DST, *ddst},
                            {DNNL_ARG_DIFF_SRC, *dsrc}});
      stream.wait();
    };
  }

  // a·g(b) composed of two primitives (see the top comment); a, b and dy hold
  // n float32 each.
  std::function<void()> PrepareGated(const std::string& gate, bool backward,
                                     const float* a, const float* b,
                                     const float* dy, int64_t n) {
    float alpha;
    const dnnl::algorithm alg = Algorithm(gate, &alpha);
    dnnl::memory::desc md({n}, dnnl::memory::data_type::f32,
                          dnnl::memory::format_tag::a);
    auto in = [&](const float* p) {
      return std::make_shared<dnnl::memory>(md, engine, const_cast<float*>(p));
    };
    auto out = [&] { return std::make_shared<dnnl::memory>(md, engine); };
    auto ma = in(a), mb = in(b), mdy = in(dy);
    auto g = out(), y = out(), t = out(), db = out();
    auto fpd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, md,
                                    alpha, 0),
        engine);
    auto gate_fwd = std::make_shared<dnnl::eltwise_forward>(fpd);
    auto mul = std::make_shared<dnnl::binary>(dnnl::binary::primitive_desc(
        dnnl::binary::desc(dnnl::algorithm::binary_mul, md, md, md), engine));
    auto multiply = [this, mul](const dnnl::memory& p, const dnnl::memory& q,
                                const dnnl::memory& r) {
      mul->execute(
          stream,
          {{DNNL_ARG_SRC_0, p}, {DNNL_ARG_SRC_1, q}, {DNNL_ARG_DST, r}});
    };
    if (!backward) {
      return [=, this] {
        gate_fwd->execute(stream, {{DNNL_ARG_SRC, *mb}, {DNNL_ARG_DST, *g}});
        multiply(*ma, *g, *y);
        stream.wait();
      };
    }
    // da = dy·g(b) (into y), db = g'(b)·(dy·a).
    auto gate_bwd = std::make_shared<dnnl::eltwise_backward>(
        dnnl::eltwise_backward::primitive_desc(
            dnnl::eltwise_backward::desc(alg, md, md, alpha, 0), engine, fpd));
    return [=, this] {
      gate_fwd->execute(stream, {{DNNL_ARG_SRC, *mb}, {DNNL_ARG_DST, *g}});
      multiply(*mdy, *g, *y);
      multiply(*mdy, *ma, *t);
      gate_bwd->execute(stream, {{DNNL_ARG_SRC, *mb},
                                 {DNNL_ARG_DIFF_DST, *t},
                                 {DNNL_ARG_DIFF_SRC, *db}});
      stream.wait();
    };
  }
};
OneDnn& Dnnl() {
  static OneDnn* d = new OneDnn();
  return *d;
}
#endif

template <typename T>
DType DTypeOf() {
  if constexpr (std::is_same_v<T, BFloat16>) return DType::kBFloat16;
  if constexpr (std::is_same_v<T, Float16>) return DType::kFloat16;
  return sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64;
}

// One benchmark case, set up once: the request (inputs, weights, grad_output
// and output as the direction needs) and reused output buffers.
template <typename T>
class Case {
 public:
  Case(const Variant& v, Direction dir, int64_t n, int workers)
      : dir_(dir), pool_(workers), call_(pool_.ForCall(nullptr)) {
    const DType dtype = DTypeOf<T>();
    const Shape shape = v.shape ? v.shape(n) : Shape{n};
    request_.name = v.activation;
    request_.params = &v.params;
    request_.input = {dtype, Inputs<T>(NumElements(shape), 1).data(), shape};
    request_.compute = &call_;
    if (v.activation == "prelu") {
      request_.weights.emplace("alpha",
                               ConstTensorView{dtype, alpha_.data(), {64}});
    }
    status_ = RunForward(request_, sink_);
    if (!status_.ok()) return;
    // grad_output and output have y's shape.
    Shape y_shape = shape;
    if (v.halves) y_shape.back() /= 2;
    y_.resize(NumElements(y_shape));
    std::memcpy(y_.data(), sink_.Data("output"), y_.size() * sizeof(T));
    dy_view_ = {dtype, Inputs<T>(n, 2).data(), y_shape};
    y_view_ = {dtype, y_.data(), y_shape};
    if (dir != Direction::kForward) request_.grad_output = &dy_view_;
    if (dir == Direction::kBackwardFromOutput) request_.output = &y_view_;
  }
  const absl::Status& status() const { return status_; }
  void Run() {
    benchmark::DoNotOptimize(dir_ == Direction::kForward
                                 ? RunForward(request_, sink_)
                                 : RunBackward(request_, sink_));
  }

 private:
  Direction dir_;
  ComputeContext pool_;
  ComputeContext call_;
  ActivationRequest request_;
  std::vector<T> alpha_ = std::vector<T>(64, T(0.25));
  std::vector<T> y_;
  ConstTensorView dy_view_, y_view_;
  ReusedSink sink_;
  absl::Status status_;
};

template <typename T>
void RunActivation(benchmark::State& state, const Variant& v, Direction dir,
                   int64_t n, int workers) {
  Case<T> ours(v, dir, n, workers);
  if (!ours.status().ok()) {
    state.SkipWithError(std::string(ours.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    ours.Run();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  if (sizeof(T) == 8 && workers == 1 && v.f64_relative) {
    Case<T> theirs(FindVariant(v.f64_relative), dir, n, workers);
    state.counters[std::string("vs_") + v.f64_relative] =
        PairedRatio([&] { ours.Run(); }, [&] { theirs.Run(); });
  }
  if (workers != 1) return;
  auto run_ours = [&] { ours.Run(); };
  if constexpr (sizeof(T) == 2) {
    // 16-bit: the element rate against the same variant's float32 run, and
    // bfloat16 against oneDNN's bfloat16 eltwise, both paired.
    Case<float> f32(v, dir, n, workers);
    state.counters["vs_f32"] = PairedRatio(run_ours, [&] { f32.Run(); });
#ifdef ACTD_HAVE_DNNL
    if (std::is_same_v<T, BFloat16> && v.onednn &&
        dir != Direction::kBackwardFromOutput) {
      auto theirs = Dnnl().Prepare(v.onednn, dir != Direction::kForward,
                                   Inputs<T>(n, 1).data(),
                                   Inputs<T>(n, 2).data(), n, /*bf16=*/true);
      if (theirs) state.counters["vs_onednn"] = PairedRatio(run_ours, theirs);
    }
#endif
    return;
  }
  if (sizeof(T) != 4) return;
  if (v.relative) {
    const Variant& rel = FindVariant(v.relative);
    if (dir != Direction::kBackwardFromOutput ||
        FindActivation(rel.activation)->info().backward_from_output) {
      Case<T> theirs(rel, dir, n, workers);
      state.counters[std::string("vs_") + v.relative] =
          PairedRatio(run_ours, [&] { theirs.Run(); });
    }
  }
#ifdef ACTD_HAVE_DNNL
  if (v.onednn && dir != Direction::kBackwardFromOutput) {
    auto theirs = Dnnl().Prepare(v.onednn, dir != Direction::kForward,
                                 Inputs<float>(n, 1).data(),
                                 Inputs<float>(n, 2).data(), n);
    state.counters["vs_onednn"] = PairedRatio(run_ours, theirs);
  }
  if (v.onednn_gate && dir != Direction::kBackwardFromOutput) {
    // The halves of the [n / 1024, 2048] input as two dense buffers.
    const float* x = Inputs<float>(2 * n, 1).data();
    std::vector<float> a(n), b(n);
    for (int64_t r = 0; r < n / 1024; ++r) {
      std::memcpy(&a[r * 1024], x + r * 2048, 1024 * sizeof(float));
      std::memcpy(&b[r * 1024], x + r * 2048 + 1024, 1024 * sizeof(float));
    }
    auto theirs =
        Dnnl().PrepareGated(v.onednn_gate, dir != Direction::kForward, a.data(),
                            b.data(), Inputs<float>(n, 2).data(), n);
    state.counters["vs_onednn"] = PairedRatio(run_ours, theirs);
  }
#endif
}

// <variant>/<direction>/<dtype>/<elements>/<workers> for every direction the
// variant has.
void RegisterVariant(const Variant& v, const std::vector<int64_t>& sizes,
                     const std::vector<int>& workers) {
  const ActivationInfo& info = FindActivation(v.activation)->info();
  std::vector<Direction> dirs = {Direction::kForward, Direction::kBackward};
  if (info.backward_from_output) dirs.push_back(Direction::kBackwardFromOutput);
  for (Direction dir : dirs) {
    for (const char* dt : {"f32", "f64", "bf16", "f16"}) {
      for (int64_t n : sizes) {
        for (int w : workers) {
          const std::string name = v.name + "/" + DirectionName(dir) + "/" +
                                   dt + "/" + std::to_string(n) + "/" +
                                   std::to_string(w);
          const std::string type = dt;
          benchmark::RegisterBenchmark(name.c_str(), [&v, dir, n, w, type](
                                                         benchmark::State& s) {
            if (type == "f32") {
              RunActivation<float>(s, v, dir, n, w);
            } else if (type == "f64") {
              RunActivation<double>(s, v, dir, n, w);
            } else if (type == "bf16") {
              RunActivation<BFloat16>(s, v, dir, n, w);
            } else {
              RunActivation<Float16>(s, v, dir, n, w);
            }
          })->UseRealTime();
        }
      }
    }
  }
}

// memcpy of the same bytes, by one thread or split in `w` contiguous parts
// over the same pool the kernels use: the machine's memory bandwidth.
void RegisterMemcpy(const std::vector<int64_t>& sizes,
                    const std::vector<int>& workers) {
  for (int64_t n : sizes) {
    for (const char* dt : {"f32", "f64"}) {
      const size_t bytes = n * (std::string(dt) == "f32" ? 4 : 8);
      for (int w : workers) {
        benchmark::RegisterBenchmark(
            ("memcpy/" + std::string(dt) + "/" + std::to_string(n) + "/" +
             std::to_string(w))
                .c_str(),
            [bytes, n, w](benchmark::State& s) {
              std::vector<char> from(bytes, 1), to(bytes);
              ComputeContext pool(w);
              const ComputeContext call = pool.ForCall(nullptr);
              const size_t part = (bytes + w - 1) / w;
              for (auto _ : s) {
                (void)call.ParallelFor(w, 1, [&](int64_t, int64_t b, int64_t) {
                  const size_t at = b * part;
                  std::memcpy(to.data() + at, from.data() + at,
                              std::min(part, bytes - at));
                });
                benchmark::ClobberMemory();
              }
              s.SetItemsProcessed(s.iterations() * n);
            })
            ->UseRealTime();
      }
    }
  }
}

#ifdef ACTD_HAVE_DNNL
// onednn/<variant>/<direction>/<dtype>/<elements>/1: oneDNN's eltwise alone.
void RegisterOneDnn(const std::vector<int64_t>& sizes) {
  for (const Variant& v : AllVariants()) {
    if (!v.onednn) continue;
    for (bool backward : {false, true}) {
      for (int64_t n : sizes) {
        for (bool bf16 : {false, true}) {
          const std::string name =
              "onednn/" + v.name + (backward ? "/backward" : "/forward") +
              (bf16 ? "/bf16/" : "/f32/") + std::to_string(n) + "/1";
          benchmark::RegisterBenchmark(name.c_str(), [&v, backward, n, bf16](
                                                         benchmark::State& s) {
            auto run =
                bf16 ? Dnnl().Prepare(v.onednn, backward,
                                      Inputs<BFloat16>(n, 1).data(),
                                      Inputs<BFloat16>(n, 2).data(), n, true)
                     : Dnnl().Prepare(v.onednn, backward,
                                      Inputs<float>(n, 1).data(),
                                      Inputs<float>(n, 2).data(), n);
            if (!run) {
              s.SkipWithError("oneDNN has no implementation on this CPU");
              return;
            }
            for (auto _ : s) run();
            s.SetItemsProcessed(s.iterations() * n);
          })->UseRealTime();
        }
      }
    }
  }
}
#endif

void RegisterAll() {
  const std::vector<int64_t> sizes = {4096, 1 << 20, 1 << 24};
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> workers = {1};
  if (cores > 1) workers.push_back(cores);
  for (const Variant& v : AllVariants()) RegisterVariant(v, sizes, workers);
  RegisterMemcpy(sizes, workers);
#ifdef ACTD_HAVE_DNNL
  RegisterOneDnn(sizes);
#endif
}

}  // namespace
}  // namespace actd

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--isa=", 0) == 0) {
      if (absl::Status s = actd::SelectIsa(a.substr(6)); !s.ok()) {
        fprintf(stderr, "actbench: %s\n", std::string(s.message()).c_str());
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());
  actd::RegisterAll();
  benchmark::Initialize(&n, args.data());
  benchmark::AddCustomContext("isa", actd::Kernels().isa);
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (ran == 0) {
    // Exit 1 so that scripts do not mistake an empty run for a measurement.
    fprintf(stderr,
            "actbench: no benchmark matches --benchmark_filter; names are "
            "<variant>/<direction>/<dtype>/<elements>/<workers>/real_time, "
            "e.g. relu/forward/f32/1048576/1/real_time (see "
            "--benchmark_list_tests)\n");
    return 1;
  }
  return 0;
}
