// Element-wise kernels (see elementwise.h). Written so that the compiler vectorises them: no branches in the loops,
// the quotient computed everywhere and selected, restrict-qualified pointers.
#include "elementwise.h"

#include <algorithm>

namespace lrp::kernels {

// The quotient is computed for every element, also those the select discards (a 0/0 there is harmless): allow the
// compiler to do so (GCC keeps the branch, and the loop scalar, under its default -ftrapping-math).
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
void stabilizedDivide(const float* __restrict r, const float* __restrict z, const float* __restrict mask, int maskSign,
                      float epsilon, float* __restrict s, int64_t n) {
  if (maskSign == 0) {
    for (int64_t i = 0; i < n; ++i) {
      const float q = r[i] / (z[i] + (z[i] >= 0.f ? epsilon : -epsilon));
      s[i] = r[i] == 0.f ? 0.f : q;
    }
    return;
  }
  const float sign = maskSign > 0 ? 1.f : -1.f;
  for (int64_t i = 0; i < n; ++i) {
    const float q = r[i] / (z[i] + (z[i] >= 0.f ? epsilon : -epsilon));
    s[i] = (r[i] != 0.f && sign * mask[i] > 0.f) ? q : 0.f;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
void quotientTimes(const float* __restrict r, const float* __restrict z, float epsilon, const float* __restrict a,
                   float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = r[i] / (z[i] + (z[i] >= 0.f ? epsilon : -epsilon));
    out[i] = a[i] * (r[i] == 0.f ? 0.f : q);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))  // as gammaQuotients: lets GCC vectorise the select
#endif
void quotientTimesPair(const float* __restrict r, const float* __restrict z, float epsilon, const float* __restrict a0,
                       const float* __restrict a1, float* __restrict out0, float* __restrict out1, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = r[i] / (z[i] + (z[i] >= 0.f ? epsilon : -epsilon));
    const float s = r[i] == 0.f ? 0.f : q;
    out0[i] = a0[i] * s;
    out1[i] = a1[i] * s;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
void gammaQuotients(const float* __restrict y, const float* __restrict q, const float* __restrict r, float gamma,
                    float epsilon, float* __restrict s1, float* __restrict s2, int64_t n) {
  const float scale = 1.f + gamma, negGamma = -gamma;
  for (int64_t i = 0; i < n; ++i) {
    const float z1 = y[i] + gamma * q[i], z2 = scale * y[i] + negGamma * q[i];
    const float d1 = r[i] / (z1 + (z1 >= 0.f ? epsilon : -epsilon));
    const float d2 = r[i] / (z2 + (z2 >= 0.f ? epsilon : -epsilon));
    s1[i] = (r[i] != 0.f && y[i] > 0.f) ? d1 : 0.f;
    s2[i] = (r[i] != 0.f && y[i] < 0.f) ? d2 : 0.f;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
void gammaPositiveQuotient(const float* __restrict y, const float* __restrict q, const float* __restrict r, float gamma,
                           float epsilon, float* __restrict s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float z = y[i] + gamma * q[i];
    const float d = r[i] / (z + (z >= 0.f ? epsilon : -epsilon));
    s[i] = (r[i] != 0.f && y[i] > 0.f) ? d : 0.f;
  }
}

void multiplyAccumulate(float* __restrict dst, const float* __restrict a, const float* __restrict c, float coefficient,
                        int64_t n) {
  if (a) for (int64_t i = 0; i < n; ++i) dst[i] += coefficient * (a[i] * c[i]);
  else for (int64_t i = 0; i < n; ++i) dst[i] += coefficient * c[i];
}

void multiply(float* __restrict dst, const float* __restrict a, const float* __restrict c, int64_t n) {
  if (a) for (int64_t i = 0; i < n; ++i) dst[i] = a[i] * c[i];
  else for (int64_t i = 0; i < n; ++i) dst[i] = c[i];
}

void scaledAccumulate(float* __restrict dst, const float* __restrict src, float alpha, int64_t n) {
  if (alpha == 1.f) for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  else for (int64_t i = 0; i < n; ++i) dst[i] += alpha * src[i];
}

void scaledCopy(float* __restrict dst, const float* __restrict src, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = alpha * src[i];
}

void relu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

void sumOfTwo(const float* __restrict a, const float* __restrict b, float* y, float* relu, int64_t n) {
  if (!relu || relu == y) {
    float* __restrict out = y;
    if (relu) {
      for (int64_t i = 0; i < n; ++i) {
        const float v = a[i] + b[i];
        out[i] = v > 0.f ? v : 0.f;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
    }
    return;
  }
  float* __restrict sum = y;
  float* __restrict rectified = relu;
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i] + b[i];
    sum[i] = v;
    rectified[i] = v > 0.f ? v : 0.f;
  }
}

double sum(const float* __restrict x, int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int64_t body = n & ~int64_t(7);
  for (int64_t i = 0; i < body; i += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += double(x[i + k]);
  double total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (int64_t i = body; i < n; ++i) total += double(x[i]);
  return total;
}

void signScan(const float* __restrict x, int64_t n, bool* hasPositive, bool* hasNegative) {
  bool p = false, q = false;
  for (int64_t i = 0; i < n && !(p && q); i += 4096) {
    const int64_t stop = std::min(n, i + 4096);
    int positive = 0, negative = 0;
    for (int64_t k = i; k < stop; ++k) {
      positive |= x[k] > 0.f;
      negative |= x[k] < 0.f;
    }
    p |= positive != 0;
    q |= negative != 0;
  }
  *hasPositive = p;
  *hasNegative = q;
}

}  // namespace lrp::kernels
