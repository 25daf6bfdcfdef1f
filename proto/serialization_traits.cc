// Slice-level serialization of the tensor-carrying messages: protobuf does the
// encoding (with output aliasing enabled, it offers every long bytes field to
// the stream instead of copying it) and these streams decide which bytes are
// copied, which are handed over, and when received bytes are let go.
#include "proto/serialization_traits.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <malloc.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actd::wire {
namespace {

namespace pb = activation::v1;

// raw_data at least this long is handed over instead of copied.
constexpr size_t kMinMovedBytes = size_t{64} << 10;
// Blocks for the bytes protobuf writes itself. A block must be shorter than
// kMinMovedBytes: protobuf copies a bytes field that fits in the current
// block rather than offering it for aliasing.
constexpr int kMaxBlockBytes = 16 << 10;
constexpr int kMinBlockBytes = 256;  // also above grpc's inlined slice size

// raw_data strings to move, by the address of their bytes.
using Movable = std::unordered_map<const void*, const std::string*>;

void Collect(const pb::Tensor& t, Movable* movable) {
  if (t.raw_data().size() >= kMinMovedBytes) {
    movable->emplace(t.raw_data().data(), &t.raw_data());
  }
}
void Collect(const pb::ForwardResponse& r, Movable* movable) {
  Collect(r.output(), movable);
  for (const auto& [name, t] : r.extras()) Collect(t, movable);
}
void Collect(const pb::BackwardResponse& r, Movable* movable) {
  Collect(r.grad_input(), movable);
  for (const auto& [name, t] : r.grad_params()) Collect(t, movable);
}
void Collect(const pb::BatchEvaluateResponse& r, Movable* movable) {
  for (const pb::EvaluateResponse& item : r.results()) {
    if (item.has_forward()) Collect(item.forward(), movable);
    if (item.has_backward()) Collect(item.backward(), movable);
  }
}

void DeleteString(void* s) { delete static_cast<std::string*>(s); }

// Collects a serialized message as slices: what protobuf writes goes into
// blocks (several consecutive pieces may share one block), a movable string
// that protobuf offers for aliasing becomes a slice of its own, any other
// offered bytes are copied into a slice.
class SliceWriter final : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  // `copied_bytes`: how many bytes are expected to be written into blocks,
  // for sizing them.
  SliceWriter(int64_t copied_bytes, Movable movable)
      : copied_left_(copied_bytes), movable_(std::move(movable)) {}

  bool Next(void** data, int* size) override {
    if (block_end_ - pos_ < kMinBlockBytes) NewBlock();
    // The block is ours alone until Finish(); emitted pieces end before pos_.
    *data = const_cast<uint8_t*>(block_.begin()) + pos_;
    *size = block_end_ - pos_;
    copied_left_ -= *size;
    bytes_ += *size;
    pos_ = block_end_;
    return true;
  }

  void BackUp(int count) override {
    pos_ -= count;
    copied_left_ += count;
    bytes_ -= count;
  }

  int64_t ByteCount() const override { return bytes_; }

  bool AllowsAliasing() const override { return true; }

  bool WriteAliasedRaw(const void* data, int size) override {
    EmitBlockPiece();
    auto it = movable_.find(data);
    if (it != movable_.end() &&
        it->second->size() == static_cast<size_t>(size)) {
      moves_.push_back({pieces_.size(), it->second});
      pieces_.emplace_back();  // filled in by Finish()
      movable_.erase(it);      // each string is moved once
    } else {
      pieces_.emplace_back(data, size);  // copies
      copied_left_ -= size;
    }
    bytes_ += size;
    return true;
  }

  // Moves the offered strings into their slices and hands all pieces to
  // `buffer`. Call once protobuf is done writing.
  void Finish(grpc::ByteBuffer* buffer) {
    EmitBlockPiece();
    for (const auto& [index, source] : moves_) {
      // The message is not const (gRPC's handler owns it) and is only
      // destroyed after this, so moving from it is defined; moving a heap
      // string keeps its buffer, so the slice owns the very bytes protobuf
      // was offered.
      auto* owned =
          new std::string(std::move(*const_cast<std::string*>(source)));
      pieces_[index] =
          grpc::Slice(owned->data(), owned->size(), &DeleteString, owned);
    }
    grpc::ByteBuffer result(pieces_.data(), pieces_.size());
    buffer->Swap(&result);
  }

 private:
  void EmitBlockPiece() {
    if (pos_ > emitted_) {
      pieces_.push_back(block_.sub(emitted_, pos_));
      emitted_ = pos_;
    }
  }

  void NewBlock() {
    EmitBlockPiece();
    const int size = static_cast<int>(
        std::clamp<int64_t>(copied_left_, kMinBlockBytes, kMaxBlockBytes));
    block_ = grpc::Slice(static_cast<size_t>(size));
    block_end_ = size;
    pos_ = emitted_ = 0;
  }

  int64_t copied_left_;
  Movable movable_;
  grpc::Slice block_;
  int block_end_ = 0;  // block_ has bytes [0, block_end_)
  int pos_ = 0;        // handed out to protobuf up to here
  int emitted_ = 0;    // already a piece up to here
  int64_t bytes_ = 0;
  std::vector<grpc::Slice> pieces_;
  std::vector<std::pair<size_t, const std::string*>> moves_;
};

template <class Msg>
grpc::Status Serialize(const Msg& msg, grpc::ByteBuffer* buffer,
                       bool* own_buffer) {
  Movable movable;
  Collect(msg, &movable);
  if (movable.empty()) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, Msg>(msg, buffer,
                                                                own_buffer);
  }
  *own_buffer = true;
  const size_t size = msg.ByteSizeLong();  // also caches nested sizes
  if (size > INT_MAX) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        msg.GetTypeName() + " exceeds 2 GiB");
  }
  int64_t moved_bytes = 0;
  for (const auto& [data, s] : movable) moved_bytes += s->size();
  SliceWriter writer(static_cast<int64_t>(size) - moved_bytes,
                     std::move(movable));
  {
    google::protobuf::io::CodedOutputStream out(&writer);
    out.EnableAliasing(true);
    msg.SerializeWithCachedSizes(&out);
    if (out.HadError()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "failed to serialize " + msg.GetTypeName());
    }
  }  // flushes and backs up the unused rest of the last block
  GPR_CODEGEN_ASSERT(writer.ByteCount() == static_cast<int64_t>(size));
  writer.Finish(buffer);
  return grpc::Status::OK;
}

// Dropping received slices lowers the resident size only once the allocator
// gives the freed pages back: gRPC reads into 8-64 KiB blocks, which glibc
// keeps in its arenas. So a reader of a large message trims the heap each time
// it has dropped this many bytes, and once more at the end.
constexpr size_t kTrimEveryBytes = size_t{4} << 20;

void ReturnFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Reads the slices of a received message and drops each one as soon as the
// parser asks for the next: by the ZeroCopyInputStream contract, data returned
// by Next() is only valid until the next call, and BackUp() only ever refers
// to the latest chunk, which is still held.
class ReleasingReader final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  explicit ReleasingReader(std::vector<grpc::Slice> slices)
      : slices_(std::move(slices)) {}

  ~ReleasingReader() override {
    slices_.clear();
    if (bytes_ >= static_cast<int64_t>(kTrimEveryBytes)) ReturnFreedMemory();
  }

  bool Next(const void** data, int* size) override {
    if (backup_ > 0) {
      *data = slices_[next_ - 1].end() - backup_;
      *size = backup_;
      bytes_ += backup_;
      backup_ = 0;
      return true;
    }
    if (next_ > 0) Release(&slices_[next_ - 1]);
    while (next_ < slices_.size()) {
      const grpc::Slice& slice = slices_[next_++];
      if (slice.size() == 0) continue;
      // Slices of one message are far below INT_MAX (the receive limit is
      // an int).
      GPR_CODEGEN_ASSERT(slice.size() <= INT_MAX);
      *data = slice.begin();
      *size = static_cast<int>(slice.size());
      bytes_ += *size;
      return true;
    }
    return false;
  }

  void BackUp(int count) override {
    backup_ = count;
    bytes_ -= count;
  }

  bool Skip(int count) override {
    const void* data;
    int size;
    while (Next(&data, &size)) {
      if (size >= count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return false;
  }

  int64_t ByteCount() const override { return bytes_; }

 private:
  void Release(grpc::Slice* slice) {
    released_ += slice->size();
    *slice = grpc::Slice();
    if (released_ >= kTrimEveryBytes) {
      ReturnFreedMemory();
      released_ = 0;
    }
  }

  std::vector<grpc::Slice> slices_;
  size_t next_ = 0;  // slices_[next_ - 1] is the latest chunk
  int backup_ = 0;
  int64_t bytes_ = 0;
  size_t released_ = 0;  // since the last trim
};

}  // namespace

grpc::Status ParseReleasing(grpc::ByteBuffer* buffer,
                            google::protobuf::MessageLite* msg) {
  if (buffer == nullptr || !buffer->Valid()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "No payload");
  }
  std::vector<grpc::Slice> slices;
  grpc::Status status = buffer->Dump(&slices);
  buffer->Clear();  // the reader now holds the only references
  if (!status.ok()) return status;
  ReleasingReader reader(std::move(slices));
  if (!msg->ParseFromZeroCopyStream(&reader)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "failed to parse " + msg->GetTypeName());
  }
  return grpc::Status::OK;
}

grpc::Status SerializeMovingTensors(const pb::ForwardResponse& msg,
                                    grpc::ByteBuffer* buffer,
                                    bool* own_buffer) {
  return Serialize(msg, buffer, own_buffer);
}
grpc::Status SerializeMovingTensors(const pb::BackwardResponse& msg,
                                    grpc::ByteBuffer* buffer,
                                    bool* own_buffer) {
  return Serialize(msg, buffer, own_buffer);
}
grpc::Status SerializeMovingTensors(const pb::BatchEvaluateResponse& msg,
                                    grpc::ByteBuffer* buffer,
                                    bool* own_buffer) {
  return Serialize(msg, buffer, own_buffer);
}

}  // namespace actd::wire
