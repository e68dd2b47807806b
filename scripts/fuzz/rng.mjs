// A small seeded random generator (xorshift128+ style, 32-bit halves) and the picks the fuzzer makes with it.

/** Mixes two integers into a 32-bit seed (so iteration i of seed s always gets the same stream). */
export function mixSeed(seed, iteration) {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(iteration >>> 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A seeded random stream with the helpers the generators need. */
export class Rng {
  constructor(seed) {
    this.s = [seed >>> 0 || 1, 0x6d2b79f5, 0x1b873593, 0xcc9e2d51];
    for (let i = 0; i < 8; i++) this.u32();
  }

  u32() {
    // xoshiro128**
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float() { return this.u32() / 2 ** 32; }
  /** Integer in [0, n). */
  int(n) { return n <= 0 ? 0 : Math.floor(this.float() * n); }
  /** Integer in [lo, hi]. */
  range(lo, hi) { return lo + this.int(hi - lo + 1); }
  bool(p = 0.5) { return this.float() < p; }
  pick(array) { return array[this.int(array.length)]; }
  /** Picks a key of `weights` with probability proportional to its value. */
  weighted(weights) {
    const entries = Object.entries(weights);
    let r = this.float() * entries.reduce((a, [, w]) => a + w, 0);
    for (const [key, w] of entries) if ((r -= w) < 0) return key;
    return entries[entries.length - 1][0];
  }
}

function rotl(x, k) { return ((x << k) | (x >>> (32 - k))) >>> 0; }
