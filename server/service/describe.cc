// ListActivations: the registry rows rendered as ActivationInfo messages.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/activation.h"
#include "server/service/evaluate.h"

namespace actd {
namespace {

namespace pb = activation::v1;

void SetParam(const ParamValue& v, pb::Param* out) {
  if (const double* d = std::get_if<double>(&v)) {
    out->set_number(*d);
  } else if (const std::string* s = std::get_if<std::string>(&v)) {
    out->set_text(*s);
  } else {
    out->set_flag(std::get<bool>(v));
  }
}

pb::CostClass Cost(CostClass c) {
  switch (c) {
    case CostClass::kNoTranscendental:
      return pb::COST_CLASS_NO_TRANSCENDENTAL;
    case CostClass::kExp:
      return pb::COST_CLASS_EXP;
    case CostClass::kErf:
      return pb::COST_CLASS_ERF;
    case CostClass::kMatmul:
      return pb::COST_CLASS_MATMUL;
  }
  return pb::COST_CLASS_UNSPECIFIED;
}

pb::ParamInfo::Kind Kind(ParamKind k) {
  switch (k) {
    case ParamKind::kNumber:
      return pb::ParamInfo::KIND_NUMBER;
    case ParamKind::kText:
      return pb::ParamInfo::KIND_TEXT;
    case ParamKind::kFlag:
      return pb::ParamInfo::KIND_FLAG;
  }
  return pb::ParamInfo::KIND_UNSPECIFIED;
}

std::string KinkText(double x) { return absl::StrCat("x = ", x); }

}  // namespace

void DescribeActivations(pb::ListActivationsResponse* response) {
  for (const Activation* a : AllActivations()) {
    const ActivationInfo& info = a->info();
    pb::ActivationInfo* out = response->add_activations();
    out->set_name(info.name);
    out->set_summary(info.summary);
    out->set_formula(info.formula);
    out->set_derivative(info.derivative);
    out->set_reference(info.reference);
    out->set_backward_from_output(info.backward_from_output);
    out->set_elementwise(info.elementwise);
    out->set_gated(info.gated);
    for (const ParamInfo& p : info.params) {
      pb::ParamInfo* po = out->add_params();
      po->set_name(p.name);
      po->set_kind(Kind(p.kind));
      SetParam(p.default_value, po->mutable_default_value());
      po->set_allowed(p.AllowedText());
      po->set_meaning(p.meaning);
      po->set_learnable(p.learnable);
    }
    for (const WeightInfo& w : info.weights) {
      pb::WeightInfo* wo = out->add_weights();
      wo->set_name(w.name);
      wo->set_shape(w.shape);
      wo->set_default_value(w.default_value);
      wo->set_meaning(w.meaning);
      wo->set_learnable(w.learnable);
    }
    const Properties& p = info.properties;
    pb::Properties* po = out->mutable_properties();
    po->set_nonlinear(p.nonlinear);
    po->set_monotonic(p.monotonic);
    po->set_smooth(p.smooth);
    for (double k : p.kinks) po->add_kinks(KinkText(k));
    po->set_zero_centered(p.zero_centered);
    po->set_range_min(p.range_min);
    po->set_range_max(p.range_max);
    po->set_saturates_left(p.saturates_left);
    po->set_saturates_right(p.saturates_right);
    po->set_self_normalizing(p.self_normalizing);
    po->set_learnable_parameters(p.learnable_parameters);
    po->set_learnable_parameter_count(p.learnable_parameter_count);
    po->set_cost(Cost(p.cost));
  }
}

}  // namespace actd
