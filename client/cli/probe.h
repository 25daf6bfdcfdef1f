// How to show one activation as a curve y(x) and dy/dx, whatever its kind,
// decided from its ListActivations entry (not its name):
//  - element-wise: the points themselves, one tensor of shape [N];
//  - gated units (not element-wise, an `axis` param; input halves a and b,
//    y = a ⊙ g(b)): rows (a, b) = (1, x), so y = g(x), and dy/db;
//  - group reductions (a `pieces` param, e.g. Maxout): rows (x, 0, ..., 0) of
//    `pieces` entries, so y = max(x, 0, ...), and dy/dx of the first entry;
//  - batch-normalising units (a `training` flag, e.g. Dice): the points as
//    one batch of a single channel, so the statistics are the points'.
// Compare and plot use the same probe, so a table row is always the value
// at its x.
#ifndef ACTD_CLIENT_CLI_PROBE_H_
#define ACTD_CLIENT_CLI_PROBE_H_

#include <string>
#include <vector>

#include "activation/v1/activation.pb.h"
#include "client/lib/tensor.h"

namespace actd::cli {

struct Probe {
  enum class Kind { kElementwise, kGated, kGroup, kBatch, kNone };
  Kind kind = Kind::kElementwise;
  int pieces = 1;    // entries per row (kGroup), 2 for kGated
  std::string note;  // one line on what the curve shows; empty if plain
};

// The probe of `info` under the params of `spec`; kNone with `note` the
// reason when no one-dimensional view is known.
Probe MakeProbe(const activation::v1::ActivationInfo& info,
                const activation::v1::ActivationSpec& spec);

// `spec` with the params the probe's layout needs (axis = -1).
activation::v1::ActivationSpec ProbeSpec(
    const Probe& probe, const activation::v1::ActivationSpec& spec);

// The input tensor holding the points `x` in the probe's layout.
client::HostTensor ProbeInput(const Probe& probe, const std::vector<double>& x,
                              activation::v1::DataType dtype);

// One value per point from a forward output / a backward grad_input.
std::vector<double> ProbeOutput(const Probe& probe,
                                const client::HostTensor& output);
std::vector<double> ProbeGradient(const Probe& probe,
                                  const client::HostTensor& grad_input);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_PROBE_H_
