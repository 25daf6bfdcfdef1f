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
// leaky_relu, gelu_sigmoid against swish, identity against relu), and gelu's
// float64 one-worker benchmarks `vs_mish` against mish's.
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
      while (v == 0);
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
};

std::vector<Variant> Variants() {
  auto channels64 = [](int64_t n) { return Shape{1, 64, n / 64}; };
  auto rows64 = [](int64_t n) { return Shape{n / 64, 64}; };
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
      {"maxout", "maxout", {}},
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

  // Returns a callable running one pass.
  std::function<void()> Prepare(const std::string& name, bool backward,
                                const float* x, const float* dy, int64_t n) {
    float alpha;
    const dnnl::algorithm alg = Algorithm(name, &alpha);
    dnnl::memory::desc md({n}, dnnl::memory::data_type::f32,
                          dnnl::memory::format_tag::a);
    auto src =
        std::make_shared<dnnl::memory>(md, engine, const_cast<float*>(x));
    auto dst = std::make_shared<dnnl::memory>(md, engine);
    auto ddst =
        std::make_shared<dnnl::memory>(md, engine, const_cast<float*>(dy));
    auto dsrc = std::make_shared<dnnl::memory>(md, engine);
    auto fpd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, md,
                                    alpha, 0),
        engine);
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
};
OneDnn& Dnnl() {
  static OneDnn* d = new OneDnn();
  return *d;
}
#endif

// One benchmark case, set up once: the request (inputs, weights, grad_output
// and output as the direction needs) and reused output buffers.
template <typename T>
class Case {
 public:
  Case(const Variant& v, Direction dir, int64_t n, int workers)
      : dir_(dir), pool_(workers), call_(pool_.ForCall(nullptr)) {
    const DType dtype = sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64;
    const Shape shape = v.shape ? v.shape(n) : Shape{n};
    request_.name = v.activation;
    request_.params = &v.params;
    request_.input = {dtype, Inputs<T>(n, 1).data(), shape};
    request_.compute = &call_;
    if (v.activation == "prelu") {
      request_.weights.emplace("alpha",
                               ConstTensorView{dtype, alpha_.data(), {64}});
    }
    status_ = RunForward(request_, sink_);
    if (!status_.ok()) return;
    // grad_output and output have y's shape (maxout halves the last axis).
    const Shape y_shape = v.activation == "maxout" ? Shape{n / 2} : shape;
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
  if (sizeof(T) != 4 || workers != 1) return;
  auto run_ours = [&] { ours.Run(); };
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
#endif
}

void RegisterAll() {
  const std::vector<int64_t> sizes = {4096, 1 << 20, 1 << 24};
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> workers = {1};
  if (cores > 1) workers.push_back(cores);
  const std::vector<Variant>& variants = AllVariants();
  for (const Variant& v : variants) {
    const ActivationInfo& info = FindActivation(v.activation)->info();
    std::vector<Direction> dirs = {Direction::kForward, Direction::kBackward};
    if (info.backward_from_output)
      dirs.push_back(Direction::kBackwardFromOutput);
    for (Direction dir : dirs) {
      for (const char* dt : {"f32", "f64"}) {
        for (int64_t n : sizes) {
          for (int w : workers) {
            const std::string name = v.name + "/" + DirectionName(dir) + "/" +
                                     dt + "/" + std::to_string(n) + "/" +
                                     std::to_string(w);
            const bool f32 = std::string(dt) == "f32";
            benchmark::RegisterBenchmark(
                name.c_str(),
                [&v, dir, n, w, f32](benchmark::State& s) {
                  f32 ? RunActivation<float>(s, v, dir, n, w)
                      : RunActivation<double>(s, v, dir, n, w);
                })
                ->UseRealTime();
          }
        }
      }
    }
  }
  // memcpy of the same bytes, by one thread or split in `w` contiguous parts
  // over the same pool the kernels use: the machine's memory bandwidth.
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
#ifdef ACTD_HAVE_DNNL
  for (const Variant& v : variants) {
    if (!v.onednn) continue;
    for (bool backward : {false, true}) {
      for (int64_t n : sizes) {
        const std::string name = "onednn/" + v.name +
                                 (backward ? "/backward" : "/forward") +
                                 "/f32/" + std::to_string(n) + "/1";
        benchmark::RegisterBenchmark(name.c_str(), [&v, backward,
                                                    n](benchmark::State& s) {
          auto run =
              Dnnl().Prepare(v.onednn, backward, Inputs<float>(n, 1).data(),
                             Inputs<float>(n, 2).data(), n);
          for (auto _ : s) run();
          s.SetItemsProcessed(s.iterations() * n);
        })->UseRealTime();
      }
    }
  }
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
