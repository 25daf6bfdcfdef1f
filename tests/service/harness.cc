// The in-process server and the tensor helpers of harness.h.
#include "tests/service/harness.h"

#include <chrono>
#include <cmath>
#include <cstring>

namespace actd::service_test {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(60);

bool Close(double got, double expected, pb::DataType dtype) {
  if (std::isnan(expected)) return std::isnan(got);
  if (std::isinf(expected)) return got == expected;
  const double tolerance = dtype == pb::DATA_TYPE_FLOAT32
                               ? 1e-5 * std::abs(expected) + 1e-6
                               : 1e-12 * std::abs(expected) + 1e-14;
  return std::abs(got - expected) <= tolerance;
}

std::string ShapeText(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace

InProcessServer::InProcessServer(ServiceOptions options, int max_message_bytes)
    : service_(NewActivationService(options, &routes_)) {
  grpc::ServerBuilder builder;
  ConfigureServer(options, &builder);
  builder.RegisterCallbackGenericService(&routes_);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(service_.get());
  grpc::ChannelArguments args;
  if (max_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.SetMaxSendMessageSize(max_message_bytes);
    args.SetMaxReceiveMessageSize(max_message_bytes);
    args.SetMaxSendMessageSize(max_message_bytes);
  }
  server_ = builder.BuildAndStart();
  // Without a server the channel still exists, so calls fail with UNAVAILABLE
  // instead of crashing the test.
  if (server_ == nullptr || port_ == 0) {
    ADD_FAILURE() << "the in-process server did not start";
  }
  channel_ =
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                grpc::InsecureChannelCredentials(), args);
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() +
                                  std::chrono::seconds(10))) {
    ADD_FAILURE() << "could not connect to 127.0.0.1:" << port_;
  }
  stub_ = pb::ActivationService::NewStub(channel_);
}

InProcessServer::~InProcessServer() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }
}

std::unique_ptr<grpc::ClientContext> NewContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return context;
}

grpc::Status InProcessServer::Forward(const pb::ForwardRequest& request,
                                      pb::ForwardResponse* response) {
  return stub_->Forward(NewContext().get(), request, response);
}
grpc::Status InProcessServer::Backward(const pb::BackwardRequest& request,
                                       pb::BackwardResponse* response) {
  return stub_->Backward(NewContext().get(), request, response);
}
grpc::Status InProcessServer::BatchEvaluate(
    const pb::BatchEvaluateRequest& request,
    pb::BatchEvaluateResponse* response) {
  return stub_->BatchEvaluate(NewContext().get(), request, response);
}
grpc::Status InProcessServer::ListActivations(
    pb::ListActivationsResponse* response) {
  return stub_->ListActivations(NewContext().get(), {}, response);
}
grpc::Status InProcessServer::GetServerInfo(pb::ServerInfo* response) {
  return stub_->GetServerInfo(NewContext().get(), {}, response);
}

std::vector<std::string> RegistryNames() {
  std::vector<std::string> names;
  for (const Activation* a : AllActivations()) names.push_back(a->info().name);
  return names;
}

std::string EncodingName(Encoding e) {
  return e == Encoding::kRaw ? "raw" : "typed";
}

std::string DTypeName(pb::DataType d) {
  return d == pb::DATA_TYPE_FLOAT32 ? "float32" : "float64";
}

Values Rounded(const Values& values, pb::DataType dtype) {
  if (dtype != pb::DATA_TYPE_FLOAT32) return values;
  Values out;
  out.reserve(values.size());
  for (double v : values) out.push_back(static_cast<float>(v));
  return out;
}

pb::Tensor MakeTensor(const Values& values, const Shape& shape,
                      pb::DataType dtype, Encoding encoding) {
  pb::Tensor t;
  t.set_dtype(dtype);
  for (int64_t d : shape) t.add_shape(d);
  const bool is_float = dtype == pb::DATA_TYPE_FLOAT32;
  if (encoding == Encoding::kTyped) {
    for (double v : values) {
      if (is_float) {
        t.add_float_data(static_cast<float>(v));
      } else {
        t.add_double_data(v);
      }
    }
    return t;
  }
  std::string* raw = t.mutable_raw_data();
  raw->resize(values.size() * (is_float ? 4 : 8));
  for (size_t i = 0; i < values.size(); ++i) {
    if (is_float) {
      const float f = static_cast<float>(values[i]);
      std::memcpy(raw->data() + 4 * i, &f, 4);
    } else {
      std::memcpy(raw->data() + 8 * i, &values[i], 8);
    }
  }
  return t;
}

Values ValuesOf(const pb::Tensor& t) {
  Values out;
  if (t.float_data_size() > 0) {
    out.assign(t.float_data().begin(), t.float_data().end());
  } else if (t.double_data_size() > 0) {
    out.assign(t.double_data().begin(), t.double_data().end());
  } else if (t.dtype() == pb::DATA_TYPE_FLOAT32) {
    const size_t n = t.raw_data().size() / 4;
    for (size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, t.raw_data().data() + 4 * i, 4);
      out.push_back(f);
    }
  } else {
    const size_t n = t.raw_data().size() / 8;
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, t.raw_data().data() + 8 * i, 8);
      out.push_back(d);
    }
  }
  return out;
}

void ExpectTensor(const pb::Tensor& got, pb::DataType dtype, Encoding encoding,
                  const Shape& shape, const Values& expected,
                  const std::string& what) {
  SCOPED_TRACE(what + " (" + DTypeName(dtype) + ", " + EncodingName(encoding) +
               ")");
  EXPECT_EQ(got.dtype(), dtype);
  EXPECT_EQ(ShapeText(Shape(got.shape().begin(), got.shape().end())),
            ShapeText(shape));
  const bool is_float = dtype == pb::DATA_TYPE_FLOAT32;
  const size_t n = expected.size();
  if (encoding == Encoding::kRaw) {
    EXPECT_EQ(got.raw_data().size(), n * (is_float ? 4 : 8));
    EXPECT_EQ(got.float_data_size(), 0);
    EXPECT_EQ(got.double_data_size(), 0);
  } else {
    EXPECT_TRUE(got.raw_data().empty());
    EXPECT_EQ(got.float_data_size(), is_float ? static_cast<int>(n) : 0);
    EXPECT_EQ(got.double_data_size(), is_float ? 0 : static_cast<int>(n));
  }
  const Values values = ValuesOf(got);
  ASSERT_EQ(values.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(Close(values[i], expected[i], dtype))
        << what << "[" << i << "]: got " << values[i] << ", expected "
        << expected[i] << " (difference " << values[i] - expected[i] << ")";
  }
}

pb::Param Number(double v) {
  pb::Param p;
  p.set_number(v);
  return p;
}
pb::Param Text(const std::string& v) {
  pb::Param p;
  p.set_text(v);
  return p;
}
pb::Param Flag(bool v) {
  pb::Param p;
  p.set_flag(v);
  return p;
}

void ExpectError(const grpc::Status& status, grpc::StatusCode code,
                 std::initializer_list<std::string> parts) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  for (const std::string& part : parts) {
    EXPECT_NE(status.error_message().find(part), std::string::npos)
        << "message \"" << status.error_message() << "\" lacks \"" << part
        << "\"";
  }
}

}  // namespace actd::service_test
