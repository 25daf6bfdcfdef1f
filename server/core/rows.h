// What an activation file (activations/<name>.cc) uses to describe and
// register its row: the registration macro, the shared row kinds (element-wise
// and gated, both running kernels of the table) and small helpers for writing
// a description. Internal to the core.
#ifndef ACTD_SERVER_CORE_ROWS_H_
#define ACTD_SERVER_CORE_ROWS_H_

#include <limits>
#include <string>
#include <vector>

#include "server/core/activation.h"
#include "server/core/kernel_table.h"

namespace actd {

// Defines the row of activation `name` (an A entry of activations/list.h) as
// the Activation* `row`, built once on first use. registry.cc collects the rows
// in the list's order. Use at namespace scope inside namespace actd.
#define ACTD_REGISTER_ACTIVATION(name, row) \
  const Activation* name##Activation() {    \
    static const Activation* const a = row; \
    return a;                               \
  }

// How a row maps its parameters onto a kernel of the table.
struct KernelChoice {
  // Picks the kernel and fills its arguments from the resolved parameters.
  KernelId (*choose)(const ResolvedParams&, KernelArgs*);
  const char* learnable = nullptr;  // the learnable scalar's name, if any
  // Whether the kernel's from-output form holds for these arguments (null =
  // always).
  bool (*from_output_valid)(const KernelArgs&) = nullptr;
};

// An element-wise row (elementwise_row.cc): y = f(x) by the chosen kernel,
// parallel over chunks on the call's compute pool. Owned by the caller (rows
// live for the program).
Activation* ElementwiseRow(ActivationInfo info, KernelChoice choice);

// A gated row (gated_row.cc): the input splits along params["axis"] (added to
// `info`, default -1) into halves a and b, whose length must be even; y =
// a·g(b), g the chosen kernel's function. The properties describe g (y at
// a = 1).
Activation* GatedRow(ActivationInfo info, KernelChoice choice);

// Calls f(float{}) or f(double{}) for the dtype.
template <typename F>
void WithType(DType dtype, F&& f) {
  if (dtype == DType::kFloat32) {
    f(float{});
  } else {
    f(double{});
  }
}

// Elements per chunk of a parallel element-wise loop: 32 Ki elements (128 KiB
// of float32 in and as much out) stay in L2 while a thread works on them, and
// are many packets long. A multiple of every packet width.
inline constexpr int64_t kGrain = int64_t{1} << 15;

// The six properties, with a kink at 0 when not smooth and no learnable
// parameter (callers adjust the rest).
Properties MakeProperties(bool monotonic, bool smooth, bool zero_centered,
                          double lo, double hi, bool sat_left, bool sat_right,
                          CostClass cost);

inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline ParamInfo NumberParam(std::string name, double default_value, double min,
                             double max, std::string meaning,
                             bool learnable = false) {
  ParamInfo p;
  p.name = std::move(name);
  p.kind = ParamKind::kNumber;
  p.default_value = default_value;
  p.min = min;
  p.max = max;
  p.meaning = std::move(meaning);
  p.learnable = learnable;
  return p;
}
inline ParamInfo IntegerParam(std::string name, int default_value, int min,
                              int max, std::string meaning) {
  ParamInfo p =
      NumberParam(std::move(name), default_value, min, max, std::move(meaning));
  p.integer = true;
  return p;
}
inline ParamInfo TextParam(std::string name, std::string default_value,
                           std::vector<std::string> choices,
                           std::string meaning) {
  ParamInfo p;
  p.name = std::move(name);
  p.kind = ParamKind::kText;
  p.default_value = std::move(default_value);
  p.choices = std::move(choices);
  p.meaning = std::move(meaning);
  return p;
}
inline ParamInfo FlagParam(std::string name, bool default_value,
                           std::string meaning) {
  ParamInfo p;
  p.name = std::move(name);
  p.kind = ParamKind::kFlag;
  p.default_value = default_value;
  p.meaning = std::move(meaning);
  return p;
}

}  // namespace actd

#endif  // ACTD_SERVER_CORE_ROWS_H_
