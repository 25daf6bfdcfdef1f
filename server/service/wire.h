// How the service's messages travel: the server's own parse and serialize of
// every ActivationService message, in one place, so that one call holds its
// tensors about once instead of twice.
//  * Requests are parsed from the received slices while each slice is released
//    as soon as the parser has moved past it. A compressed request is inflated
//    here (gRPC's own per-message decompression is switched off), never beyond
//    the message size limit.
//  * A response is serialized by the handler, from a message it owns: raw_data
//    of 64 KiB or more is moved out of the message into a slice that owns the
//    string; protobuf writes everything else (tags, lengths, other fields).
//
// gRPC sees two kinds of types, each with its SerializationTraits below:
// Received<Msg> for a request (always "deserializes"; a parse failure is kept
// in it, so the handler answers and reports it like any other bad request) and
// Reply for a serialized response. Handlers that take them are registered by
// the service itself (activation_service.cc), so the generated code is used as
// protoc wrote it.
#ifndef ACTD_SERVER_SERVICE_WIRE_H_
#define ACTD_SERVER_SERVICE_WIRE_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "activation/v1/activation.pb.h"
#include "inference/grpc_service.pb.h"

namespace actd::wire {

// Parses `buffer` into `msg`, releasing each slice once it has been consumed,
// and takes the buffer's contents (it is empty on return). A compressed
// message (gzip or deflate) is inflated first; INVALID_ARGUMENT when the bytes
// are not a `msg`, RESOURCE_EXHAUSTED when the message inflates to more than
// `max_bytes`, UNIMPLEMENTED for another compression algorithm. The heap's
// free pages are given back to the kernel while a large message is read, so
// the call's peak holds about one copy of its input.
absl::Status ParseReleasing(grpc::ByteBuffer* buffer,
                            google::protobuf::MessageLite* msg,
                            int64_t max_bytes);

// The same for a Forward, whose output usually overwrites its input's string
// (a large raw element-wise tensor, EvaluateForwardInPlace): the slices freed
// by its parse do not add to its peak, so they stay in the heap for the next
// call's receive instead of being given back and faulted in again. The caller
// calls ReturnReceivedMemory() when its output cannot overwrite the input.
absl::Status ParseReleasing(grpc::ByteBuffer* buffer,
                            activation::v1::ForwardRequest* msg,
                            int64_t max_bytes);

// After a Forward's parse of a message of `message_bytes`: gives the heap's
// free pages back to the kernel if the parse of another request would have (a
// large message), before the call allocates a buffer as large as its input.
void ReturnReceivedMemory(size_t message_bytes);

// Serializes `msg` into `buffer`; raw_data (raw_output_contents) of at least
// 64 KiB becomes a slice that owns the string, which is moved out of `msg`
// (left empty).
absl::Status SerializeMovingTensors(activation::v1::ForwardResponse* msg,
                                    grpc::ByteBuffer* buffer);
absl::Status SerializeMovingTensors(activation::v1::BackwardResponse* msg,
                                    grpc::ByteBuffer* buffer);
absl::Status SerializeMovingTensors(activation::v1::BatchEvaluateResponse* msg,
                                    grpc::ByteBuffer* buffer);
absl::Status SerializeMovingTensors(inference::ModelInferResponse* msg,
                                    grpc::ByteBuffer* buffer);
// Any other message, copied into slices.
absl::Status SerializeCopying(const google::protobuf::MessageLite& msg,
                              grpc::ByteBuffer* buffer);

// Sets the allocator up for message buffers (wire.cc says why) and starts a
// thread that trims the heap once no call has been open for a second, so that
// a server at rest holds what it uses. Call first thing in main, before any
// other thread starts (glibc fixes its arena limit at the second thread's
// first allocation); later calls do nothing.
void TuneAllocator();

// The receive limit every Received<Msg> parses with; set once at start-up
// (the server's --max_message_bytes), before any call.
void SetMaxReceiveBytes(int64_t bytes);
int64_t MaxReceiveBytes();

// Counts itself among the open calls while it exists: the server is at rest
// (and the idle trimmer may give memory back) only when no call is open.
class OpenCall {
 public:
  OpenCall();
  OpenCall(const OpenCall&);
  OpenCall& operator=(const OpenCall&) = default;
  ~OpenCall();
};

// A request as the handler gets it: the message, the size it had on the wire,
// and OK or why it could not be parsed. It lives as long as its call (gRPC
// holds it for a registered method, the call's reactor for a routed one,
// unary_routes.h) and is destroyed once the response is sent, so it is an
// OpenCall: a large response still being sent keeps its call open.
template <class Msg>
struct Received {
  // gRPC hands the handler its request as const; the call is the message's
  // only user, and may take its tensors (EvaluateForwardInPlace).
  mutable Msg message;
  size_t wire_bytes = 0;
  absl::Status status;
  OpenCall open;
};

// A response as the handler built it.
struct Reply {
  grpc::ByteBuffer buffer;
};

}  // namespace actd::wire

namespace grpc {

template <class Msg>
class SerializationTraits<actd::wire::Received<Msg>, void> {
 public:
  static Status Deserialize(ByteBuffer* buffer,
                            actd::wire::Received<Msg>* received) {
    received->wire_bytes = buffer->Length();
    received->status = actd::wire::ParseReleasing(
        buffer, &received->message, actd::wire::MaxReceiveBytes());
    return Status::OK;
  }
};

template <>
class SerializationTraits<actd::wire::Reply, void> {
 public:
  // Shares the reply's slices (reference counts, no copy of the bytes).
  static Status Serialize(const actd::wire::Reply& reply, ByteBuffer* buffer,
                          bool* own_buffer) {
    *buffer = reply.buffer;
    *own_buffer = true;
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // ACTD_SERVER_SERVICE_WIRE_H_
