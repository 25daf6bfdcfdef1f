// The Open Inference Protocol's JSON (KServe v2 REST) and Triton's binary
// tensor extension, converted to and from the gRPC messages, so HTTP requests
// take the one mapping in server/service/oip_mapping.h.
#ifndef ACTD_SERVER_HTTP_OIP_JSON_H_
#define ACTD_SERVER_HTTP_OIP_JSON_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"
#include "nlohmann/json.hpp"

namespace actd::oip {

// A parsed HTTP inference request.
struct HttpInferRequest {
  inference::ModelInferRequest request;
  // Outputs to send as binary data, and whether every output goes binary
  // (request parameter binary_data_output).
  std::set<std::string> binary_outputs;
  bool all_binary = false;
  // Triton's request parameter "timeout", in microseconds.
  std::optional<int64_t> timeout_us;
};

// Parses `body`: JSON, or with `header_length` (the Inference-Header-Content-
// Length header) that many bytes of JSON followed by the binary tensors.
// INVALID_ARGUMENT naming the field for malformed input.
absl::StatusOr<HttpInferRequest> ParseInferRequest(
    absl::string_view body, std::optional<size_t> header_length,
    absl::string_view model, absl::string_view version);

// An HTTP response body; `header_length` set when binary data follows the
// JSON (send it as Inference-Header-Content-Length).
struct HttpBody {
  std::string body;
  std::optional<size_t> header_length;
};

// The response, binary outputs after the JSON as `parsed` asked.
HttpBody WriteInferResponse(const inference::ModelInferResponse& response,
                            const HttpInferRequest& parsed);

// Metadata as the REST API spells it.
nlohmann::json ModelMetadataJson(
    const inference::ModelMetadataResponse& metadata);
nlohmann::json ParameterJson(const inference::InferParameter& p);

}  // namespace actd::oip

#endif  // ACTD_SERVER_HTTP_OIP_JSON_H_
