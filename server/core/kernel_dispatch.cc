// Picks the kernel table for this CPU: the widest instruction set the build has
// and the CPU (and OS) supports, or the one SelectIsa forced.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/half.h"
#include "server/core/kernel_table.h"

namespace actd {
// One table per build of kernels_isa.cc (see CMakeLists.txt).
inline namespace baseline {
const KernelTable& Table();
}
#ifdef ACTD_HAVE_AVX2
inline namespace avx2 {
const KernelTable& Table();
}
#endif
#ifdef ACTD_HAVE_AVX512
inline namespace avx512 {
const KernelTable& Table();
}
#endif

namespace {

struct Candidate {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)();
};

// Narrowest first.
const Candidate kCandidates[] = {
    {"baseline", &baseline::Table, [] { return true; }},
#ifdef ACTD_HAVE_AVX2
    {"avx2", &avx2::Table,
     [] {
       __builtin_cpu_init();
       return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              CpuHasF16c();
     }},
#endif
#ifdef ACTD_HAVE_AVX512
    {"avx512", &avx512::Table,
     [] {
       __builtin_cpu_init();
       return __builtin_cpu_supports("avx512f") &&
              __builtin_cpu_supports("avx512dq") &&
              __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              CpuHasF16c();
     }},
#endif
};

const KernelTable* Widest() {
  const KernelTable* best = nullptr;
  for (const Candidate& c : kCandidates) {
    if (c.supported()) best = &c.table();
  }
  return best;
}

std::atomic<const KernelTable*>& Active() {
  static std::atomic<const KernelTable*> active{Widest()};
  return active;
}

}  // namespace

const KernelTable& Kernels() {
  return *Active().load(std::memory_order_relaxed);
}

std::vector<std::string> SupportedIsas() {
  std::vector<std::string> names;
  for (const Candidate& c : kCandidates) {
    if (c.supported()) names.push_back(c.name);
  }
  return names;
}

absl::Status SelectIsa(absl::string_view isa) {
  if (isa == "auto") {
    Active() = Widest();
    return SelectConversions("auto");  // 16-bit conversions follow (half.h)
  }
  for (const Candidate& c : kCandidates) {
    if (c.name == isa && c.supported()) {
      Active() = &c.table();
      return SelectConversions(isa);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "isa: \"", isa,
      "\" is not available on this CPU and build (available: auto, ",
      absl::StrJoin(SupportedIsas(), ", "), ")"));
}

}  // namespace actd
