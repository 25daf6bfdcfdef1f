// Request validation shared by the registry and the activation rows: parameter
// resolution against a row's schema, and the checks on axes and weights. Every
// error is INVALID_ARGUMENT and names the request field and the offending
// value.
#ifndef ACTD_SERVER_CORE_VALIDATION_H_
#define ACTD_SERVER_CORE_VALIDATION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/activation.h"

namespace actd {

// Fills in defaults and checks every given parameter's name, kind and range.
absl::StatusOr<ResolvedParams> ResolveParams(const ActivationInfo& info,
                                             const ParamMap* given);

// `axis` (possibly negative) as an index into a shape of `rank`; `field` names
// it in errors.
absl::StatusOr<int> NormalizeAxis(double axis, int rank,
                                  absl::string_view field);

// The weight called `name`, checked to have the input's dtype; nullptr when
// absent. Its shape is the caller's to check (CheckWeightShape).
absl::StatusOr<const ConstTensorView*> FindWeight(const ActivationCall& call,
                                                  absl::string_view name);
// OK when weight `name` has the shape `expected`; else an error that describes
// the expected shape as `expected_text` ("[C] = [3]").
absl::Status CheckWeightShape(absl::string_view name, const ConstTensorView& w,
                              const Shape& expected,
                              absl::string_view expected_text);

// The input viewed as [outer, channels, inner] around `axis`.
struct AxisSplit {
  int64_t outer = 1, channels = 1, inner = 1;
};
AxisSplit SplitAround(const Shape& shape, int axis);

}  // namespace actd

#endif  // ACTD_SERVER_CORE_VALIDATION_H_
