// The probes of probe.h: input layouts and where each point's value lands.
#include "client/cli/probe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace actd::cli {

namespace pb = activation::v1;

namespace {

const pb::ParamInfo* FindParam(const pb::ActivationInfo& info,
                               const std::string& name) {
  for (const pb::ParamInfo& p : info.params()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

}  // namespace

Probe MakeProbe(const pb::ActivationInfo& info,
                const pb::ActivationSpec& spec) {
  Probe probe;
  if (info.elementwise()) return probe;
  if (const pb::ParamInfo* pieces = FindParam(info, "pieces")) {
    probe.kind = Probe::Kind::kGroup;
    auto it = spec.params().find("pieces");
    const double k = it != spec.params().end()
                         ? it->second.number()
                         : pieces->default_value().number();
    probe.pieces = std::clamp(static_cast<int>(k), 1, 64);
    probe.note = absl::StrCat("one unit whose ", probe.pieces,
                              " entries are (x", probe.pieces > 1 ? ", 0" : "",
                              probe.pieces > 2 ? ", ..." : "", "); f' is d/dx");
  } else if (FindParam(info, "training") != nullptr) {
    probe.kind = Probe::Kind::kBatch;
    probe.note =
        "the points as one batch of a single channel (its mean and "
        "variance); f' includes the statistics' dependence on x";
  } else if (FindParam(info, "axis") != nullptr) {
    probe.kind = Probe::Kind::kGated;
    probe.pieces = 2;
    probe.note =
        "along the gate input b with a = 1 (y = a ⊙ g(b)); f' is dy/db";
  } else {
    probe.kind = Probe::Kind::kNone;
    probe.note = "not element-wise, and no one-dimensional view is known";
  }
  return probe;
}

pb::ActivationSpec ProbeSpec(const Probe& probe,
                             const pb::ActivationSpec& spec) {
  pb::ActivationSpec out = spec;
  if (probe.kind != Probe::Kind::kElementwise) {
    (*out.mutable_params())["axis"].set_number(-1);
  }
  return out;
}

client::HostTensor ProbeInput(const Probe& probe, const std::vector<double>& x,
                              pb::DataType dtype) {
  client::HostTensor t;
  t.dtype = dtype;
  const int64_t n = static_cast<int64_t>(x.size());
  switch (probe.kind) {
    case Probe::Kind::kGated:
      t.shape = {n, 2};
      for (double v : x) t.values.insert(t.values.end(), {1.0, v});
      break;
    case Probe::Kind::kGroup:
      t.shape = {n, probe.pieces};
      for (double v : x) {
        t.values.push_back(v);
        t.values.insert(t.values.end(), probe.pieces - 1, 0.0);
      }
      break;
    case Probe::Kind::kBatch:
      t.shape = {n, 1};
      t.values = x;
      break;
    default:
      t.shape = {n};
      t.values = x;
  }
  return t;
}

std::vector<double> ProbeOutput(const Probe&,
                                const client::HostTensor& output) {
  // Every probe leaves one output value per point, in order.
  return output.values;
}

std::vector<double> ProbeGradient(const Probe& probe,
                                  const client::HostTensor& grad_input) {
  if (probe.kind != Probe::Kind::kGated && probe.kind != Probe::Kind::kGroup) {
    return grad_input.values;
  }
  // Gated: dy/db is the second entry of each row; group: the first.
  const size_t stride = probe.pieces;
  const size_t column = probe.kind == Probe::Kind::kGated ? 1 : 0;
  std::vector<double> out;
  for (size_t i = column; i < grad_input.values.size(); i += stride) {
    out.push_back(grad_input.values[i]);
  }
  return out;
}

}  // namespace actd::cli
