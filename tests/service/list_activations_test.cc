// ListActivations and GetServerInfo through the gRPC stub: the 13 activations
// in the spec's order with their descriptions, parameter schemas, weights and
// properties, and the server's limits as configured. Also the bearer-token
// check that guards every RPC when ServiceOptions::auth_token is set.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/service/harness.h"

namespace actd::service_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class ListActivations : public ::testing::Test {
 protected:
  void SetUp() override {
    const grpc::Status status = server_.ListActivations(&response_);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const pb::ActivationInfo& info : response_.activations()) {
      by_name_[info.name()] = &info;
    }
  }

  const pb::ActivationInfo& Info(const std::string& name) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      ADD_FAILURE() << "no activation " << name;
      static const pb::ActivationInfo empty;
      return empty;
    }
    return *it->second;
  }

  // The parameter `name` of `activation`, or an empty one (and a failure).
  const pb::ParamInfo& Param(const std::string& activation,
                             const std::string& name) {
    for (const pb::ParamInfo& p : Info(activation).params()) {
      if (p.name() == name) return p;
    }
    ADD_FAILURE() << activation << " has no parameter " << name;
    static const pb::ParamInfo empty;
    return empty;
  }

  std::vector<std::string> WeightNames(const std::string& activation) {
    std::vector<std::string> names;
    for (const pb::WeightInfo& w : Info(activation).weights()) {
      names.push_back(w.name());
    }
    return names;
  }

  InProcessServer server_;
  pb::ListActivationsResponse response_;
  std::map<std::string, const pb::ActivationInfo*> by_name_;
};

// Every row of the registry, in its order (activations/list.h): the survey's
// twelve in the spec's order, identity last.
TEST_F(ListActivations, EveryActivationInTheSpecOrder) {
  std::vector<std::string> names;
  for (const pb::ActivationInfo& info : response_.activations()) {
    names.push_back(info.name());
  }
  EXPECT_EQ(names, RegistryNames());
  const std::vector<std::string> survey = {
      "sigmoid", "tanh", "relu",  "elu",  "selu",   "leaky_relu",
      "prelu",   "gelu", "swish", "mish", "maxout", "dice"};
  std::vector<std::string> in_order;
  for (const std::string& name : names) {
    if (std::find(survey.begin(), survey.end(), name) != survey.end()) {
      in_order.push_back(name);
    }
  }
  EXPECT_EQ(in_order, survey);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "identity");
}

TEST_F(ListActivations, EveryActivationIsDescribed) {
  for (const pb::ActivationInfo& info : response_.activations()) {
    SCOPED_TRACE(info.name());
    EXPECT_FALSE(info.summary().empty());
    EXPECT_FALSE(info.formula().empty());
    EXPECT_FALSE(info.derivative().empty());
    EXPECT_FALSE(info.reference().empty());
    EXPECT_NE(info.properties().cost(), pb::COST_CLASS_UNSPECIFIED);
    EXPECT_LE(info.properties().range_min(), info.properties().range_max());
    for (const pb::ParamInfo& p : info.params()) {
      SCOPED_TRACE(p.name());
      EXPECT_NE(p.kind(), pb::ParamInfo::KIND_UNSPECIFIED);
      EXPECT_NE(p.default_value().value_case(), pb::Param::VALUE_NOT_SET);
      EXPECT_FALSE(p.allowed().empty());
      EXPECT_FALSE(p.meaning().empty());
    }
    for (const pb::WeightInfo& w : info.weights()) {
      SCOPED_TRACE(w.name());
      EXPECT_FALSE(w.shape().empty());
      EXPECT_FALSE(w.default_value().empty());
      EXPECT_FALSE(w.meaning().empty());
    }
  }
}

TEST_F(ListActivations, ParametersHaveTheirDefaults) {
  for (const char* name :
       {"sigmoid", "tanh", "relu", "selu", "mish", "identity"}) {
    EXPECT_EQ(Info(name).params_size(), 0) << name;
    EXPECT_EQ(Info(name).weights_size(), 0) << name;
  }
  EXPECT_EQ(Info("elu").params_size(), 1);
  EXPECT_EQ(Param("elu", "alpha").kind(), pb::ParamInfo::KIND_NUMBER);
  EXPECT_EQ(Param("elu", "alpha").default_value().number(), 1.0);
  EXPECT_TRUE(Param("elu", "alpha").learnable());

  EXPECT_EQ(Param("leaky_relu", "alpha").default_value().number(), 0.01);
  EXPECT_FALSE(Param("leaky_relu", "alpha").learnable());

  EXPECT_EQ(Param("prelu", "channel_axis").default_value().number(), 1);
  EXPECT_EQ(WeightNames("prelu"), std::vector<std::string>{"alpha"});
  EXPECT_TRUE(Info("prelu").weights(0).learnable());

  EXPECT_EQ(Param("gelu", "approximate").kind(), pb::ParamInfo::KIND_TEXT);
  EXPECT_EQ(Param("gelu", "approximate").default_value().text(), "none");
  EXPECT_EQ(Param("gelu", "approximate").allowed(), "none|tanh|sigmoid");

  EXPECT_EQ(Param("swish", "beta").default_value().number(), 1.0);
  EXPECT_TRUE(Param("swish", "beta").learnable());

  EXPECT_EQ(Param("maxout", "pieces").default_value().number(), 2);
  EXPECT_EQ(Param("maxout", "axis").default_value().number(), -1);
  EXPECT_EQ(WeightNames("maxout"),
            (std::vector<std::string>{"weight", "bias"}));

  EXPECT_EQ(Param("dice", "axis").default_value().number(), -1);
  EXPECT_EQ(Param("dice", "epsilon").default_value().number(), 1e-8);
  EXPECT_EQ(Param("dice", "training").kind(), pb::ParamInfo::KIND_FLAG);
  EXPECT_TRUE(Param("dice", "training").default_value().flag());
  EXPECT_EQ(WeightNames("dice"),
            (std::vector<std::string>{"alpha", "running_mean", "running_var"}));
}

TEST_F(ListActivations, PropertiesMatchTheMaths) {
  const pb::Properties& relu = Info("relu").properties();
  EXPECT_FALSE(relu.smooth());
  EXPECT_EQ(relu.kinks_size(), 1);
  EXPECT_TRUE(relu.monotonic());
  EXPECT_EQ(relu.range_min(), 0);
  EXPECT_EQ(relu.range_max(), kInf);
  EXPECT_TRUE(relu.saturates_left());
  EXPECT_FALSE(relu.saturates_right());
  EXPECT_EQ(relu.cost(), pb::COST_CLASS_NO_TRANSCENDENTAL);

  const pb::Properties& selu = Info("selu").properties();
  EXPECT_TRUE(selu.self_normalizing());
  EXPECT_NEAR(selu.range_min(), -1.0507009873554804934 * 1.6732632423543772848,
              1e-12);
  for (const pb::ActivationInfo& info : response_.activations()) {
    if (info.name() != "selu") {
      EXPECT_FALSE(info.properties().self_normalizing()) << info.name();
    }
  }

  for (const char* name : {"gelu", "swish", "mish", "dice"}) {
    EXPECT_FALSE(Info(name).properties().monotonic()) << name;
  }
  for (const char* name :
       {"sigmoid", "tanh", "relu", "elu", "leaky_relu", "identity"}) {
    EXPECT_TRUE(Info(name).properties().monotonic()) << name;
  }
  for (const char* name : {"sigmoid", "tanh", "gelu", "swish", "mish"}) {
    EXPECT_TRUE(Info(name).properties().smooth()) << name;
    EXPECT_EQ(Info(name).properties().kinks_size(), 0) << name;
  }

  const pb::Properties& sigmoid = Info("sigmoid").properties();
  EXPECT_EQ(sigmoid.range_min(), 0);
  EXPECT_EQ(sigmoid.range_max(), 1);
  EXPECT_FALSE(sigmoid.zero_centered());
  EXPECT_TRUE(sigmoid.saturates_left());
  EXPECT_TRUE(sigmoid.saturates_right());
  EXPECT_EQ(sigmoid.cost(), pb::COST_CLASS_EXP);

  const pb::Properties& tanh = Info("tanh").properties();
  EXPECT_EQ(tanh.range_min(), -1);
  EXPECT_EQ(tanh.range_max(), 1);
  EXPECT_TRUE(tanh.zero_centered());

  EXPECT_EQ(Info("gelu").properties().cost(), pb::COST_CLASS_ERF);
  EXPECT_NEAR(Info("gelu").properties().range_min(), -0.16997120747990606,
              1e-9);
  EXPECT_NEAR(Info("swish").properties().range_min(), -0.27846454276107380,
              1e-9);
  EXPECT_NEAR(Info("mish").properties().range_min(), -0.30884341301725040,
              1e-9);

  EXPECT_FALSE(Info("identity").properties().nonlinear());
  for (const pb::ActivationInfo& info : response_.activations()) {
    if (info.name() != "identity") {
      EXPECT_TRUE(info.properties().nonlinear()) << info.name();
    }
  }
  EXPECT_EQ(Info("prelu").properties().learnable_parameter_count(), 1);
  EXPECT_EQ(Info("maxout").properties().learnable_parameter_count(), -1);
  EXPECT_EQ(Info("relu").properties().learnable_parameter_count(), 0);
}

TEST_F(ListActivations, ElementwiseAndBackwardFromOutputFlags) {
  for (const pb::ActivationInfo& info : response_.activations()) {
    const bool reduces = info.name() == "maxout" || info.name() == "dice";
    const bool gated = info.name() == "glu" || info.name() == "swiglu" ||
                       info.name() == "geglu" || info.name() == "reglu";
    EXPECT_EQ(info.elementwise(), !reduces && !gated) << info.name();
    EXPECT_EQ(info.gated(), gated) << info.name();
  }
  for (const char* name : {"sigmoid", "tanh", "relu", "identity"}) {
    EXPECT_TRUE(Info(name).backward_from_output()) << name;
  }
  for (const char* name : {"gelu", "mish", "maxout", "dice"}) {
    EXPECT_FALSE(Info(name).backward_from_output()) << name;
  }
}

// The range each activation claims holds for its Forward on a grid, and a
// claimed monotonic activation does not decrease on it (while each
// non-monotonic element-wise one does somewhere).
TEST_F(ListActivations, RangeAndMonotonicityHoldOnAGrid) {
  Values grid;
  for (int i = -64; i <= 64; ++i) grid.push_back(i / 8.0);
  for (const pb::ActivationInfo& info : response_.activations()) {
    if (!info.elementwise()) continue;
    const std::string& name = info.name();
    SCOPED_TRACE(name);
    pb::ForwardRequest request;
    request.mutable_activation()->set_name(name);
    *request.mutable_input() =
        MakeTensor(grid, {static_cast<int64_t>(grid.size())},
                   pb::DATA_TYPE_FLOAT64, Encoding::kTyped);
    pb::ForwardResponse response;
    const grpc::Status status = server_.Forward(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const Values y = ValuesOf(response.output());
    ASSERT_EQ(y.size(), grid.size());
    const pb::Properties& p = Info(name).properties();
    bool decreases = false;
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_GE(y[i], p.range_min()) << "x = " << grid[i];
      EXPECT_LE(y[i], p.range_max()) << "x = " << grid[i];
      if (i > 0 && y[i] < y[i - 1]) decreases = true;
    }
    EXPECT_EQ(decreases, !p.monotonic());
  }
}

TEST(ServerInfo, ReportsTheConfiguredLimits) {
  ServiceOptions options;
  options.max_elements = 12345;
  options.max_batch_items = 17;
  options.max_message_bytes = int64_t{3} << 20;
  options.max_inflight = 5;
  options.compute_threads = 3;
  options.version = "9.8.7-test";
  options.isa = "test-isa";
  InProcessServer server(options);
  pb::ServerInfo info;
  const grpc::Status status = server.GetServerInfo(&info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.version(), "9.8.7-test");
  EXPECT_EQ(info.isa(), "test-isa");
  EXPECT_EQ(info.compute_threads(), 3);
  EXPECT_EQ(info.max_message_bytes(), int64_t{3} << 20);
  EXPECT_EQ(info.max_elements(), 12345);
  EXPECT_EQ(info.max_batch_items(), 17);
  EXPECT_EQ(info.max_inflight(), 5);
}

TEST(ServerInfo, ReportsTheDefaults) {
  InProcessServer server;
  pb::ServerInfo info;
  const grpc::Status status = server.GetServerInfo(&info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const ServiceOptions defaults;
  EXPECT_EQ(info.max_elements(), defaults.max_elements);
  EXPECT_EQ(info.max_batch_items(), defaults.max_batch_items);
  EXPECT_EQ(info.max_message_bytes(), defaults.max_message_bytes);
  EXPECT_EQ(info.max_inflight(), defaults.max_inflight);
}

// With a token configured, a call without it is UNAUTHENTICATED, a wrong one
// too, and the right one passes.
TEST(Authorization, BearerTokenGuardsEveryRpc) {
  ServiceOptions options;
  options.auth_token = "s3cret-token";
  InProcessServer server(options);

  pb::ServerInfo info;
  ExpectError(server.GetServerInfo(&info), grpc::StatusCode::UNAUTHENTICATED,
              {"authorization"});
  pb::ListActivationsResponse list;
  ExpectError(server.ListActivations(&list), grpc::StatusCode::UNAUTHENTICATED,
              {"authorization"});

  pb::ForwardRequest request;
  request.mutable_activation()->set_name("relu");
  *request.mutable_input() =
      MakeTensor({-1, 2}, {2}, pb::DATA_TYPE_FLOAT32, Encoding::kTyped);
  {
    auto context = NewContext();
    context->AddMetadata("authorization", "Bearer wrong-token");
    pb::ForwardResponse response;
    ExpectError(server.stub().Forward(context.get(), request, &response),
                grpc::StatusCode::UNAUTHENTICATED,
                {"authorization", "not valid"});
  }
  {
    auto context = NewContext();
    context->AddMetadata("authorization", "Bearer s3cret-token");
    pb::ForwardResponse response;
    const grpc::Status status =
        server.stub().Forward(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectTensor(response.output(), pb::DATA_TYPE_FLOAT32, Encoding::kTyped,
                 {2}, {0, 2}, "output");
  }
}

}  // namespace
}  // namespace actd::service_test
