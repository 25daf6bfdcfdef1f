// Fuzzes the HTTP/JSON inference request parser (the Open Inference
// Protocol's REST body, and Triton's binary tensor extension when an
// Inference-Header-Content-Length is given): any bytes must give a request or
// INVALID_ARGUMENT, never a crash, and a parsed request must be complete
// enough for the response writer to answer it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "server/http/oip_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::optional<size_t> header_length;
  if (in.ConsumeBool())
    header_length = in.ConsumeIntegralInRange<size_t>(0, size);
  const std::string body = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<actd::oip::HttpInferRequest> parsed =
      actd::oip::ParseInferRequest(body, header_length, "relu", "1");
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  // Echo the inputs back as outputs: the writer must cope with whatever the
  // parser accepted (names, shapes, binary or JSON contents).
  inference::ModelInferResponse response;
  response.set_model_name(parsed->request.model_name());
  response.set_id(parsed->request.id());
  for (const auto& input : parsed->request.inputs()) {
    auto* output = response.add_outputs();
    output->set_name(input.name());
    output->set_datatype(input.datatype());
    *output->mutable_shape() = input.shape();
    *output->mutable_contents() = input.contents();
  }
  *response.mutable_raw_output_contents() =
      parsed->request.raw_input_contents();
  actd::oip::WriteInferResponse(response, *parsed);
  return 0;
}
