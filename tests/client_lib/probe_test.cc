// Tests of the CLI's probes (client/cli/probe.h): which one-dimensional view
// each kind of ListActivations entry gets, the input layout it sends and
// where each point's value and derivative come back, including the gated
// units (an `axis` param, input halves a and b).
#include "client/cli/probe.h"

#include "gtest/gtest.h"

namespace actd::cli {
namespace {

namespace pb = activation::v1;

pb::ActivationInfo Info(bool elementwise, std::vector<std::string> params) {
  pb::ActivationInfo info;
  info.set_name("x");
  info.set_elementwise(elementwise);
  for (const std::string& name : params) {
    pb::ParamInfo* p = info.add_params();
    p->set_name(name);
    if (name == "pieces") p->mutable_default_value()->set_number(2);
  }
  return info;
}

TEST(Probe, ElementwiseIsThePointsThemselves) {
  const Probe probe = MakeProbe(Info(true, {"alpha"}), {});
  EXPECT_EQ(probe.kind, Probe::Kind::kElementwise);
  EXPECT_TRUE(probe.note.empty());
  const client::HostTensor t =
      ProbeInput(probe, {-1, 2}, pb::DATA_TYPE_FLOAT32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(ProbeSpec(probe, {}).params().count("axis"), 0u);
}

TEST(Probe, GatedUnitsRunAlongTheGateWithAOne) {
  const Probe probe = MakeProbe(Info(false, {"axis", "beta"}), {});
  ASSERT_EQ(probe.kind, Probe::Kind::kGated);
  EXPECT_NE(probe.note.find("a = 1"), std::string::npos);
  const client::HostTensor t =
      ProbeInput(probe, {-1, 2, 3}, pb::DATA_TYPE_FLOAT64);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t.values, (std::vector<double>{1, -1, 1, 2, 1, 3}));
  EXPECT_EQ(ProbeSpec(probe, {}).params().at("axis").number(), -1);
  client::HostTensor grad;
  grad.shape = {3, 2};
  grad.values = {10, 11, 20, 21, 30, 31};  // (dy/da, dy/db) per row
  EXPECT_EQ(ProbeGradient(probe, grad), (std::vector<double>{11, 21, 31}));
}

TEST(Probe, GroupReductionsTakeXAndZeros) {
  pb::ActivationSpec spec;
  (*spec.mutable_params())["pieces"].set_number(3);
  const Probe probe = MakeProbe(Info(false, {"pieces", "axis"}), spec);
  ASSERT_EQ(probe.kind, Probe::Kind::kGroup);
  EXPECT_EQ(probe.pieces, 3);
  const client::HostTensor t =
      ProbeInput(probe, {-1, 2}, pb::DATA_TYPE_FLOAT32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.values, (std::vector<double>{-1, 0, 0, 2, 0, 0}));
  client::HostTensor grad;
  grad.values = {0, 1, 0, 1, 0, 0};
  EXPECT_EQ(ProbeGradient(probe, grad), (std::vector<double>{0, 1}));
}

TEST(Probe, BatchStatisticsUseThePointsAsOneBatch) {
  const Probe probe =
      MakeProbe(Info(false, {"axis", "epsilon", "training"}), {});
  ASSERT_EQ(probe.kind, Probe::Kind::kBatch);
  const client::HostTensor t =
      ProbeInput(probe, {1, 2, 3}, pb::DATA_TYPE_FLOAT32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 1}));
}

TEST(Probe, UnknownShapesSayWhyNot) {
  const Probe probe = MakeProbe(Info(false, {"temperature"}), {});
  EXPECT_EQ(probe.kind, Probe::Kind::kNone);
  EXPECT_FALSE(probe.note.empty());
}

}  // namespace
}  // namespace actd::cli
