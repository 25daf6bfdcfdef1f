// Open Inference Protocol <-> core: model metadata from the registry, request
// tensors viewed in place, results written straight into the response.
#include "server/service/oip_mapping.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"

namespace actd::oip {
namespace {

namespace pb = activation::v1;
using inference::InferParameter;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

constexpr DataTypeRow kDataTypes[] = {
    {"FP32", DType::kFloat32, TypedField::kFp32},
    {"FP64", DType::kFloat64, TypedField::kFp64},
    // The protocol's typed contents have no 16-bit field: raw only.
    {"FP16", DType::kFloat16, TypedField::kRawOnly},
    {"BF16", DType::kBFloat16, TypedField::kRawOnly},
};

const DataTypeRow& RowOf(DType dtype) {
  for (const DataTypeRow& row : kDataTypes) {
    if (row.dtype == dtype) return row;
  }
  return kDataTypes[0];  // unreachable: every core dtype has a row
}

std::string DataTypeNames() {
  std::vector<absl::string_view> names;
  for (const DataTypeRow& row : kDataTypes) names.push_back(row.name);
  return absl::StrJoin(names, ", ");
}

std::string ModelNames() {
  std::vector<std::string> names;
  for (const Activation* a : AllActivations()) names.push_back(a->info().name);
  return absl::StrJoin(names, ", ");
}

// ListActivations' description of `name`, built once.
const pb::ActivationInfo& InfoProto(absl::string_view name) {
  static const auto* all = [] {
    auto* r = new pb::ListActivationsResponse;
    DescribeActivations(r);
    return r;
  }();
  for (const pb::ActivationInfo& info : all->activations()) {
    if (info.name() == name) return info;
  }
  return pb::ActivationInfo::default_instance();
}

// Dice in training returns, for each weight running_<s>, the batch's <s>.
std::vector<std::string> ForwardExtras(const ActivationInfo& info) {
  std::vector<std::string> extras;
  for (const WeightInfo& w : info.weights) {
    if (absl::StartsWith(w.name, "running_"))
      extras.push_back(absl::StrCat("batch_", w.name.substr(8)));
  }
  return extras;
}

// "[]" -> {}, "[C]" or "[] or [C]" -> {-1}, "[k, n]" -> {-1, -1}.
std::vector<int64_t> ShapePattern(absl::string_view text) {
  if (absl::StrContains(text, " or ")) return {-1};
  if (text == "[]") return {};
  return std::vector<int64_t>(std::count(text.begin(), text.end(), ',') + 1,
                              -1);
}

std::string ParamText(const pb::Param& p) {
  switch (p.value_case()) {
    case pb::Param::kNumber:
      return absl::StrCat(p.number());
    case pb::Param::kText:
      return p.text();
    case pb::Param::kFlag:
      return p.flag() ? "true" : "false";
    default:
      return "";
  }
}

void SetString(InferParameter& p, absl::string_view v) {
  p.set_string_param(std::string(v));
}

void AddTensor(google::protobuf::RepeatedPtrField<
                   inference::ModelMetadataResponse::TensorMetadata>* list,
               absl::string_view name, std::vector<int64_t> shape,
               absl::string_view use) {
  auto* t = list->Add();
  t->set_name(std::string(name));
  t->set_datatype(std::string(kDataTypes[0].name));
  t->mutable_shape()->Assign(shape.begin(), shape.end());
  SetString((*t->mutable_parameters())["datatypes"], DataTypeNames());
  SetString((*t->mutable_parameters())["use"], use);
}

// Each field of a message as a parameter of the matching kind.
void AddFields(const google::protobuf::Message& m,
               google::protobuf::Map<std::string, InferParameter>* out) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* reflection = m.GetReflection();
  const auto* descriptor = m.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FD* f = descriptor->field(i);
    InferParameter& p = (*out)[f->name()];
    if (f->is_repeated()) {
      std::vector<std::string> items;
      for (int j = 0; j < reflection->FieldSize(m, f); ++j)
        items.push_back(reflection->GetRepeatedString(m, f, j));
      p.set_string_param(absl::StrJoin(items, "; "));
      continue;
    }
    switch (f->cpp_type()) {
      case FD::CPPTYPE_BOOL:
        p.set_bool_param(reflection->GetBool(m, f));
        break;
      case FD::CPPTYPE_DOUBLE:
        p.set_double_param(reflection->GetDouble(m, f));
        break;
      case FD::CPPTYPE_INT32:
        p.set_int64_param(reflection->GetInt32(m, f));
        break;
      case FD::CPPTYPE_ENUM:
        p.set_string_param(reflection->GetEnum(m, f)->name());
        break;
      default:
        p.set_string_param(reflection->GetString(m, f));
    }
  }
}

}  // namespace

std::span<const DataTypeRow> DataTypes() { return kDataTypes; }

const DataTypeRow* FindDataType(absl::string_view name) {
  for (const DataTypeRow& row : kDataTypes) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

absl::StatusOr<const Activation*> FindModel(absl::string_view name,
                                            absl::string_view version) {
  const Activation* a = FindActivation(name);
  if (a == nullptr) {
    return absl::NotFoundError(absl::StrCat("model_name: unknown model \"",
                                            name, "\" (models: ", ModelNames(),
                                            ")"));
  }
  if (!version.empty() && version != kModelVersion) {
    return absl::NotFoundError(
        absl::StrCat("model_version: \"", version, "\" is not a version of ",
                     name, " (versions: ", kModelVersion, ")"));
  }
  return a;
}

void DescribeModel(const Activation& activation,
                   inference::ModelMetadataResponse* response) {
  const ActivationInfo& info = activation.info();
  response->set_name(info.name);
  response->add_versions(std::string(kModelVersion));
  response->set_platform(std::string(kPlatform));
  auto* in = response->mutable_inputs();
  AddTensor(in, "x", {-1}, "the input, any shape");
  for (const WeightInfo& w : info.weights) {
    AddTensor(in, w.name, ShapePattern(w.shape),
              absl::StrCat("weight ", w.shape, ", default ", w.default_value,
                           ": ", w.meaning));
  }
  AddTensor(in, "grad_output", {-1},
            "backward: dL/dy, the shape of y (absent = ones)");
  AddTensor(in, "output", {-1}, "backward, optional: y from forward");
  auto* out = response->mutable_outputs();
  AddTensor(out, "y", {-1}, "forward: f(x)");
  for (const std::string& e : ForwardExtras(info))
    AddTensor(out, e, {-1}, "forward in training: batch statistic");
  AddTensor(out, "grad_input", {-1}, "backward: dL/dx");
  for (const ParamInfo& p : info.params) {
    if (p.learnable)
      AddTensor(out, "grad_" + p.name, {}, "backward: dL/d" + p.name);
  }
  for (const WeightInfo& w : info.weights) {
    if (w.learnable)
      AddTensor(out, "grad_" + w.name, ShapePattern(w.shape),
                "backward: dL/d" + w.name);
  }
  const pb::ActivationInfo& proto = InfoProto(info.name);
  auto* params = response->mutable_parameters();
  for (const char* key : {"summary", "formula", "derivative", "reference"}) {
    const auto* f = proto.GetDescriptor()->FindFieldByName(key);
    SetString((*params)[key], proto.GetReflection()->GetString(proto, f));
  }
  (*params)["backward_from_output"].set_bool_param(info.backward_from_output);
  (*params)["elementwise"].set_bool_param(info.elementwise);
  AddFields(proto.properties(), params);
  for (const pb::ParamInfo& p : proto.params()) {
    SetString((*params)["parameter." + p.name()],
              absl::StrCat(absl::AsciiStrToLower(
                               pb::ParamInfo::Kind_Name(p.kind()).substr(5)),
                           " in ", p.allowed(), ", default ",
                           ParamText(p.default_value()), ": ", p.meaning()));
  }
}

namespace {

using InputTensor = ModelInferRequest::InferInputTensor;

static_assert(
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "raw contents are little-endian; add byte swapping for this host");

std::string InputField(absl::string_view name) {
  return absl::StrCat("inputs[\"", name, "\"]");
}

std::string ShapeText(const InputTensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.shape(), ", "), "]");
}

// Everything decoded from one request; the views borrow from the request.
struct Decoded {
  ParamMap params;
  ActivationRequest request;
  ConstTensorView grad_output, output;
  std::vector<std::unique_ptr<std::string>> aligned_copies;
  bool raw = false;
  bool backward = false;
};

absl::Status DecodeParams(const ModelInferRequest& r, Decoded& d) {
  for (const auto& [name, p] : r.parameters()) {
    const std::string field = absl::StrCat("parameters[\"", name, "\"]");
    if (name == "direction") {
      if (p.string_param() != "forward" && p.string_param() != "backward") {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": \"", p.string_param(),
            "\" is not a direction (a string: forward or backward)"));
      }
      d.backward = p.string_param() == "backward";
      continue;
    }
    switch (p.parameter_choice_case()) {
      case InferParameter::kBoolParam:
        d.params[name] = p.bool_param();
        break;
      case InferParameter::kInt64Param:
        d.params[name] = static_cast<double>(p.int64_param());
        break;
      case InferParameter::kDoubleParam:
        d.params[name] = p.double_param();
        break;
      case InferParameter::kUint64Param:
        d.params[name] = static_cast<double>(p.uint64_param());
        break;
      case InferParameter::kStringParam:
        d.params[name] = p.string_param();
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": no value set (bool, int64, double or string)"));
    }
  }
  return absl::OkStatus();
}

// Shape: non-negative dimensions whose product fits in int64 and the limit.
absl::StatusOr<int64_t> CheckShape(const InputTensor& t,
                                   const std::string& field,
                                   int64_t max_elements) {
  int64_t elements = 1;
  bool overflow = false;
  for (int i = 0; i < t.shape_size(); ++i) {
    if (t.shape(i) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".shape[", i, "]: ", t.shape(i),
                       " is negative (shape ", ShapeText(t), ")"));
    }
    overflow |= __builtin_mul_overflow(elements, t.shape(i), &elements);
  }
  if (overflow) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".shape: ", ShapeText(t),
                     " has more elements than an int64 holds"));
  }
  if (elements > max_elements) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": ", elements, " elements (shape ", ShapeText(t),
                     ") exceed the limit of ", max_elements,
                     " per tensor (--max_elements)"));
  }
  return elements;
}

// The typed field holding a tensor's values; INVALID_ARGUMENT when another
// field holds values or the count disagrees with the shape.
absl::StatusOr<const void*> TypedData(const InputTensor& t,
                                      const DataTypeRow& row,
                                      const std::string& field,
                                      int64_t elements) {
  const auto& c = t.contents();
  const char* expected = row.typed == TypedField::kFp32   ? "fp32_contents"
                         : row.typed == TypedField::kFp64 ? "fp64_contents"
                                                          : "";
  const auto* reflection = c.GetReflection();
  const auto* descriptor = c.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* f = descriptor->field(i);
    if (f->name() != expected && reflection->FieldSize(c, f) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".contents.", f->name(), ": set for a ", row.name, " tensor",
          *expected ? absl::StrCat(" (use ", expected, ")")
                    : " (its values travel only in raw_input_contents)"));
    }
  }
  const int64_t n = row.typed == TypedField::kFp32 ? c.fp32_contents_size()
                                                   : c.fp64_contents_size();
  if (n != elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".contents.", expected, ": ", n, " values but shape ",
        ShapeText(t), " has ", elements, " elements"));
  }
  return row.typed == TypedField::kFp32
             ? static_cast<const void*>(c.fp32_contents().data())
             : static_cast<const void*>(c.fp64_contents().data());
}

absl::StatusOr<ConstTensorView> ViewInput(const ModelInferRequest& r, int i,
                                          int64_t max_elements, Decoded& d) {
  const InputTensor& t = r.inputs(i);
  const std::string field = InputField(t.name());
  const DataTypeRow* row = FindDataType(t.datatype());
  if (row == nullptr) {
    const std::string message =
        absl::StrCat(field, ".datatype: \"", t.datatype(), "\" is not ",
                     "supported (supported: ", DataTypeNames(), ")");
    return t.datatype() == "FP16" || t.datatype() == "BF16"
               ? absl::UnimplementedError(message)
               : absl::InvalidArgumentError(message);
  }
  absl::StatusOr<int64_t> elements = CheckShape(t, field, max_elements);
  if (!elements.ok()) return elements.status();
  ConstTensorView view{row->dtype, nullptr,
                       Shape(t.shape().begin(), t.shape().end())};
  if (!d.raw) {
    absl::StatusOr<const void*> data = TypedData(t, *row, field, *elements);
    if (!data.ok()) return data.status();
    view.data = *data;
    return view;
  }
  const std::string& raw = r.raw_input_contents(i);
  const size_t size = DTypeSize(row->dtype);
  if (raw.size() != static_cast<size_t>(*elements) * size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_input_contents[", i, "] (", field, "): ", raw.size(),
        " bytes but shape ", ShapeText(t), " of ", row->name, " needs ",
        *elements * static_cast<int64_t>(size), " bytes"));
  }
  view.data = raw.data();
  if (reinterpret_cast<uintptr_t>(raw.data()) % size != 0) {
    // Rare: keep the kernels' loads aligned.
    d.aligned_copies.push_back(std::make_unique<std::string>(raw));
    view.data = d.aligned_copies.back()->data();
  }
  return view;
}

bool HasContents(const InputTensor& t) {
  return t.has_contents() && t.contents().ByteSizeLong() > 0;
}

absl::Status DecodeInputs(const ModelInferRequest& r,
                          const ServiceOptions& options, Decoded& d) {
  d.raw = r.raw_input_contents_size() > 0;
  if (d.raw && r.raw_input_contents_size() != r.inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents: ", r.raw_input_contents_size(),
                     " entries for ", r.inputs_size(),
                     " inputs (give one per input, in the order of inputs)"));
  }
  bool has_x = false;
  for (int i = 0; i < r.inputs_size(); ++i) {
    const std::string& name = r.inputs(i).name();
    for (int j = 0; j < i; ++j) {
      if (r.inputs(j).name() == name) {
        return absl::InvalidArgumentError(absl::StrCat(
            "inputs[", i, "].name: \"", name, "\" is given twice"));
      }
    }
    if (d.raw && HasContents(r.inputs(i))) {
      return absl::InvalidArgumentError(absl::StrCat(
          InputField(name),
          ".contents: set while raw_input_contents carries the tensors"));
    }
    absl::StatusOr<ConstTensorView> view =
        ViewInput(r, i, options.max_elements, d);
    if (!view.ok()) return view.status();
    if (name == "x") {
      d.request.input = *std::move(view);
      has_x = true;
    } else if (name == "grad_output" || name == "output") {
      if (!d.backward) {
        return absl::InvalidArgumentError(absl::StrCat(
            InputField(name), ": only a backward call takes it (set ",
            "parameters[\"direction\"] = \"backward\")"));
      }
      (name == "output" ? d.output : d.grad_output) = *std::move(view);
      (name == "output" ? d.request.output : d.request.grad_output) =
          name == "output" ? &d.output : &d.grad_output;
    } else {
      d.request.weights.emplace(name, *std::move(view));  // checked by the core
    }
  }
  if (!has_x) {
    return absl::InvalidArgumentError(
        "inputs: no tensor named \"x\" (the activation's input)");
  }
  return absl::OkStatus();
}

// An OutputSink whose storage is the outputs of a ModelInferResponse: raw
// contents, or the typed field of the datatype.
class InferSink final : public OutputSink {
 public:
  InferSink(ModelInferResponse* response, bool raw, bool backward)
      : response_(response), raw_(raw), backward_(backward) {}

  TensorView Allocate(absl::string_view name, DType dtype,
                      const Shape& shape) override {
    const auto start = std::chrono::steady_clock::now();
    const DataTypeRow& row = RowOf(dtype);
    auto* t = response_->add_outputs();
    t->set_name(OutputName(name));
    t->set_datatype(std::string(row.name));
    t->mutable_shape()->Assign(shape.begin(), shape.end());
    const int64_t n = NumElements(shape);
    void* data = nullptr;
    if (raw_) {
      std::string* bytes = response_->add_raw_output_contents();
      const size_t size = n * DTypeSize(dtype);
      if (reuse_ != nullptr && name == "output" && size == reuse_->size()) {
        bytes->swap(*reuse_);  // a heap buffer: its address does not change
        reuse_ = nullptr;
      } else {
        bytes->resize(size);
      }
      data = bytes->data();
    } else if (row.typed == TypedField::kFp32) {
      auto* values = t->mutable_contents()->mutable_fp32_contents();
      values->Resize(static_cast<int>(n), 0.0f);
      data = values->mutable_data();
    } else {
      auto* values = t->mutable_contents()->mutable_fp64_contents();
      values->Resize(static_cast<int>(n), 0.0);
      data = values->mutable_data();
    }
    allocate_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    return {dtype, data, shape};
  }
  int64_t allocate_ns() const { return allocate_ns_; }
  // Raw output "output" (y) takes `storage` instead of new memory when it has
  // storage->size() bytes. The caller vouches that the core may write the
  // result over `storage` while reading it: an element-wise forward over its
  // own input.
  void Reuse(std::string* storage) { reuse_ = storage; }

 private:
  // The core's result names as outputs: forward's "output" is y, backward's
  // parameter gradients are grad_<name>.
  std::string OutputName(absl::string_view name) const {
    if (!backward_) return name == "output" ? "y" : std::string(name);
    return name == "grad_input" ? std::string(name)
                                : absl::StrCat("grad_", name);
  }

  ModelInferResponse* response_;
  bool raw_, backward_;
  std::string* reuse_ = nullptr;
  int64_t allocate_ns_ = 0;
};

// Keeps only the requested outputs, in the order requested.
absl::Status KeepRequested(const ModelInferRequest& r, bool raw,
                           ModelInferResponse* response) {
  if (r.outputs_size() == 0) return absl::OkStatus();
  const int produced = response->outputs_size();
  std::vector<int> order;
  for (int k = 0; k < r.outputs_size(); ++k) {
    const std::string& name = r.outputs(k).name();
    int found = -1;
    std::vector<std::string> names;
    for (int i = 0; i < produced; ++i) {
      names.push_back(response->outputs(i).name());
      if (names.back() == name) found = i;
    }
    if (found < 0 ||
        std::find(order.begin(), order.end(), found) != order.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "outputs[", k, "].name: \"", name, "\" ",
          found < 0 ? "is not an output of this call" : "is requested twice",
          " (outputs: ", absl::StrJoin(names, ", "), ")"));
    }
    order.push_back(found);
  }
  // Moves the elements, never their data.
  std::vector<ModelInferResponse::InferOutputTensor*> outputs(produced);
  response->mutable_outputs()->ExtractSubrange(0, produced, outputs.data());
  std::vector<std::string*> bytes(raw ? produced : 0);
  if (raw)
    response->mutable_raw_output_contents()->ExtractSubrange(0, produced,
                                                             bytes.data());
  for (int i : order) {
    response->mutable_outputs()->AddAllocated(
        std::exchange(outputs[i], nullptr));
    if (raw) {
      response->mutable_raw_output_contents()->AddAllocated(
          std::exchange(bytes[i], nullptr));
    }
  }
  for (auto* t : outputs) delete t;
  for (auto* s : bytes) delete s;
  return absl::OkStatus();
}

// The core names request fields as the native API spells them; say them as
// this protocol does.
absl::Status InProtocolTerms(const absl::Status& status) {
  std::string m = absl::StrReplaceAll(status.message(),
                                      {{"activation.params[", "parameters["},
                                       {"activation.weights[", "inputs["},
                                       {"activation.name", "model_name"},
                                       {" input.", " inputs[\"x\"]."}});
  for (absl::string_view field : {"input", "grad_output", "output"}) {
    for (char next : {'.', ':'}) {
      const std::string prefix = absl::StrCat(field, std::string(1, next));
      if (absl::StartsWith(m, prefix)) {
        m = absl::StrCat(InputField(field == "input" ? "x" : field),
                         m.substr(field.size()));
      }
    }
  }
  return absl::Status(status.code(), m);
}

int64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// One inference (EvaluateModelInfer); `reusable`, when not null, is x's raw
// bytes in `request`, which an element-wise forward may overwrite with y.
absl::Status Infer(const ModelInferRequest& request, std::string* reusable,
                   ModelInferResponse* response, const ServiceOptions& options,
                   const ComputeContext& compute, CallTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<const Activation*> model =
      FindModel(request.model_name(), request.model_version());
  if (!model.ok()) return model.status();
  Decoded d;
  d.request.name = request.model_name();
  d.request.params = &d.params;
  d.request.compute = &compute;
  if (absl::Status s = DecodeParams(request, d); !s.ok()) return s;
  if (absl::Status s = DecodeInputs(request, options, d); !s.ok()) return s;
  if (timing != nullptr) timing->decode_ns += NanosSince(start);
  response->set_model_name(request.model_name());
  response->set_model_version(std::string(kModelVersion));
  response->set_id(request.id());
  const bool raw =
      d.raw || RowOf(d.request.input.dtype).typed == TypedField::kRawOnly;
  InferSink sink(response, raw, d.backward);
  if (reusable != nullptr && !d.backward &&
      ForwardMayOverwrite(*model, d.request.input, *reusable)) {
    sink.Reuse(reusable);
  }
  const auto compute_start = std::chrono::steady_clock::now();
  absl::Status status =
      d.backward ? RunBackward(d.request, sink) : RunForward(d.request, sink);
  if (timing != nullptr) {
    timing->compute_ns += NanosSince(compute_start) - sink.allocate_ns();
    timing->encode_ns += sink.allocate_ns();
  }
  if (!status.ok()) return InProtocolTerms(status);
  return KeepRequested(request, raw, response);
}

}  // namespace

CallFacts FactsOf(const ModelInferRequest& request) {
  CallFacts facts{request.model_name(), "unspecified", 0, absl::OkStatus()};
  for (const InputTensor& t : request.inputs()) {
    if (t.name() != "x") continue;
    const DataTypeRow* row = FindDataType(t.datatype());
    facts.dtype = row ? std::string(DTypeName(row->dtype)) : t.datatype();
    int64_t n = 1;
    for (int64_t dim : t.shape()) {
      if (dim < 0 || __builtin_mul_overflow(n, dim, &n)) n = 0;
    }
    facts.elements = n;
  }
  return facts;
}

absl::Status EvaluateModelInfer(const ModelInferRequest& request,
                                ModelInferResponse* response,
                                const ServiceOptions& options,
                                const ComputeContext& compute,
                                CallTiming* timing) {
  return Infer(request, nullptr, response, options, compute, timing);
}

absl::Status EvaluateModelInferInPlace(ModelInferRequest* request,
                                       ModelInferResponse* response,
                                       const ServiceOptions& options,
                                       const ComputeContext& compute,
                                       CallTiming* timing) {
  std::string* x = nullptr;
  if (request->raw_input_contents_size() == request->inputs_size()) {
    for (int i = 0; i < request->inputs_size(); ++i) {
      if (request->inputs(i).name() == "x")
        x = request->mutable_raw_input_contents(i);
    }
  }
  return Infer(*request, x, response, options, compute, timing);
}

}  // namespace actd::oip
