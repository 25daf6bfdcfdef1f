// Dice's passes over its data (dice.cc) as packet kernels, compiled once per
// instruction set through kernels_isa.cc and exported as the table's DiceOps.
//
// Every pass works on one block: whole rows of the input's [outer, channels,
// inner] view. All arithmetic is float64 whatever the input's type: float32
// input is widened to float64 packets on load and each result rounded once on
// store, and every sum is accumulated in float64.
//
// Packets run along the contiguous dimension: along inner when inner > 1 (the
// lanes of a packet share a channel), else along the channels (lane k is
// channel c + k), where the per-channel sums are packet adds into one
// accumulator per packet of channels. Either way a block is visited in memory
// order, so its sums do not depend on how the rest is split.
#ifndef ACTD_SERVER_CORE_DICE_KERNELS_H_
#define ACTD_SERVER_CORE_DICE_KERNELS_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "server/core/kernel_table.h"
#include "server/core/packet_math.h"

namespace actd {
inline namespace ACTD_ISA {
namespace dice {

using P = pm::PacketOf<double>;
constexpr int64_t W = pm::unpacket_traits<P>::size;

// W floats at `from`, widened to a float64 packet (Q is P; a template so that
// only the branch of this build's packet is compiled).
template <typename Q>
inline Q Widen(const float* from) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Q, __m512d>) {
    return _mm512_cvtps_pd(_mm256_loadu_ps(from));
  }
#endif
#if defined(__AVX__)
  if constexpr (std::is_same_v<Q, __m256d>) {
    return _mm256_cvtps_pd(_mm_loadu_ps(from));
  }
#endif
#if defined(__SSE2__)
  if constexpr (std::is_same_v<Q, __m128d>) {
    return _mm_cvtps_pd(_mm_castsi128_ps(
        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(from))));
  }
#endif
  alignas(64) double lanes[W];
  for (int64_t k = 0; k < W; ++k) lanes[k] = from[k];
  return pm::pload<Q>(lanes);
}
// v rounded to float (to nearest, as static_cast does), stored as W floats.
template <typename Q>
inline void Narrow(float* to, const Q& v) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Q, __m512d>) {
    _mm256_storeu_ps(to, _mm512_cvtpd_ps(v));
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (std::is_same_v<Q, __m256d>) {
    _mm_storeu_ps(to, _mm256_cvtpd_ps(v));
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr (std::is_same_v<Q, __m128d>) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(to),
                     _mm_castps_si128(_mm_cvtpd_ps(v)));
    return;
  }
#endif
  alignas(64) double lanes[W];
  pm::pstore(lanes, v);
  for (int64_t k = 0; k < W; ++k) to[k] = static_cast<float>(lanes[k]);
}

// The n ≤ W values at `from` as a float64 packet, zeros in the lanes past n.
template <typename T>
inline P Load(const T* from, int64_t n) {
  if (n < W) {
    T padded[W] = {};
    std::memcpy(padded, from, n * sizeof(T));
    return Load(padded, W);
  }
  if constexpr (std::is_same_v<T, float>) {
    return Widen<P>(from);
  } else {
    return pm::ploadu<P>(from);
  }
}
// Stores the first n ≤ W lanes of v at `to`.
template <typename T>
inline void Store(T* to, const P& v, int64_t n) {
  if (n < W) {
    T lanes[W];
    Store(lanes, v, W);
    std::memcpy(to, lanes, n * sizeof(T));
  } else if constexpr (std::is_same_v<T, float>) {
    Narrow(to, v);
  } else {
    pm::pstoreu(to, v);
  }
}

// Where one packet's n ≤ W lanes lie: from element i of the block, the first
// in channel c, the others in c too or (kAlongChannels) in c + 1, c + 2, ...
template <bool kAlongChannels>
struct Lanes {
  int64_t i, c, n;
  // The lanes' entries of a per-channel array.
  P Of(const double* per_channel) const {
    if constexpr (kAlongChannels) {
      return Load(per_channel + c, n);
    } else {
      return pm::pset1<P>(per_channel[c]);
    }
  }
};

// Runs step(lanes, x, terms) over every packet of block b, in memory order,
// with x the lanes' input as float64. step sets the kSums packets `terms`,
// whose lanes are added per channel to sums[s][c].
template <int kSums, typename T, typename Step>
void Sweep(const DiceBlock<T>& b, const std::array<double*, kSums>& sums,
           const Step& step) {
  using Packets = std::array<P, kSums>;
  const int64_t C = b.channels;
  if (b.inner == 1) {
    // One accumulator per packet of channels; the lanes past C in the last
    // one take junk from the zero padding and are never read.
    const int64_t packets = (C + W - 1) / W;
    std::vector<double> acc(kSums * packets * W, 0.0);
    int64_t i = 0;
    for (int64_t r = 0; r < b.rows; ++r) {
      for (int64_t c = 0; c < C; c += W) {
        const Lanes<true> lanes{i, c, std::min(W, C - c)};
        Packets t;
        step(lanes, Load(b.x + i, lanes.n), t);
        for (int s = 0; s < kSums; ++s) {
          double* a = &acc[(s * packets + c / W) * W];
          pm::pstoreu(a, pm::padd(pm::ploadu<P>(a), t[s]));
        }
        i += lanes.n;
      }
    }
    for (int s = 0; s < kSums; ++s) {
      for (int64_t c = 0; c < C; ++c) sums[s][c] += acc[s * packets * W + c];
    }
  } else {
    int64_t i = 0;
    for (int64_t r = 0; r < b.rows; ++r) {
      for (int64_t c = 0; c < C; ++c, i += b.inner) {
        Packets acc;
        acc.fill(pm::Zero<P>());
        for (int64_t j = 0; j < b.inner; j += W) {
          const Lanes<false> lanes{i + j, c, std::min(W, b.inner - j)};
          Packets t;
          step(lanes, Load(b.x + lanes.i, lanes.n), t);
          // The padding lanes of a run's last packet belong to no element.
          const P keep = pm::Lt(pm::plset<P>(0.0), pm::Set<P>(lanes.n));
          for (int s = 0; s < kSums; ++s) {
            acc[s] = pm::padd(acc[s], pm::Select(keep, t[s], pm::Zero<P>()));
          }
        }
        for (int s = 0; s < kSums; ++s) sums[s][c] += pm::predux(acc[s]);
      }
    }
  }
}

// The kernels' entry points are [[gnu::flatten]]: everything they call is
// inlined into them (exp included), so that the compiler schedules whole loop
// bodies and overlaps consecutive packets' long dependency chains (exp,
// division); with exp called out of line, backward was markedly slower.
template <typename T>
[[gnu::flatten]] void Sum(const DiceBlock<T>& b, double* sum) {
  Sweep<1>(b, {sum},
           [](const auto&, const P& x, std::array<P, 1>& t) { t[0] = x; });
}

template <typename T>
[[gnu::flatten]] void CentredSquares(const DiceBlock<T>& b, double* sum) {
  Sweep<1>(b, {sum}, [&](const auto& lanes, const P& x, std::array<P, 1>& t) {
    const P d = pm::psub(x, lanes.Of(b.mean));
    t[0] = pm::pmul(d, d);
  });
}

// y = α·x + (1-α)·x·p, p = σ(z). Each product is 0 where its vanishing factor
// (α, 1-α, p) is: the limit at x = ±inf, where inf·0 would be NaN.
template <typename T>
[[gnu::flatten]] void Forward(const DiceBlock<T>& b) {
  Sweep<0>(b, {}, [&](const auto& lanes, const P& x, std::array<P, 0>&) {
    const P a = lanes.Of(b.alpha);
    const P z = pm::pmul(pm::psub(x, lanes.Of(b.mean)), lanes.Of(b.inv_r));
    const P xp = pm::TimesVanishing(x, pm::Sigmoid(z));
    const P y = pm::padd(pm::TimesVanishing(x, a),
                         pm::TimesVanishing(xp, pm::psub(pm::One<P>(), a)));
    Store(b.out + lanes.i, y, lanes.n);
  });
}

// Per element, with z = (x-μ)/r, p = σ(z), q = σ(-z) (each with relative
// precision, from one exp): g = dy·(1-α)·x·p·q is dL/dz, `direct` =
// dy·(α + (1-α)p) the derivative through x alone, dalpha = dy·x·q. The products
// with x are 0 where p·q or q is (x = ±inf).
struct Terms {
  P z, g, direct, dalpha;
};
template <typename T, typename L>
inline Terms BackwardTerms(const DiceBlock<T>& b, const L& lanes, const P& x) {
  const P z = pm::pmul(pm::psub(x, lanes.Of(b.mean)), lanes.Of(b.inv_r));
  const pm::SigmoidPair<P> s = pm::Sigmoids(z);
  const P dy = b.dy ? Load(b.dy + lanes.i, lanes.n) : pm::One<P>();
  const P a = lanes.Of(b.alpha);
  const P off = pm::psub(pm::One<P>(), a);  // 1 - α
  return {z, pm::pmul(pm::pmul(dy, off), pm::TimesVanishing(x, s.prod)),
          pm::pmul(dy, pm::padd(a, pm::pmul(off, s.pos))),
          pm::pmul(dy, pm::TimesVanishing(x, s.neg))};
}

// Inference: dx = direct + g/r.
template <typename T>
[[gnu::flatten]] void BackwardInference(const DiceBlock<T>& b, double* dalpha) {
  Sweep<1>(
      b, {dalpha}, [&](const auto& lanes, const P& x, std::array<P, 1>& sums) {
        const Terms t = BackwardTerms(b, lanes, x);
        sums[0] = t.dalpha;
        Store(b.out + lanes.i,
              pm::padd(t.direct, pm::pmul(t.g, lanes.Of(b.inv_r))), lanes.n);
      });
}

// Training, first pass: the sums of dalpha, g and g·z.
template <typename T>
[[gnu::flatten]] void BackwardSums(const DiceBlock<T>& b, double* dalpha,
                                   double* g, double* gz) {
  Sweep<3>(b, {dalpha, g, gz},
           [&](const auto& lanes, const P& x, std::array<P, 3>& sums) {
             const Terms t = BackwardTerms(b, lanes, x);
             sums = {t.dalpha, t.g, pm::pmul(t.g, t.z)};
           });
}

// Training, second pass: dx = direct + (g - mean(g) - z·mean(g·z))/r.
template <typename T>
[[gnu::flatten]] void BackwardTraining(const DiceBlock<T>& b) {
  Sweep<0>(b, {}, [&](const auto& lanes, const P& x, std::array<P, 0>&) {
    const Terms t = BackwardTerms(b, lanes, x);
    const P centred = pm::psub(pm::psub(t.g, lanes.Of(b.mean_g)),
                               pm::pmul(t.z, lanes.Of(b.mean_gz)));
    Store(b.out + lanes.i,
          pm::padd(t.direct, pm::pmul(lanes.Of(b.inv_r), centred)), lanes.n);
  });
}

template <typename T>
DiceOps<T> Ops() {
  DiceOps<T> ops;
  ops.sum = &Sum<T>;
  ops.centred_squares = &CentredSquares<T>;
  ops.forward = &Forward<T>;
  ops.backward_inference = &BackwardInference<T>;
  ops.backward_sums = &BackwardSums<T>;
  ops.backward_training = &BackwardTraining<T>;
  return ops;
}

}  // namespace dice
}  // namespace ACTD_ISA
}  // namespace actd

#endif  // ACTD_SERVER_CORE_DICE_KERNELS_H_
