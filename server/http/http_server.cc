// cpp-httplib routes of the REST API and the explorer page. Handlers are thin:
// authorize, parse, run through the shared admission and mapping, write.
#include "server/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/core/activation.h"
#include "server/http/oip_json.h"
#include "server/service/admission.h"
#include "server/service/oip_mapping.h"

namespace actd {

// The explorer page (explorer.html), embedded at build time.
extern const char kExplorerPage[];

namespace {

using nlohmann::json;

// The protocol's HTTP status for a status code.
int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

void WriteJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void WriteError(httplib::Response& res, const absl::Status& status) {
  WriteJson(res, HttpStatus(status.code()),
            {{"error", std::string(status.message())}});
}

std::optional<absl::string_view> Authorization(const httplib::Request& req) {
  auto it = req.headers.find("Authorization");
  if (it == req.headers.end()) return std::nullopt;
  return absl::string_view(it->second);
}

// ListActivations' entry for `name`, as proto3 JSON with the field names of
// the .proto.
json ActivationJson(absl::string_view name) {
  static const auto* all = [] {
    auto* m = new std::map<std::string, json, std::less<>>;
    activation::v1::ListActivationsResponse list;
    DescribeActivations(&list);
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    for (const auto& info : list.activations()) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(info, &text, options);
      (*m)[info.name()] = json::parse(text);
    }
    return m;
  }();
  auto it = all->find(name);
  return it == all->end() ? json() : it->second;
}

// The request body, read through a content reader: unlike cpp-httplib's
// default reading, that takes the body as it is whatever its Content-Type
// (curl -d labels JSON as a form, which would be parsed and capped at 8 KiB).
// The server's payload limit still applies.
std::string ReadBody(const httplib::Request& req,
                     const httplib::ContentReader& reader, int64_t limit) {
  std::string body;
  body.reserve(std::min<uint64_t>(
      req.get_header_value<uint64_t>("Content-Length"), limit));
  reader([&body](const char* data, size_t size) {
    body.append(data, size);
    return true;
  });
  return body;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(std::unique_ptr<httplib::Server> server,
                 ServiceOptions options)
      : server_(std::move(server)), options_(std::move(options)) {}
  ~HttpServerImpl() override { Stop(); }

  absl::Status Start(const std::string& host, int port) {
    server_->set_payload_max_length(options_.max_message_bytes);
    server_->set_tcp_nodelay(true);
    Route();
    port_ = port == 0 ? server_->bind_to_any_port(host)
                      : (server_->bind_to_port(host, port) ? port : -1);
    if (port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", host, ":", port));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }

 private:
  void Route() {
    server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kExplorerPage, "text/html; charset=utf-8");
    });
    server_->Get("/v2/health/live",
                 [](const httplib::Request&, httplib::Response& res) {
                   WriteJson(res, 200, {{"live", true}});
                 });
    server_->Get("/v2/health/ready",
                 [this](const httplib::Request&, httplib::Response& res) {
                   const bool ready = options_.ready->load();
                   WriteJson(res, ready ? 200 : 503, {{"ready", ready}});
                 });
    server_->Get("/v2",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   if (!Authorized(req, res)) return;
                   WriteJson(res, 200,
                             {{"name", "actd"},
                              {"version", options_.version},
                              {"extensions", {"binary_tensor_data"}}});
                 });
    server_->Post("/v2/repository/index",
                  [this](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader) {
                    (void)ReadBody(req, reader, 0);
                    if (!Authorized(req, res)) return;
                    json index = json::array();
                    for (const Activation* a : AllActivations()) {
                      index.push_back({{"name", a->info().name},
                                       {"version", oip::kModelVersion},
                                       {"state", "READY"}});
                    }
                    WriteJson(res, 200, index);
                  });
    const std::string model = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
    server_->Get(model + "/ready", [this](const httplib::Request& req,
                                          httplib::Response& res) {
      absl::StatusOr<const Activation*> m =
          oip::FindModel(req.matches[1].str(), req.matches[2].str());
      if (!m.ok()) return WriteError(res, m.status());
      const bool ready = options_.ready->load();
      WriteJson(res, ready ? 200 : 503,
                {{"name", req.matches[1].str()}, {"ready", ready}});
    });
    server_->Get(model, [this](const httplib::Request& req,
                               httplib::Response& res) { Metadata(req, res); });
    server_->Post(
        model + "/infer",
        [this](const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader& reader) {
          Infer(req, ReadBody(req, reader, options_.max_message_bytes), res);
        });
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) const {
    absl::Status s = CheckBearerToken(options_.auth_token, Authorization(req));
    if (!s.ok()) WriteError(res, s);
    return s.ok();
  }

  void Metadata(const httplib::Request& req, httplib::Response& res) const {
    if (!Authorized(req, res)) return;
    absl::StatusOr<const Activation*> m =
        oip::FindModel(req.matches[1].str(), req.matches[2].str());
    if (!m.ok()) return WriteError(res, m.status());
    inference::ModelMetadataResponse metadata;
    oip::DescribeModel(**m, &metadata);
    json body = oip::ModelMetadataJson(metadata);
    body["properties"] = ActivationJson((*m)->info().name);
    WriteJson(res, 200, body);
  }

  void Infer(const httplib::Request& req, const std::string& body,
             httplib::Response& res) const;

  std::unique_ptr<httplib::Server> server_;
  const ServiceOptions options_;
  std::thread thread_;
  int port_ = -1;
};

std::optional<size_t> HeaderLength(const httplib::Request& req,
                                   absl::Status* status) {
  auto it = req.headers.find("Inference-Header-Content-Length");
  if (it == req.headers.end()) return std::nullopt;
  size_t n = 0;
  const auto [end, ec] = std::from_chars(
      it->second.data(), it->second.data() + it->second.size(), n);
  if (ec != std::errc() || end != it->second.data() + it->second.size()) {
    *status = absl::InvalidArgumentError(
        absl::StrCat("Inference-Header-Content-Length: \"", it->second,
                     "\" is not a byte count"));
  }
  return n;
}

void HttpServerImpl::Infer(const httplib::Request& req,
                           const std::string& request_body,
                           httplib::Response& res) const {
  absl::Status parse_status;
  const std::optional<size_t> header_length = HeaderLength(req, &parse_status);
  absl::StatusOr<oip::HttpInferRequest> parsed =
      parse_status.ok()
          ? oip::ParseInferRequest(request_body, header_length,
                                   req.matches[1].str(), req.matches[2].str())
          : absl::StatusOr<oip::HttpInferRequest>(parse_status);
  CallEdge edge;
  edge.protocol = "oip-http";
  edge.method = "ModelInfer";
  // As gRPC spells peers: "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000".
  edge.peer =
      absl::StrContains(req.remote_addr, ':')
          ? absl::StrCat("ipv6:[", req.remote_addr, "]:", req.remote_port)
          : absl::StrCat("ipv4:", req.remote_addr, ":", req.remote_port);
  edge.authorization = Authorization(req);
  if (parsed.ok() && parsed->timeout_us.has_value()) {
    edge.deadline = std::chrono::system_clock::now() +
                    std::chrono::microseconds(*parsed->timeout_us);
    edge.cancelled = [deadline = edge.deadline] {
      return std::chrono::system_clock::now() >= deadline;
    };
  }
  CallFacts facts = parsed.ok() ? oip::FactsOf(parsed->request)
                                : CallFacts{req.matches[1].str(), "unspecified",
                                            0, parsed.status()};
  inference::ModelInferResponse response;
  oip::HttpBody body;
  absl::Status status = RunAdmitted(
      options_, edge, facts, static_cast<int64_t>(request_body.size()),
      [&](const ComputeContext& compute) {  // admitted: parsed is OK
        return oip::EvaluateModelInfer(parsed->request, &response, options_,
                                       compute);
      },
      [&] {
        body = oip::WriteInferResponse(response, *parsed);
        return static_cast<int64_t>(body.body.size());
      });
  if (!status.ok()) return WriteError(res, status);
  res.status = 200;
  if (body.header_length.has_value()) {
    res.set_header("Inference-Header-Content-Length",
                   std::to_string(*body.header_length));
    res.set_content(std::move(body.body), "application/octet-stream");
  } else {
    res.set_content(std::move(body.body), "application/json");
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& http, ServiceOptions options) {
  std::unique_ptr<httplib::Server> server;
  if (!http.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(
        http.tls_cert.c_str(), http.tls_key.c_str(),
        http.tls_client_ca.empty() ? nullptr : http.tls_client_ca.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(
          "--tls_cert/--tls_key: the HTTP server cannot load them");
    }
    server = std::move(tls);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  auto impl =
      std::make_unique<HttpServerImpl>(std::move(server), std::move(options));
  if (absl::Status s = impl->Start(http.host, http.port); !s.ok()) return s;
  return impl;
}

}  // namespace actd
