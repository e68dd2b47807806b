// Element-wise kernels over contiguous spans: the rule arithmetic and the reductions between the GEMMs.
// Pointers are restrict-qualified (outputs never overlap inputs) so that the loops vectorise.
#pragma once

#include <cstdint>

namespace lrp::kernels {

// s = m·r / (z + ε·sign0(z)), where m = 1 (maskSign 0) or [mask·maskSign > 0]; s = 0 wherever r = 0.
void stabilizedDivide(const float* r, const float* z, const float* mask, int maskSign, float epsilon, float* s, int64_t n);
// out = a ⊙ s with s = r / stab(z) as stabilizedDivide's (no mask) in one pass: the same bits as the two steps.
void quotientTimes(const float* r, const float* z, float epsilon, const float* a, float* out, int64_t n);
// quotientTimes for two inputs sharing r and z (a sum's norm rule), each quotient computed once: the same bits.
void quotientTimesPair(const float* r, const float* z, float epsilon, const float* a0, const float* a1, float* out0,
                       float* out1, int64_t n);
// The γ rule's quotients in one pass: z₁ = y + γ·q, z₂ = (1 + γ)·y + (−γ)·q, s₁ = [y > 0]·r / stab(z₁),
// s₂ = [y < 0]·r / stab(z₂) (stab as in stabilizedDivide; both 0 wherever r = 0).
void gammaQuotients(const float* y, const float* q, const float* r, float gamma, float epsilon, float* s1, float* s2,
                    int64_t n);
// gammaQuotients' s1 alone (the same operations, the same values).
void gammaPositiveQuotient(const float* y, const float* q, const float* r, float gamma, float epsilon, float* s,
                           int64_t n);
// dst += coefficient · a ⊙ c (a null: ones).
void multiplyAccumulate(float* dst, const float* a, const float* c, float coefficient, int64_t n);
// dst = a ⊙ c (a null: c).
void multiply(float* dst, const float* a, const float* c, int64_t n);
// dst += alpha · src.
void scaledAccumulate(float* dst, const float* src, float alpha, int64_t n);
// dst = alpha · src.
void scaledCopy(float* dst, const float* src, float alpha, int64_t n);
// y = max(x, 0); y may be x.
void relu(const float* x, float* y, int64_t n);
// y = a + b, and relu's max(y, 0) into `relu` when it is not null, in one pass (a sum and the ReLU after it); relu
// may be y, which then holds max(a + b, 0) alone.
void sumOfTwo(const float* a, const float* b, float* y, float* relu, int64_t n);
// Σ x in double precision, with eight interleaved partial sums added in a fixed order.
double sum(const float* x, int64_t n);
// Whether x has a value > 0 / < 0 (scans in branch-free blocks, stops once both were seen).
void signScan(const float* x, int64_t n, bool* hasPositive, bool* hasNegative);

}  // namespace lrp::kernels
