#include "common/codec/encoder.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/codec/bit_packing.h"

namespace cohort::codec {
namespace {

uint64_t Mask(int bits) { return (uint64_t{1} << bits) - 1; }

}  // namespace

int64_t StochasticRound(double x, double u) {
  const double f = std::floor(x);
  return static_cast<int64_t>(f) + (u < x - f ? 1 : 0);
}

double ClipToNorm(absl::Span<double> x, double clip_norm) {
  double sq = 0;
  for (double v : x) sq += v * v;
  const double norm = std::sqrt(sq);
  if (norm > clip_norm) {
    const double factor = clip_norm / norm;
    for (double& v : x) v *= factor;
  }
  return norm;
}

absl::Status ModularAdd(absl::Span<uint64_t> a, absl::Span<const uint64_t> b,
                        int bits) {
  if (bits < 1 || bits > 62) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits must be in [1, 62], got ", bits));
  }
  if (a.size() != b.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "size mismatch: ", a.size(), " vs ", b.size()));
  }
  const uint64_t mask = Mask(bits);
  for (size_t i = 0; i < a.size(); ++i) a[i] = (a[i] + b[i]) & mask;
  return absl::OkStatus();
}

Encoder::Encoder(const EncodingParams& params, int64_t dimension)
    : params_(params), dimension_(dimension) {
  if (params.rotate) rotation_.emplace(dimension, params.rotation_seed);
}

absl::StatusOr<Encoder> Encoder::Create(const EncodingParams& params,
                                        int64_t dimension) {
  if (absl::Status s = ValidateParams(params); !s.ok()) return s;
  if (dimension < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimension must be >= 1, got ", dimension));
  }
  return Encoder(params, dimension);
}

int64_t Encoder::encoded_dimension() const {
  return rotation_ ? rotation_->padded_dimension() : dimension_;
}

absl::StatusOr<std::vector<int64_t>> Encoder::Round(
    absl::Span<const float> x, UniformSource uniform) const {
  if (static_cast<int64_t>(x.size()) != dimension_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", dimension_, " values, got ", x.size()));
  }
  std::vector<double> v(x.begin(), x.end());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("non-finite value at index ", i));
    }
  }
  ClipToNorm(absl::MakeSpan(v), params_.clip_norm);
  if (rotation_) v = rotation_->Rotate(v);
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = StochasticRound(v[i] * params_.scale, uniform());
  }
  return out;
}

std::vector<uint64_t> Encoder::Wrap(absl::Span<const int64_t> rounded) const {
  const uint64_t mask = Mask(params_.bits);
  std::vector<uint64_t> out(rounded.size());
  for (size_t i = 0; i < rounded.size(); ++i) {
    // Two's-complement wrap: the unsigned cast is modular arithmetic.
    out[i] = static_cast<uint64_t>(rounded[i]) & mask;
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> Encoder::Encode(
    absl::Span<const float> x, UniformSource uniform) const {
  absl::StatusOr<std::vector<int64_t>> rounded = Round(x, uniform);
  if (!rounded.ok()) return rounded.status();
  return Wrap(*rounded);
}

absl::StatusOr<std::vector<uint8_t>> Encoder::EncodeAndPack(
    absl::Span<const float> x, UniformSource uniform) const {
  absl::StatusOr<std::vector<uint64_t>> enc = Encode(x, uniform);
  if (!enc.ok()) return enc.status();
  return PackBits(*enc, params_.bits);
}

absl::StatusOr<std::vector<double>> Encoder::DecodeSum(
    absl::Span<const uint64_t> sum) const {
  if (static_cast<int64_t>(sum.size()) != encoded_dimension()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected ", encoded_dimension(), " values, got ", sum.size()));
  }
  const int bits = params_.bits;
  const uint64_t mask = Mask(bits);
  const uint64_t half = uint64_t{1} << (bits - 1);
  std::vector<double> v(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    if (sum[i] > mask) {
      return absl::InvalidArgumentError(absl::StrCat(
          "value at index ", i, " is >= 2^", bits));
    }
    const int64_t s = sum[i] >= half
                          ? static_cast<int64_t>(sum[i]) -
                                static_cast<int64_t>(uint64_t{1} << bits)
                          : static_cast<int64_t>(sum[i]);
    v[i] = static_cast<double>(s) / params_.scale;
  }
  if (rotation_) return rotation_->InverseRotate(v);
  return v;
}

}  // namespace cohort::codec
