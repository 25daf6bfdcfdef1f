// The server's wire format (server/service/wire.h): responses serialize to
// exactly a valid protobuf encoding with large raw_data handed over instead of
// copied, every message parses back from slices of any size while they are
// released, and compressed requests inflate within the size limit.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstring>
#include <string>
#include <vector>

#include "activation/v1/activation.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/service/wire.h"
#include "tests/service/harness.h"

namespace actd::service_test {
namespace {

namespace pb = activation::v1;
using google::protobuf::util::MessageDifferencer;

// A raw float32 tensor of n elements with distinct bytes.
pb::Tensor Raw(int64_t n, float offset = 0) {
  pb::Tensor t;
  t.set_dtype(pb::DATA_TYPE_FLOAT32);
  t.add_shape(n);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = offset + static_cast<float>(i) * 0.5f;
  t.set_raw_data(v.data(), v.size() * sizeof(float));
  return t;
}

pb::Tensor Typed(int64_t n) {
  pb::Tensor t;
  t.add_shape(n);
  for (int64_t i = 0; i < n; ++i) t.add_double_data(1.0 / (i + 1));
  return t;
}

pb::Tensor Empty() {
  pb::Tensor t;
  t.set_dtype(pb::DATA_TYPE_FLOAT64);
  t.add_shape(3);
  t.add_shape(0);
  return t;
}

std::string Flatten(const grpc::ByteBuffer& buffer,
                    std::vector<grpc::Slice>* slices) {
  EXPECT_TRUE(buffer.Dump(slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : *slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

// Serializes a copy of `msg` through the traits and checks the bytes: they
// parse back to `msg`, have its exact size, and each raw_data of 64 KiB or
// more was handed over (a slice starts at its bytes; the copy lost them).
template <class Msg>
void CheckSerialize(const Msg& msg) {
  Msg sent = msg;
  std::vector<const void*> large;
  std::vector<const pb::Tensor*> tensors;
  auto note = [&](const pb::Tensor& t) {
    tensors.push_back(&t);
    if (t.raw_data().size() >= 64 << 10) large.push_back(t.raw_data().data());
  };
  if constexpr (std::is_same_v<Msg, pb::ForwardResponse>) {
    note(sent.output());
    for (const auto& [k, t] : sent.extras()) note(t);
  } else if constexpr (std::is_same_v<Msg, pb::BackwardResponse>) {
    note(sent.grad_input());
    for (const auto& [k, t] : sent.grad_params()) note(t);
  } else {
    for (const auto& item : sent.results()) {
      note(item.forward().output());
      for (const auto& [k, t] : item.forward().extras()) note(t);
      note(item.backward().grad_input());
      for (const auto& [k, t] : item.backward().grad_params()) note(t);
    }
  }

  grpc::ByteBuffer buffer;
  ASSERT_TRUE(wire::SerializeMovingTensors(&sent, &buffer).ok());
  std::vector<grpc::Slice> slices;
  const std::string bytes = Flatten(buffer, &slices);
  EXPECT_EQ(bytes.size(), msg.ByteSizeLong());
  Msg back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  EXPECT_TRUE(MessageDifferencer::Equals(back, msg))
      << "sent:\n"
      << msg.ShortDebugString().substr(0, 2000) << "\nreceived:\n"
      << back.ShortDebugString().substr(0, 2000);
  for (const void* data : large) {
    bool found = false;
    for (const grpc::Slice& s : slices) found |= s.begin() == data;
    EXPECT_TRUE(found) << "a large raw_data was copied";
  }
  size_t left = 0;
  for (const pb::Tensor* t : tensors) {
    left += t->raw_data().size() >= 64 << 10 ? t->raw_data().size() : 0;
  }
  EXPECT_EQ(left, 0u) << "large raw_data stayed in the sent message";
}

// Parses `bytes` through the traits from slices of `chunk` bytes (0: one
// empty slice between each two of 7 bytes) and expects `msg` back.
template <class Msg>
void CheckParse(const Msg& msg, const std::string& bytes, size_t chunk) {
  std::vector<grpc::Slice> slices;
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = std::min(chunk == 0 ? 7 : chunk, bytes.size() - i);
    slices.emplace_back(bytes.data() + i, n);
    if (chunk == 0) slices.emplace_back();
    i += n;
  }
  grpc::ByteBuffer buffer(slices.data(), slices.size());
  slices.clear();
  Msg back;
  ASSERT_TRUE(wire::ParseReleasing(&buffer, &back, int64_t{1} << 30).ok())
      << "chunk " << chunk;
  EXPECT_FALSE(buffer.Valid());
  EXPECT_TRUE(MessageDifferencer::Equals(back, msg)) << "chunk " << chunk;
}

template <class Msg>
void CheckParseAll(const Msg& msg) {
  const std::string bytes = msg.SerializeAsString();
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{13}, size_t{4096},
                       size_t{65536}, bytes.size() + 1}) {
    // Tiny slices only where they stay few.
    if (chunk < 4096 && bytes.size() > (size_t{1} << 20)) continue;
    CheckParse(msg, bytes, chunk);
  }
}

pb::ForwardResponse Forward(int64_t n) {
  pb::ForwardResponse r;
  *r.mutable_output() = Raw(n);
  return r;
}

TEST(Serialization, ForwardResponseLargeSmallEmptyTyped) {
  // No maps: the bytes are exactly protobuf's own serialization.
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{16383}, int64_t{16384},
                    int64_t{100001}, int64_t{1} << 20}) {
    SCOPED_TRACE(n);
    const pb::ForwardResponse msg = Forward(n);
    pb::ForwardResponse sent = msg;
    grpc::ByteBuffer buffer;
    ASSERT_TRUE(wire::SerializeMovingTensors(&sent, &buffer).ok());
    std::vector<grpc::Slice> slices;
    EXPECT_EQ(Flatten(buffer, &slices), msg.SerializeAsString());
    CheckSerialize(msg);
    CheckParseAll(msg);
  }
  pb::ForwardResponse typed;
  *typed.mutable_output() = Typed(50000);
  CheckSerialize(typed);
  CheckParseAll(typed);
  pb::ForwardResponse empty;
  *empty.mutable_output() = Empty();
  CheckSerialize(empty);
  CheckParseAll(empty);
  CheckSerialize(pb::ForwardResponse());
  CheckParseAll(pb::ForwardResponse());
}

TEST(Serialization, ResponsesWithMaps) {
  pb::ForwardResponse forward = Forward(300000);
  (*forward.mutable_extras())["batch_mean"] = Raw(70000, 1);
  (*forward.mutable_extras())["batch_var"] = Raw(5, 2);
  (*forward.mutable_extras())["typed"] = Typed(20000);
  (*forward.mutable_extras())["empty"] = Empty();
  CheckSerialize(forward);
  CheckParseAll(forward);

  pb::BackwardResponse backward;
  *backward.mutable_grad_input() = Raw(200000);
  (*backward.mutable_grad_params())["alpha"] = Raw(1);
  (*backward.mutable_grad_params())["weight"] = Raw(1 << 17, 3);
  CheckSerialize(backward);
  CheckParseAll(backward);
}

TEST(Serialization, BatchResponseWithManyItems) {
  pb::BatchEvaluateResponse batch;
  for (int i = 0; i < 300; ++i) {
    pb::EvaluateResponse* item = batch.add_results();
    item->set_id("item-" + std::to_string(i));
    switch (i % 5) {
      case 0:
        *item->mutable_forward()->mutable_output() = Raw(16384 + i, i);
        break;
      case 1:
        *item->mutable_backward()->mutable_grad_input() = Raw(i, i);
        (*item->mutable_backward()->mutable_grad_params())["alpha"] =
            Raw(16384, i);
        break;
      case 2:
        *item->mutable_forward()->mutable_output() = Typed(i);
        break;
      case 3:
        // An error with a message long enough for protobuf to offer it for
        // aliasing: it must be copied, not moved.
        item->set_code(3);
        item->set_message(std::string(20000 + i, 'a' + i % 26));
        break;
      default:
        *item->mutable_forward()->mutable_output() = Empty();
    }
  }
  CheckSerialize(batch);
  CheckParseAll(batch);
}

TEST(Serialization, RequestsAreParsedFromSlices) {
  pb::ForwardRequest forward;
  forward.mutable_activation()->set_name("prelu");
  (*forward.mutable_activation()->mutable_weights())["alpha"] = Raw(3);
  *forward.mutable_input() = Raw(1 << 17);
  CheckParseAll(forward);

  pb::BackwardRequest backward;
  backward.mutable_activation()->set_name("gelu");
  *backward.mutable_input() = Raw(100000);
  *backward.mutable_grad_output() = Raw(100000, 7);
  *backward.mutable_output() = Typed(10);
  CheckParseAll(backward);

  pb::BatchEvaluateRequest batch;
  for (int i = 0; i < 50; ++i) {
    pb::EvaluateRequest* item = batch.add_items();
    item->set_id(std::to_string(i));
    if (i % 2 == 0) {
      *item->mutable_forward() = forward;
    } else {
      *item->mutable_backward() = backward;
    }
  }
  CheckParseAll(batch);
}

// A Forward's parse reserves input.raw_data at the length the message's first
// bytes declare (wire.cc, ReserveDeclaredRawData). What it parses must not
// depend on that: raw_data before the other fields, input given twice (merged:
// the later raw_data wins, shorter or longer), or a declared length beyond the
// bytes received (both parses fail).
TEST(Serialization, ForwardParseIsProtobufsWhateverTheDeclaredLength) {
  const pb::Tensor large = Raw(1 << 16);
  pb::ForwardRequest data_only, rest, small;
  data_only.mutable_input()->set_raw_data(large.raw_data());
  rest.mutable_activation()->set_name("relu");
  rest.mutable_input()->set_dtype(large.dtype());
  *rest.mutable_input()->mutable_shape() = large.shape();
  *small.mutable_input() = Raw(10, 3);
  for (const std::string& bytes :
       {data_only.SerializeAsString() + rest.SerializeAsString(),
        small.SerializeAsString() + data_only.SerializeAsString(),
        data_only.SerializeAsString() + small.SerializeAsString()}) {
    pb::ForwardRequest expected;
    ASSERT_TRUE(expected.ParseFromString(bytes));
    for (size_t chunk : {size_t{0}, size_t{13}, size_t{4096}}) {
      CheckParse(expected, bytes, chunk);
    }
  }
  // A zero tag or an end-group tag ends a merge but not a message.
  for (const char* stop : {"\x00", "\x0c"}) {
    const std::string bytes =
        rest.SerializeAsString() + std::string(stop, 1) + "\x08\x01";
    pb::ForwardRequest reference;
    ASSERT_FALSE(reference.ParseFromString(bytes));
    grpc::Slice slice(bytes.data(), bytes.size());
    grpc::ByteBuffer buffer(&slice, 1);
    pb::ForwardRequest msg;
    EXPECT_EQ(wire::ParseReleasing(&buffer, &msg, 1 << 20).code(),
              absl::StatusCode::kInvalidArgument)
        << int{stop[0]};
  }
  std::string cut = data_only.SerializeAsString();
  cut.resize(cut.size() / 2);
  grpc::Slice slice(cut.data(), cut.size());
  grpc::ByteBuffer buffer(&slice, 1);
  pb::ForwardRequest msg;
  EXPECT_EQ(wire::ParseReleasing(&buffer, &msg, 1 << 20).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Serialization, MalformedInputFails) {
  std::string bytes = Forward(1000).SerializeAsString();
  bytes.resize(bytes.size() - 1);  // raw_data shorter than its length
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer buffer(&slice, 1);
  pb::ForwardResponse msg;
  const absl::Status status = wire::ParseReleasing(&buffer, &msg, 1 << 20);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("activation.v1.ForwardResponse"),
            std::string::npos)
      << status;
  EXPECT_FALSE(buffer.Valid());
}

TEST(Serialization, CopiedMessagesAreProtobufsOwnBytes) {
  pb::ServerInfo info;
  info.set_version(std::string(70000, 'v'));  // long enough to be aliased
  info.set_isa("avx2");
  grpc::ByteBuffer buffer;
  ASSERT_TRUE(wire::SerializeCopying(info, &buffer).ok());
  std::vector<grpc::Slice> slices;
  EXPECT_EQ(Flatten(buffer, &slices), info.SerializeAsString());
  EXPECT_EQ(info.version().size(), 70000u);  // not moved
}

// Compressed requests, end to end: gRPC leaves them compressed and the
// service inflates them, never past the message size limit.
pb::ForwardRequest Zeros(int64_t n) {
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("relu");
  pb::Tensor* input = request.mutable_input();
  input->set_dtype(pb::DATA_TYPE_FLOAT32);
  input->add_shape(n);
  input->mutable_raw_data()->resize(n * sizeof(float));
  return request;
}

TEST(Compression, GzipAndDeflateRequestsAreInflated) {
  InProcessServer server({}, 8 << 20);
  for (grpc_compression_algorithm algorithm :
       {GRPC_COMPRESS_GZIP, GRPC_COMPRESS_DEFLATE}) {
    SCOPED_TRACE(algorithm);
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    context->set_compression_algorithm(algorithm);
    pb::ForwardRequest request = Zeros(1 << 20);  // 4 MiB, a few KiB gzipped
    request.mutable_input()->mutable_raw_data()->at(4) = 1;
    pb::ForwardResponse response;
    const grpc::Status status =
        server.stub().Forward(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.output().raw_data(), request.input().raw_data());
  }
}

TEST(Compression, ABombIsRefusedWhileInflating) {
  ServiceOptions options;
  options.max_message_bytes = 1 << 20;
  InProcessServer server(options, 1 << 20);
  // A client that sends more than the server accepts uncompressed.
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  auto stub = pb::ActivationService::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server.port()),
                                grpc::InsecureChannelCredentials(), args));
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  context->set_compression_algorithm(GRPC_COMPRESS_GZIP);
  // 64 MiB of zeros: about 64 KiB on the wire, within the 1 MiB limit.
  pb::ForwardResponse response;
  const grpc::Status status =
      stub->Forward(context.get(), Zeros(16 << 20), &response);
  ExpectError(status, grpc::StatusCode::RESOURCE_EXHAUSTED,
              {"request", "inflates to more than 1048576 bytes",
               "--max_message_bytes"});
}

}  // namespace
}  // namespace actd::service_test
