// Saving fuzz cases as files and reading them back: raw bytes for file targets, tagged JSON for structured ones.
import { createHash } from 'node:crypto';

const TYPED = { Float32Array, Float64Array, Int32Array, Uint8Array, BigInt64Array };

function tag(value) {
  if (typeof value === 'number') {
    if (Number.isNaN(value) || !Number.isFinite(value) || Object.is(value, -0)) return { $: 'num', v: String(Object.is(value, -0) ? '-0' : value) };
    return value;
  }
  if (typeof value === 'bigint') return { $: 'big', v: value.toString() };
  if (value === undefined) return { $: 'undef' };
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    if (!TYPED[name]) throw new Error(`cannot serialize ${name}`);
    return { $: name, v: Array.from(value, tag) };
  }
  if (Array.isArray(value)) return value.map(tag);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = tag(v);
    return out;
  }
  return value;
}

function untag(value) {
  if (Array.isArray(value)) return value.map(untag);
  if (value && typeof value === 'object') {
    if (value.$ === 'num') return value.v === '-0' ? -0 : Number(value.v);
    if (value.$ === 'big') return BigInt(value.v);
    if (value.$ === 'undef') return undefined;
    if (value.$ && TYPED[value.$]) return TYPED[value.$].from(value.v.map(untag));
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = untag(v);
    return out;
  }
  return value;
}

/** Turns a case into the file body (.bin) and its sidecar (.json); bytes targets keep their bytes raw. */
export function encodeCase(fuzzCase) {
  if (fuzzCase.bytes instanceof Uint8Array) {
    const { bytes, ...meta } = fuzzCase;
    return { body: Buffer.from(bytes), meta: { ...tag(meta), body: 'bytes' } };
  }
  return { body: Buffer.from(JSON.stringify(tag(fuzzCase))), meta: { target: fuzzCase.target, body: 'json' } };
}

/** The inverse of {@link encodeCase}. */
export function decodeCase(body, meta) {
  if (meta.body === 'bytes') {
    const { body: _kind, kind: _k, signal: _s, iteration: _i, seed: _seed, detail: _d, ...rest } = meta;
    return { ...untag(rest), bytes: new Uint8Array(body) };
  }
  return untag(JSON.parse(Buffer.from(body).toString('utf8')));
}

/** Short content hash used in file names. */
export function caseHash(body, target) {
  return createHash('sha256').update(target).update(body).digest('hex').slice(0, 16);
}
