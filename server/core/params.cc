// Parameter schemas: defaults, kinds and ranges, and validation helpers for
// weights and axes.
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/validation.h"

namespace actd {
namespace {

absl::string_view KindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::kNumber:
      return "number";
    case ParamKind::kText:
      return "text";
    case ParamKind::kFlag:
      return "flag";
  }
  return "?";
}

ParamKind KindOf(const ParamValue& v) {
  if (std::holds_alternative<double>(v)) return ParamKind::kNumber;
  if (std::holds_alternative<std::string>(v)) return ParamKind::kText;
  return ParamKind::kFlag;
}

std::string ValueText(const ParamValue& v) {
  if (const double* d = std::get_if<double>(&v)) return absl::StrCat(*d);
  if (const std::string* s = std::get_if<std::string>(&v)) {
    return absl::StrCat("\"", *s, "\"");
  }
  return std::get<bool>(v) ? "true" : "false";
}

}  // namespace

std::string ParamInfo::AllowedText() const {
  switch (kind) {
    case ParamKind::kNumber:
      return absl::StrCat(integer ? "integer in " : "", "[", min, ", ", max,
                          "]");
    case ParamKind::kText:
      return absl::StrJoin(choices, "|");
    case ParamKind::kFlag:
      return "true|false";
  }
  return "";
}

double ResolvedParams::Number(absl::string_view name) const {
  return std::get<double>(values_.find(name)->second);
}
const std::string& ResolvedParams::Text(absl::string_view name) const {
  return std::get<std::string>(values_.find(name)->second);
}
bool ResolvedParams::Flag(absl::string_view name) const {
  return std::get<bool>(values_.find(name)->second);
}
void ResolvedParams::Set(std::string name, ParamValue value) {
  values_[std::move(name)] = std::move(value);
}

namespace {

// The schema entry `name` refers to, by its name or one of its aliases; null
// when none.
const ParamInfo* SchemaOf(const ActivationInfo& info, absl::string_view name) {
  for (const ParamInfo& p : info.params) {
    if (p.name == name) return &p;
    for (const std::string& alias : p.aliases) {
      if (alias == name) return &p;
    }
  }
  return nullptr;
}

absl::Status UnknownParam(const ActivationInfo& info, absl::string_view field,
                          absl::string_view name) {
  std::vector<std::string> known;
  for (const ParamInfo& p : info.params) known.push_back(p.name);
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": unknown parameter \"", name, "\" for ", info.name,
      known.empty()
          ? " (it takes no parameters)"
          : absl::StrCat(" (known: ", absl::StrJoin(known, ", "), ")")));
}

// Checks `value` against its schema entry: kind, and range or choices.
absl::Status CheckValue(const ActivationInfo& info, const ParamInfo& schema,
                        absl::string_view field, const ParamValue& value) {
  if (KindOf(value) != schema.kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": expected a ", KindName(schema.kind), ", got the ",
        KindName(KindOf(value)), " ", ValueText(value)));
  }
  bool ok = true;
  if (const double* d = std::get_if<double>(&value)) {
    ok = std::isfinite(*d) && *d >= schema.min && *d <= schema.max &&
         (!schema.integer || std::floor(*d) == *d);
  } else if (const std::string* s = std::get_if<std::string>(&value)) {
    ok = std::find(schema.choices.begin(), schema.choices.end(), *s) !=
         schema.choices.end();
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", ValueText(value), " is out of range for ",
                     info.name, " (allowed: ", schema.AllowedText(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResolvedParams> ResolveParams(const ActivationInfo& info,
                                             const ParamMap* given) {
  ResolvedParams resolved;
  for (const ParamInfo& p : info.params) resolved.Set(p.name, p.default_value);
  if (given == nullptr) return resolved;
  for (const auto& [name, value] : *given) {
    const std::string field = absl::StrCat("activation.params[\"", name, "\"]");
    const ParamInfo* schema = SchemaOf(info, name);
    if (schema == nullptr) return UnknownParam(info, field, name);
    if (schema->name != name && given->count(schema->name) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", name, "\" is another name for \"", schema->name,
          "\", which is also given; give one of them"));
    }
    if (absl::Status s = CheckValue(info, *schema, field, value); !s.ok()) {
      return s;
    }
    resolved.Set(schema->name, value);
  }
  return resolved;
}

absl::StatusOr<int> NormalizeAxis(double axis, int rank,
                                  absl::string_view field) {
  const int64_t a = static_cast<int64_t>(axis);
  if (a < -rank || a >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": axis ", a, " is out of range for an input of rank ", rank,
        rank == 0 ? " (a scalar has no axes)"
                  : absl::StrCat(" (allowed: ", -rank, " to ", rank - 1, ")")));
  }
  return static_cast<int>(a < 0 ? a + rank : a);
}

absl::StatusOr<const ConstTensorView*> FindWeight(const ActivationCall& call,
                                                  absl::string_view name) {
  auto it = call.weights.find(name);
  if (it == call.weights.end()) return nullptr;
  if (it->second.dtype != call.input.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation.weights[\"", name,
        "\"].dtype: ", DTypeName(it->second.dtype),
        " does not match input.dtype ", DTypeName(call.input.dtype)));
  }
  return &it->second;
}

absl::Status CheckWeightShape(absl::string_view name, const ConstTensorView& w,
                              const Shape& expected,
                              absl::string_view expected_text) {
  if (w.shape == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "activation.weights[\"", name, "\"].shape: ", ShapeToString(w.shape),
      " does not match the expected ", expected_text));
}

AxisSplit SplitAround(const Shape& shape, int axis) {
  AxisSplit s;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (i < axis) s.outer *= shape[i];
    if (i == axis) s.channels = shape[i];
    if (i > axis) s.inner *= shape[i];
  }
  return s;
}

}  // namespace actd
