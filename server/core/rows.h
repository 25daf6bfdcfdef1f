// The registry's rows, one function per file that defines them, and small
// helpers for writing a row's description. Internal to the core.
#ifndef ACTD_SERVER_CORE_ROWS_H_
#define ACTD_SERVER_CORE_ROWS_H_

#include <limits>
#include <string>
#include <vector>

#include "server/core/activation.h"

namespace actd {

// activations.cc: the element-wise rows and PReLU, in the spec's order.
std::vector<const Activation*> ElementwiseActivations();
// maxout.cc
const Activation* MaxoutActivation();
// dice.cc
const Activation* DiceActivation();

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
