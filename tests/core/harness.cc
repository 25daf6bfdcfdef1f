// Inputs and failure reporting for the compute-core tests (see harness.h).
#include "tests/core/harness.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace actd::testing {

std::string Num(long double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.21Lg", v);
  return buf;
}

Mismatches::~Mismatches() {
  ::testing::Test::RecordProperty("worst_error_over_bound_" + what_,
                                  Num(worst_));
  if (failures_ == 0) return;
  std::string text = what_ + ": " + std::to_string(failures_) + " of " +
                     std::to_string(checked_) + " values out of bounds";
  for (const std::string& line : first_) text += "\n  " + line;
  ADD_FAILURE() << text;
}

void Mismatches::Add(const std::string& where, long double x, long double got,
                     long double want, long double bound) {
  ++failures_;
  if (first_.size() < 12) {
    first_.push_back(
        where + " x=" + Num(x) + " got=" + Num(got) + " want=" + Num(want) +
        " |err|=" + Num(std::fabs(got - want)) + " bound=" + Num(bound));
  }
}

template <typename T>
std::vector<T> EdgeInputs() {
  using L = std::numeric_limits<T>;
  const T inf = L::infinity();
  std::vector<T> v = {T(0),
                      -T(0),
                      inf,
                      -inf,
                      L::quiet_NaN(),
                      -L::quiet_NaN(),
                      L::denorm_min(),
                      -L::denorm_min(),
                      L::min() / 2,
                      -L::min() / 3,
                      L::min(),
                      -L::min(),
                      T(1e-30),
                      T(-1e-30),
                      T(88.72),
                      T(-87.3),
                      T(88.8),
                      T(-88.8),
                      T(-103.9),
                      T(44.36),
                      T(22.18),
                      T(20),
                      T(-20),
                      T(-9),
                      T(15.7),
                      T(7.9),
                      T(-7.9),
                      T(8.6),
                      T(-8.6),
                      T(1e6),
                      T(-1e6),
                      L::max(),
                      -L::max(),
                      T(1e-4),
                      T(-1e-4),
                      T(5e-5),
                      T(-3e-5),
                      T(1e-7),
                      T(-1e-7),
                      T(1e-12),
                      T(-1e-12),
                      T(1),
                      T(-1),
                      T(0.5),
                      T(-0.5),
                      T(2),
                      T(-2),
                      T(3),
                      T(-3),
                      T(30),
                      T(-30),
                      T(50),
                      T(-50),
                      T(100),
                      T(-100),
                      T(1e3),
                      T(-1e3),
                      T(1e10),
                      T(-1e10),
                      T(1e20),
                      T(-1e20)};
  // -5.5 to -6 and -10 to -14: the GELU tails.
  for (double x = -5.5; x >= -6.0; x -= 0.0625) v.push_back(T(x));
  for (double x = -10; x >= -14; x -= 0.25) v.push_back(T(x));
  // Around the ReLU kink and the extrema of GELU, Swish, Mish.
  for (double x = -1.5; x <= 1.5; x += 0.03125) v.push_back(T(x));
  if constexpr (sizeof(T) == 8) {
    // The float64 analogues: exp over/underflow, the largest and smallest.
    for (double x : {709.78, -708.39, -745.1, -745.2, 709.8, 354.89, 177.45,
                     -37.5, 1e15, -1e15, 1e100, -1e100, 1e300, -1e300}) {
      v.push_back(x);
    }
  }
  return v;
}

template <typename T>
std::vector<T> RandomNormals(uint64_t seed, int per_scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<T> v;
  for (double scale : {0.01, 0.3, 1.0, 3.0, 10.0, 40.0}) {
    for (int i = 0; i < per_scale; ++i) v.push_back(T(scale * normal(rng)));
  }
  return v;
}

template <typename T>
std::vector<T> AccuracyInputs(uint64_t seed) {
  std::vector<T> edges = EdgeInputs<T>();
  std::vector<T> v;
  // Each edge at offsets 0..16 from a packet start, among random neighbours.
  std::vector<T> normals = RandomNormals<T>(seed, 700);
  size_t k = 0;
  for (size_t i = 0; i < edges.size(); ++i) {
    for (size_t pad = 0; pad < i % 17; ++pad)
      v.push_back(normals[k++ % normals.size()]);
    v.push_back(edges[i]);
  }
  v.insert(v.end(), normals.begin(), normals.end());
  // A dense grid over [-20, 20]: every region of every function, step 0.01.
  for (int i = -2000; i <= 2000; ++i) v.push_back(T(i * 0.01));
  v.push_back(T(0.25));  // an odd count: a padded tail in every ISA
  return v;
}

template <typename T>
std::vector<T> Finite(std::vector<T> v) {
  v.erase(
      std::remove_if(v.begin(), v.end(), [](T x) { return !std::isfinite(x); }),
      v.end());
  return v;
}

template <typename T>
std::vector<T> RandomGrads(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<T> v(n);
  for (T& g : v) g = T(normal(rng));
  return v;
}

template std::vector<float> EdgeInputs<float>();
template std::vector<double> EdgeInputs<double>();
template std::vector<float> RandomNormals<float>(uint64_t, int);
template std::vector<double> RandomNormals<double>(uint64_t, int);
template std::vector<float> AccuracyInputs<float>(uint64_t);
template std::vector<double> AccuracyInputs<double>(uint64_t);
template std::vector<float> Finite<float>(std::vector<float>);
template std::vector<double> Finite<double>(std::vector<double>);
template std::vector<float> RandomGrads<float>(uint64_t, size_t);
template std::vector<double> RandomGrads<double>(uint64_t, size_t);

}  // namespace actd::testing
