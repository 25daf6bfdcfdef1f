// The Open Inference Protocol's mapping (server/service/oip_mapping.h) and its
// JSON form (server/http/oip_json.h), without a server: every model's forward
// and backward equal the core's RunForward / RunBackward byte for byte, in
// both dtypes and both encodings; requested outputs keep their data while they
// are reordered; errors name the field; JSON and binary data parse into the
// request the gRPC path takes and results come back as the extension lays
// them out. Runs under the sanitizers with the rest of the C++ suites.
#include "server/service/oip_mapping.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/http/oip_json.h"

namespace actd::oip {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

// x of shape [4, 6] in [-3, 3].
std::vector<double> Values() {
  std::vector<double> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 3 * std::sin(0.7 * i + 1);
  return v;
}

template <typename T>
std::string Bytes(const std::vector<double>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const T v = static_cast<T>(values[i]);
    std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
  }
  return out;
}

ModelInferRequest Request(const std::string& model, DType dtype, bool raw,
                          bool backward) {
  ModelInferRequest r;
  r.set_model_name(model);
  if (backward)
    (*r.mutable_parameters())["direction"].set_string_param("backward");
  auto* x = r.add_inputs();
  x->set_name("x");
  x->set_datatype(dtype == DType::kFloat32 ? "FP32" : "FP64");
  x->add_shape(4);
  x->add_shape(6);
  for (double v : Values()) {
    if (raw) continue;
    if (dtype == DType::kFloat32) {
      x->mutable_contents()->add_fp32_contents(static_cast<float>(v));
    } else {
      x->mutable_contents()->add_fp64_contents(v);
    }
  }
  if (raw) {
    r.add_raw_input_contents(dtype == DType::kFloat32
                                 ? Bytes<float>(Values())
                                 : Bytes<double>(Values()));
  }
  return r;
}

// The bytes of output i, raw or typed.
std::string OutputBytes(const ModelInferResponse& r, int i) {
  if (r.raw_output_contents_size() > 0) return r.raw_output_contents(i);
  const auto& c = r.outputs(i).contents();
  return c.fp32_contents_size() > 0
             ? std::string(
                   reinterpret_cast<const char*>(c.fp32_contents().data()),
                   c.fp32_contents_size() * 4)
             : std::string(
                   reinterpret_cast<const char*>(c.fp64_contents().data()),
                   c.fp64_contents_size() * 8);
}

// The core's answer, named as the protocol names outputs.
std::map<std::string, std::string> Reference(const std::string& model,
                                             DType dtype, bool backward) {
  const std::string x = dtype == DType::kFloat32 ? Bytes<float>(Values())
                                                 : Bytes<double>(Values());
  ActivationRequest request;
  request.name = model;
  request.input = {dtype, x.data(), {4, 6}};
  BufferSink sink;
  EXPECT_TRUE(
      (backward ? RunBackward(request, sink) : RunForward(request, sink)).ok());
  std::map<std::string, std::string> out;
  for (const auto& b : sink.buffers()) {
    std::string name = b.name;
    if (!backward && name == "output") name = "y";
    if (backward && name != "grad_input") name = "grad_" + name;
    out[name] = std::string(reinterpret_cast<const char*>(b.bytes.data()),
                            b.bytes.size());
  }
  return out;
}

TEST(OipMapping, EveryModelEqualsTheCore) {
  const ServiceOptions options;
  for (const Activation* a : AllActivations()) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (bool raw : {true, false}) {
        for (bool backward : {false, true}) {
          ModelInferResponse response;
          const std::string model = a->info().name;
          ASSERT_TRUE(EvaluateModelInfer(Request(model, dtype, raw, backward),
                                         &response, options,
                                         ComputeContext::Inline())
                          .ok())
              << model;
          const auto want = Reference(model, dtype, backward);
          ASSERT_EQ(response.outputs_size(), static_cast<int>(want.size()))
              << model;
          EXPECT_EQ(response.raw_output_contents_size(),
                    raw ? response.outputs_size() : 0);
          for (int i = 0; i < response.outputs_size(); ++i) {
            const auto& name = response.outputs(i).name();
            ASSERT_TRUE(want.count(name)) << model << " " << name;
            EXPECT_EQ(OutputBytes(response, i), want.at(name))
                << model << " " << name;
          }
          EXPECT_EQ(response.model_version(), "1");
        }
      }
    }
  }
}

TEST(OipMapping, RequestedOutputsAreReorderedWithTheirData) {
  for (bool raw : {true, false}) {
    ModelInferRequest r = Request("dice", DType::kFloat32, raw, false);
    r.add_outputs()->set_name("batch_var");
    r.add_outputs()->set_name("y");
    r.set_id("abc");
    ModelInferResponse response;
    ASSERT_TRUE(EvaluateModelInfer(r, &response, ServiceOptions(),
                                   ComputeContext::Inline())
                    .ok());
    const auto want = Reference("dice", DType::kFloat32, false);
    ASSERT_EQ(response.outputs_size(), 2);
    EXPECT_EQ(response.id(), "abc");
    EXPECT_EQ(response.outputs(0).name(), "batch_var");
    EXPECT_EQ(response.outputs(1).name(), "y");
    EXPECT_EQ(OutputBytes(response, 0), want.at("batch_var"));
    EXPECT_EQ(OutputBytes(response, 1), want.at("y"));
  }
}

absl::Status Evaluate(const ModelInferRequest& r) {
  ModelInferResponse response;
  ServiceOptions options;
  options.max_elements = 100;
  return EvaluateModelInfer(r, &response, options, ComputeContext::Inline());
}

TEST(OipMapping, ErrorsNameTheField) {
  ModelInferRequest r = Request("nope", DType::kFloat32, true, false);
  EXPECT_EQ(Evaluate(r).code(), absl::StatusCode::kNotFound);
  r = Request("relu", DType::kFloat32, true, false);
  r.add_raw_input_contents("x");
  EXPECT_EQ(
      Evaluate(r).message(),
      "raw_input_contents: 2 entries for 1 inputs (give one per input, in "
      "the order of inputs)");
  r = Request("relu", DType::kFloat32, true, false);
  *r.add_inputs() = r.inputs(0);
  r.add_raw_input_contents(r.raw_input_contents(0));
  EXPECT_EQ(Evaluate(r).message(), "inputs[1].name: \"x\" is given twice");
  r = Request("relu", DType::kFloat32, true, false);
  (*r.mutable_parameters())["direction"].set_string_param("up");
  EXPECT_EQ(Evaluate(r).code(), absl::StatusCode::kInvalidArgument);
  r = Request("relu", DType::kFloat32, true, false);
  r.mutable_inputs(0)->set_shape(0, 40);
  EXPECT_EQ(Evaluate(r).code(), absl::StatusCode::kResourceExhausted);
  r = Request("relu", DType::kFloat32, false, false);
  r.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
  EXPECT_EQ(Evaluate(r).message(),
            "inputs[\"x\"].contents.int_contents: set for a FP32 tensor (use "
            "fp32_contents)");
}

TEST(OipJson, BinaryAndJsonInputsBecomeRawContents) {
  const std::string x = Bytes<float>({-1, 0, 2});
  const std::string header =
      R"({"id":"q","parameters":{"direction":"backward","binary_data_output":true},)"
      R"("inputs":[{"name":"x","datatype":"FP32","shape":[3],)"
      R"("parameters":{"binary_data_size":12}},)"
      R"({"name":"grad_output","datatype":"FP32","shape":[3],"data":[[1,2,3]]}]})";
  absl::StatusOr<HttpInferRequest> parsed =
      ParseInferRequest(header + x, header.size(), "leaky_relu", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ModelInferRequest& r = parsed->request;
  EXPECT_TRUE(parsed->all_binary);
  ASSERT_EQ(r.raw_input_contents_size(), 2);
  EXPECT_EQ(r.raw_input_contents(0), x);
  EXPECT_EQ(r.raw_input_contents(1), Bytes<float>({1, 2, 3}));
  ModelInferResponse response;
  ASSERT_TRUE(EvaluateModelInfer(r, &response, ServiceOptions(),
                                 ComputeContext::Inline())
                  .ok());
  const HttpBody body = WriteInferResponse(response, *parsed);
  ASSERT_TRUE(body.header_length.has_value());
  // The slope is alpha for x <= 0.
  EXPECT_EQ(body.body.substr(*body.header_length),
            Bytes<float>({0.01f, 0.02f, 3}));
  const auto json =
      nlohmann::json::parse(body.body.substr(0, *body.header_length));
  EXPECT_EQ(json["id"], "q");
  EXPECT_EQ(json["outputs"][0]["parameters"]["binary_data_size"], 12);
}

TEST(OipJson, MalformedBodiesNameTheField) {
  EXPECT_EQ(
      ParseInferRequest("[1]", std::nullopt, "relu", "").status().message(),
      "body: not a JSON object");
  EXPECT_EQ(ParseInferRequest(R"({"inputs":[{"name":"x","datatype":"FP32",)"
                              R"("shape":[1],"data":[true]}]})",
                              std::nullopt, "relu", "")
                .status()
                .message(),
            "inputs[0].data: element 0 is true, not a number");
  EXPECT_EQ(ParseInferRequest("{}", 10, "relu", "").status().message(),
            "Inference-Header-Content-Length: 10 exceeds the body's 2 bytes");
}

}  // namespace
}  // namespace actd::oip
