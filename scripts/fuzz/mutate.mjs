// Byte-level mutators for binary inputs (.onnx protobuf, .npy): bit flips, byte and varint edits, truncations,
// splices of two inputs, duplicated and deleted chunks.

const INTERESTING_VARINTS = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x3fff, 0x4000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
  2 ** 32, 2 ** 53 - 1, -1, -2, -0x80000000];
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x3a, 0x42, 0x4a];

/** Encodes a protobuf varint; negative numbers as the 10-byte two's complement form. */
export function encodeVarint(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

function concat(...parts) {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const MUTATORS = {
  bitFlip(rng, b) {
    if (!b.length) return b;
    const out = b.slice();
    const flips = rng.range(1, 8);
    for (let i = 0; i < flips; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  byteSet(rng, b) {
    if (!b.length) return b;
    const out = b.slice();
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) out[rng.int(out.length)] = rng.bool() ? rng.pick(INTERESTING_BYTES) : rng.int(256);
    return out;
  },
  varint(rng, b) {
    // Replaces the varint that starts at a random position (a tag, a length, a dim) with an interesting value.
    if (!b.length) return b;
    const start = rng.int(b.length);
    let end = start;
    while (end < b.length && end - start < 10 && (b[end] & 0x80)) end++;
    end = Math.min(end + 1, b.length);
    return concat(b.subarray(0, start), Uint8Array.from(encodeVarint(rng.pick(INTERESTING_VARINTS) + (rng.bool(0.3) ? rng.range(-2, 2) : 0))), b.subarray(end));
  },
  truncate(rng, b) {
    return b.slice(0, rng.int(b.length + 1));
  },
  deleteChunk(rng, b) {
    if (!b.length) return b;
    const start = rng.int(b.length);
    const len = rng.range(1, Math.min(64, b.length - start));
    return concat(b.subarray(0, start), b.subarray(start + len));
  },
  duplicateChunk(rng, b) {
    if (!b.length) return b;
    const start = rng.int(b.length);
    const len = rng.range(1, Math.min(256, b.length - start));
    const at = rng.int(b.length + 1);
    return concat(b.subarray(0, at), b.subarray(start, start + len), b.subarray(at));
  },
  insertRandom(rng, b) {
    const at = rng.int(b.length + 1);
    const bytes = Uint8Array.from({ length: rng.range(1, 16) }, () => (rng.bool() ? rng.pick(INTERESTING_BYTES) : rng.int(256)));
    return concat(b.subarray(0, at), bytes, b.subarray(at));
  },
  splice(rng, b, other) {
    if (!other) return b;
    const cut = rng.int(b.length + 1);
    const from = rng.int(other.length + 1);
    return concat(b.subarray(0, cut), other.subarray(from));
  },
};

export const MUTATOR_NAMES = Object.keys(MUTATORS);

/** Applies 1–4 random mutations; `other` is a second valid input for splices. Returns the bytes and what was done. */
export function mutateBytes(rng, bytes, other) {
  let out = bytes;
  const done = [];
  const count = rng.bool(0.7) ? 1 : rng.range(2, 4);
  for (let i = 0; i < count; i++) {
    const name = rng.pick(MUTATOR_NAMES);
    out = MUTATORS[name](rng, out, other);
    done.push(name);
  }
  return { bytes: out, mutations: done };
}
