// gRPC serialization of the actd messages that carry tensors, so that one call
// holds its tensors about once instead of twice:
//  * Responses (ForwardResponse, BackwardResponse, BatchEvaluateResponse) are
//    serialized without copying large raw_data: each such string is moved out
//    of the message into a slice that owns it; protobuf writes everything else
//    (tags, lengths, the other fields) as usual.
//  * Every message of the three RPCs is parsed from the received slices while
//    each slice is released as soon as the parser has moved past it.
//  * Requests are serialized by gRPC's usual copying code: a client keeps its
//    request and may send it again.
//
// A moved-out response is left with empty raw_data. That is safe because
// gRPC serializes a response exactly once, after the handler has returned,
// and only destroys it afterwards; a program that reads a response after
// handing it to gRPC (e.g. through an async Finish) must not use these types.
//
// activation.grpc.pb.h includes this header (protoc's grpc plugin option
// additional_header_includes), so every translation unit that instantiates
// gRPC's templates for these messages sees the same specializations; and the
// generated activation.grpc.pb.cc is compiled after rewriting its template
// arguments to the concrete message types (concrete_message_types.cmake),
// since the plugin would have gRPC use SerializationTraits<MessageLite>.
#ifndef ACTD_PROTO_SERIALIZATION_TRAITS_H_
#define ACTD_PROTO_SERIALIZATION_TRAITS_H_

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <grpcpp/support/status.h>

#include "activation/v1/activation.pb.h"

namespace actd::wire {

// Parses `buffer` into `msg`, releasing each slice once it has been consumed.
// Takes the buffer's contents: it is empty on return (as gRPC expects).
grpc::Status ParseReleasing(grpc::ByteBuffer* buffer,
                            google::protobuf::MessageLite* msg);

// Serializes `msg` into `buffer`; raw_data of at least 64 KiB becomes a slice
// that owns the string, which is moved out of `msg` (see above).
grpc::Status SerializeMovingTensors(const activation::v1::ForwardResponse& msg,
                                    grpc::ByteBuffer* buffer, bool* own_buffer);
grpc::Status SerializeMovingTensors(const activation::v1::BackwardResponse& msg,
                                    grpc::ByteBuffer* buffer, bool* own_buffer);
grpc::Status SerializeMovingTensors(
    const activation::v1::BatchEvaluateResponse& msg, grpc::ByteBuffer* buffer,
    bool* own_buffer);

template <class Request>
struct RequestTraits {
  static grpc::Status Serialize(const Request& msg, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, Request>(msg, buffer,
                                                                    own_buffer);
  }
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, Request* msg) {
    return ParseReleasing(buffer, msg);
  }
};

template <class Response>
struct ResponseTraits {
  static grpc::Status Serialize(const Response& msg, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    return SerializeMovingTensors(msg, buffer, own_buffer);
  }
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, Response* msg) {
    return ParseReleasing(buffer, msg);
  }
};

}  // namespace actd::wire

namespace grpc {

template <>
class SerializationTraits<activation::v1::ForwardRequest, void>
    : public actd::wire::RequestTraits<activation::v1::ForwardRequest> {};
template <>
class SerializationTraits<activation::v1::BackwardRequest, void>
    : public actd::wire::RequestTraits<activation::v1::BackwardRequest> {};
template <>
class SerializationTraits<activation::v1::BatchEvaluateRequest, void>
    : public actd::wire::RequestTraits<activation::v1::BatchEvaluateRequest> {};
template <>
class SerializationTraits<activation::v1::ForwardResponse, void>
    : public actd::wire::ResponseTraits<activation::v1::ForwardResponse> {};
template <>
class SerializationTraits<activation::v1::BackwardResponse, void>
    : public actd::wire::ResponseTraits<activation::v1::BackwardResponse> {};
template <>
class SerializationTraits<activation::v1::BatchEvaluateResponse, void>
    : public actd::wire::ResponseTraits<activation::v1::BatchEvaluateResponse> {
};

}  // namespace grpc

#endif  // ACTD_PROTO_SERIALIZATION_TRAITS_H_
