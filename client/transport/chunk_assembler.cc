#include "client/transport/chunk_assembler.h"

#include <utility>

namespace cohort::client {

using cohort::v1::ModelChunk;

ChunkAssembler::ChunkAssembler(const cohort::v1::ModelRef& ref,
                               int64_t base_version)
    : artifact_size_(ref.size_bytes()), base_version_(base_version) {}

bool ChunkAssembler::ValidFirst(const ModelChunk& chunk) const {
  switch (chunk.encoding()) {
    case ModelChunk::FULL:
      return chunk.total_size() == artifact_size_;
    case ModelChunk::ZSTD_DELTA:
      return base_version_ > 0 && chunk.base_version() == base_version_ &&
             chunk.artifact_size() == artifact_size_ &&
             chunk.total_size() >= 0 && chunk.total_size() <= artifact_size_;
    default:
      return false;
  }
}

bool ChunkAssembler::Continues(const ModelChunk& chunk) const {
  return chunk.offset() == size() && chunk.encoding() == first_->encoding() &&
         chunk.total_size() == first_->total_size() &&
         chunk.base_version() == first_->base_version() &&
         static_cast<int64_t>(chunk.data().size()) <=
             first_->total_size() - size();
}

absl::Status ChunkAssembler::Add(const ModelChunk& chunk) {
  if (!first_.has_value()) {
    if (!ValidFirst(chunk)) {
      return absl::DataLossError("model stream starts with a chunk that does "
                                 "not fit the model asked for");
    }
    first_ = chunk;
    first_->clear_data();
    bytes_.reserve(static_cast<size_t>(first_->total_size()));
  }
  if (!Continues(chunk)) {
    return absl::DataLossError("model stream is inconsistent");
  }
  bytes_.append(chunk.data());
  return absl::OkStatus();
}

bool ChunkAssembler::complete() const {
  return first_.has_value() && size() == first_->total_size();
}

bool ChunkAssembler::delta() const {
  return first_.has_value() && first_->encoding() == ModelChunk::ZSTD_DELTA;
}

std::string ChunkAssembler::Take() {
  std::string out = std::move(bytes_);
  bytes_.clear();
  first_.reset();
  return out;
}

}  // namespace cohort::client
