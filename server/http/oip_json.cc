// JSON <-> ModelInferRequest / ModelInferResponse. JSON numbers are parsed as
// float64 and rounded once to the tensor's datatype; results are written as
// the shortest decimal that reads back to the same float64, so an FP32 or FP64
// value survives the round trip bit for bit (NaN and infinities have no JSON
// form and come out as null: use binary data for them).
#include "server/http/oip_json.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/service/oip_mapping.h"

namespace actd::oip {
namespace {

using inference::InferParameter;
using inference::ModelInferRequest;
using inference::ModelInferResponse;
using nlohmann::json;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<InferParameter> ToParameter(const json& v,
                                           const std::string& field) {
  InferParameter p;
  if (v.is_boolean()) {
    p.set_bool_param(v.get<bool>());
  } else if (v.is_number_unsigned() &&
             v.get<uint64_t>() >
                 static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    p.set_uint64_param(v.get<uint64_t>());
  } else if (v.is_number_integer()) {
    p.set_int64_param(v.get<int64_t>());
  } else if (v.is_number_float()) {
    p.set_double_param(v.get<double>());
  } else if (v.is_string()) {
    p.set_string_param(v.get<std::string>());
  } else {
    return Invalid(field,
                   absl::StrCat(v.dump(), " is not a bool, number or string"));
  }
  return p;
}

// The elements of a (possibly nested) JSON array, row-major.
absl::Status Flatten(const json& v, const std::string& field,
                     std::vector<double>& out) {
  if (v.is_array()) {
    for (const json& e : v) {
      if (absl::Status s = Flatten(e, field, out); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (!v.is_number()) {
    return Invalid(field, absl::StrCat("element ", out.size(), " is ", v.dump(),
                                       ", not a number"));
  }
  out.push_back(v.get<double>());
  return absl::OkStatus();
}

// JSON data of one input into typed contents or packed raw bytes.
absl::Status StoreData(const json& data, const std::string& field, bool raw,
                       ModelInferRequest::InferInputTensor& t,
                       std::string* bytes) {
  std::vector<double> values;
  if (absl::Status s = Flatten(data, field + ".data", values); !s.ok())
    return s;
  const DataTypeRow* row = FindDataType(t.datatype());
  if (row == nullptr || row->typed == TypedField::kRawOnly) {
    return Invalid(
        field + ".datatype",
        absl::StrCat("\"", t.datatype(),
                     "\" cannot be given as JSON data (FP32 or FP64; "
                     "other datatypes as binary data)"));
  }
  const bool fp32 = row->typed == TypedField::kFp32;
  if (!raw) {
    auto* c = t.mutable_contents();
    for (double v : values) {
      if (fp32) {
        c->add_fp32_contents(static_cast<float>(v));
      } else {
        c->add_fp64_contents(v);
      }
    }
    return absl::OkStatus();
  }
  bytes->resize(values.size() * (fp32 ? 4 : 8));
  for (size_t i = 0; i < values.size(); ++i) {
    if (fp32) {
      const float f = static_cast<float>(values[i]);
      std::memcpy(bytes->data() + 4 * i, &f, 4);
    } else {
      std::memcpy(bytes->data() + 8 * i, &values[i], 8);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseParameters(const json& j, HttpInferRequest& out) {
  if (!j.contains("parameters")) return absl::OkStatus();
  const json& params = j["parameters"];
  if (!params.is_object()) return Invalid("parameters", "not a JSON object");
  for (const auto& [key, value] : params.items()) {
    const std::string field = absl::StrCat("parameters[\"", key, "\"]");
    if (key == "binary_data_output") {
      if (!value.is_boolean()) return Invalid(field, "not a bool");
      out.all_binary = value.get<bool>();
      continue;
    }
    if (key == "timeout") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0)
        return Invalid(field, "not a non-negative integer (microseconds)");
      out.timeout_us = value.get<int64_t>();
      continue;
    }
    absl::StatusOr<InferParameter> p = ToParameter(value, field);
    if (!p.ok()) return p.status();
    (*out.request.mutable_parameters())[key] = *std::move(p);
  }
  return absl::OkStatus();
}

// binary_data_size of an input, or -1 when its data is JSON.
absl::StatusOr<int64_t> BinarySize(const json& input,
                                   const std::string& field) {
  if (!input.contains("parameters")) return -1;
  const json& p = input["parameters"];
  if (!p.is_object())
    return Invalid(field + ".parameters", "not a JSON object");
  if (!p.contains("binary_data_size")) return -1;
  if (!p["binary_data_size"].is_number_unsigned())
    return Invalid(field + ".parameters[\"binary_data_size\"]",
                   "not a non-negative integer");
  return p["binary_data_size"].get<int64_t>();
}

absl::Status ParseInput(const json& input, const std::string& field, bool raw,
                        absl::string_view& binary, ModelInferRequest& r) {
  if (!input.is_object()) return Invalid(field, "not a JSON object");
  auto* t = r.add_inputs();
  if (!input.contains("name") || !input["name"].is_string())
    return Invalid(field + ".name", "missing or not a string");
  if (!input.contains("datatype") || !input["datatype"].is_string())
    return Invalid(field + ".datatype", "missing or not a string");
  if (!input.contains("shape") || !input["shape"].is_array())
    return Invalid(field + ".shape", "missing or not an array");
  t->set_name(input["name"].get<std::string>());
  t->set_datatype(input["datatype"].get<std::string>());
  for (const json& d : input["shape"]) {
    if (!d.is_number_integer())
      return Invalid(field + ".shape",
                     absl::StrCat(d.dump(), " is not an integer"));
    t->add_shape(d.get<int64_t>());
  }
  absl::StatusOr<int64_t> size = BinarySize(input, field);
  if (!size.ok()) return size.status();
  if (*size >= 0) {
    if (static_cast<size_t>(*size) > binary.size()) {
      return Invalid(field + ".parameters[\"binary_data_size\"]",
                     absl::StrCat(*size, " bytes but only ", binary.size(),
                                  " bytes of binary data are left"));
    }
    r.add_raw_input_contents(std::string(binary.substr(0, *size)));
    binary.remove_prefix(*size);
    return absl::OkStatus();
  }
  if (!input.contains("data")) return Invalid(field + ".data", "missing");
  return StoreData(input["data"], field, raw, *t,
                   raw ? r.add_raw_input_contents() : nullptr);
}

absl::Status ParseOutputs(const json& j, HttpInferRequest& out) {
  if (!j.contains("outputs")) return absl::OkStatus();
  if (!j["outputs"].is_array()) return Invalid("outputs", "not an array");
  for (size_t i = 0; i < j["outputs"].size(); ++i) {
    const json& o = j["outputs"][i];
    const std::string field = absl::StrCat("outputs[", i, "]");
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
      return Invalid(field + ".name", "missing or not a string");
    const std::string name = o["name"].get<std::string>();
    out.request.add_outputs()->set_name(name);
    if (o.contains("parameters") && o["parameters"].is_object() &&
        o["parameters"].contains("binary_data")) {
      const json& b = o["parameters"]["binary_data"];
      if (!b.is_boolean())
        return Invalid(field + ".parameters[\"binary_data\"]", "not a bool");
      if (b.get<bool>()) out.binary_outputs.insert(name);
    }
  }
  return absl::OkStatus();
}

// The bytes of output i: raw contents, or the typed field's storage (the same
// little-endian packed elements).
absl::string_view OutputBytes(const ModelInferResponse& r, int i) {
  if (r.raw_output_contents_size() > i) return r.raw_output_contents(i);
  const auto& c = r.outputs(i).contents();
  if (c.fp32_contents_size() > 0) {
    return {reinterpret_cast<const char*>(c.fp32_contents().data()),
            c.fp32_contents_size() * sizeof(float)};
  }
  return {reinterpret_cast<const char*>(c.fp64_contents().data()),
          c.fp64_contents_size() * sizeof(double)};
}

json DataJson(absl::string_view bytes, absl::string_view datatype) {
  json data = json::array();
  if (datatype == "FP32") {
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      float f;
      std::memcpy(&f, bytes.data() + i, 4);
      data.push_back(static_cast<double>(f));
    }
  } else {
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      double d;
      std::memcpy(&d, bytes.data() + i, 8);
      data.push_back(d);
    }
  }
  return data;
}

json ParametersJson(
    const google::protobuf::Map<std::string, InferParameter>& params) {
  json out = json::object();
  for (const auto& [key, p] : params) out[key] = ParameterJson(p);
  return out;
}

}  // namespace

absl::StatusOr<HttpInferRequest> ParseInferRequest(
    absl::string_view body, std::optional<size_t> header_length,
    absl::string_view model, absl::string_view version) {
  absl::string_view binary;
  if (header_length.has_value()) {
    if (*header_length > body.size()) {
      return Invalid("Inference-Header-Content-Length",
                     absl::StrCat(*header_length, " exceeds the body's ",
                                  body.size(), " bytes"));
    }
    binary = body.substr(*header_length);
    body = body.substr(0, *header_length);
  }
  const json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Invalid("body", "not a JSON object");
  HttpInferRequest out;
  ModelInferRequest& r = out.request;
  r.set_model_name(std::string(model));
  r.set_model_version(std::string(version));
  if (j.contains("id")) {
    if (!j["id"].is_string()) return Invalid("id", "not a string");
    r.set_id(j["id"].get<std::string>());
  }
  if (absl::Status s = ParseParameters(j, out); !s.ok()) return s;
  if (!j.contains("inputs") || !j["inputs"].is_array())
    return Invalid("inputs", "missing or not an array");
  bool raw = false;
  for (size_t i = 0; i < j["inputs"].size(); ++i) {
    absl::StatusOr<int64_t> size =
        BinarySize(j["inputs"][i], absl::StrCat("inputs[", i, "]"));
    if (!size.ok()) return size.status();
    raw |= *size >= 0;
  }
  for (size_t i = 0; i < j["inputs"].size(); ++i) {
    absl::Status s = ParseInput(j["inputs"][i], absl::StrCat("inputs[", i, "]"),
                                raw, binary, r);
    if (!s.ok()) return s;
  }
  if (!binary.empty()) {
    return Invalid("body", absl::StrCat(binary.size(),
                                        " bytes of binary data are not "
                                        "claimed by any input's "
                                        "binary_data_size"));
  }
  if (absl::Status s = ParseOutputs(j, out); !s.ok()) return s;
  return out;
}

HttpBody WriteInferResponse(const ModelInferResponse& response,
                            const HttpInferRequest& parsed) {
  json j = {{"model_name", response.model_name()},
            {"model_version", response.model_version()}};
  if (!response.id().empty()) j["id"] = response.id();
  if (!response.parameters().empty())
    j["parameters"] = ParametersJson(response.parameters());
  json outputs = json::array();
  std::string tail;
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& t = response.outputs(i);
    json o = {
        {"name", t.name()},
        {"datatype", t.datatype()},
        {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())}};
    const absl::string_view bytes = OutputBytes(response, i);
    if (parsed.all_binary || parsed.binary_outputs.count(t.name()) > 0) {
      o["parameters"] = {{"binary_data_size", bytes.size()}};
      tail.append(bytes.data(), bytes.size());
    } else {
      o["data"] = DataJson(bytes, t.datatype());
    }
    outputs.push_back(std::move(o));
  }
  j["outputs"] = std::move(outputs);
  HttpBody out{j.dump(), std::nullopt};
  if (!tail.empty() || parsed.all_binary || !parsed.binary_outputs.empty()) {
    out.header_length = out.body.size();
    out.body += tail;
  }
  return out;
}

json ParameterJson(const InferParameter& p) {
  switch (p.parameter_choice_case()) {
    case InferParameter::kBoolParam:
      return p.bool_param();
    case InferParameter::kInt64Param:
      return p.int64_param();
    case InferParameter::kDoubleParam:
      // As proto3 JSON writes them: JSON numbers have no infinities or NaN.
      if (std::isinf(p.double_param()))
        return p.double_param() > 0 ? "Infinity" : "-Infinity";
      if (std::isnan(p.double_param())) return "NaN";
      return p.double_param();
    case InferParameter::kUint64Param:
      return p.uint64_param();
    case InferParameter::kStringParam:
      return p.string_param();
    default:
      return nullptr;
  }
}

json ModelMetadataJson(const inference::ModelMetadataResponse& m) {
  auto tensors = [](const auto& list) {
    json out = json::array();
    for (const auto& t : list) {
      out.push_back(
          {{"name", t.name()},
           {"datatype", t.datatype()},
           {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
           {"parameters", ParametersJson(t.parameters())}});
    }
    return out;
  };
  return {{"name", m.name()},
          {"versions",
           std::vector<std::string>(m.versions().begin(), m.versions().end())},
          {"platform", m.platform()},
          {"inputs", tensors(m.inputs())},
          {"outputs", tensors(m.outputs())},
          {"parameters", ParametersJson(m.parameters())}};
}

}  // namespace actd::oip
