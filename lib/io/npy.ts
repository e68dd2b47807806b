// The one .npy reader and writer: little-endian float32/float64/int32/int64 arrays in C order (format 1.0–3.0).
import * as fs from 'node:fs';
import { LrpError } from '../errors';
import { MAX_TENSOR_ELEMENTS } from '../model/tensor';

/** Element types lrp-node reads and writes in .npy files. */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64';

/** Typed arrays matching {@link NpyDtype}. */
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** An array read from (or to be written to) a .npy file; a `TensorLike` as lrp-node accepts it. */
export interface NpyArray {
  /** The values, row-major (C order). */
  data: NpyData;
  /** The dimensions (`[]` for a scalar); `data.length` equals their product. */
  shape: number[];
  /** The element type, matching the typed array of `data` (`<f4`, `<f8`, `<i4`, `<i8` in the file). */
  dtype: NpyDtype;
}

/** What {@link encodeNpy} and {@link writeNpy} take: the dtype follows from the typed array. */
export interface NpyWritable {
  /** The values, row-major (C order); the typed array sets the dtype. */
  data: NpyData;
  /** The dimensions (`[]` for a scalar); `data.length` must equal their product. */
  shape: readonly number[];
  /** Optional; when given it must match the typed array. */
  dtype?: NpyDtype;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ARRAY_ALIGN = 64;
/** numpy leaves room for the growing axis to reach this many digits without rewriting the header. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** numpy itself refuses headers longer than this (numpy.lib.format._MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 10_000;

const DESCR_BY_DTYPE: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', int32: '<i4', int64: '<i8' };
const DTYPE_BY_DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '<f8': 'float64', '<i4': 'int32', '<i8': 'int64' };
const ITEM_BYTES: Record<NpyDtype, number> = { float32: 4, float64: 8, int32: 4, int64: 8 };
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function ioError(source: string, what: string): LrpError {
  return new LrpError('E_IO', `${source}: ${what}`, { file: source });
}

/** A value of the header's Python dict literal. */
type HeaderValue = string | boolean | number[] | { other: string };

/**
 * Parses the header, a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
 * Only the value forms numpy writes are understood: strings, True/False, and tuples of integers; anything else
 * (e.g. the list of a structured dtype) is kept as `{ other }` so the caller can say what it is.
 */
function parseHeaderDict(text: string, source: string): Map<string, HeaderValue> {
  let pos = 0;
  const fail = (what: string): never => {
    throw ioError(source, `malformed .npy header (${what} at offset ${pos}): ${JSON.stringify(text.slice(0, 120))}`);
  };
  const skipSpace = (): void => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const parseString = (): string => {
    const quote = text[pos];
    const end = text.indexOf(quote, pos + 1);
    if (end < 0) fail('unterminated string');
    const value = text.slice(pos + 1, end);
    pos = end + 1;
    return value;
  };
  const skipBalanced = (): string => {
    // Skips a nested list/tuple/dict we do not interpret, so the error can name the key it belongs to.
    const start = pos;
    let depth = 0;
    while (pos < text.length) {
      const c = text[pos];
      if (c === '\'' || c === '"') { parseString(); continue; }
      if (c === '(' || c === '[' || c === '{') depth++;
      if (c === ')' || c === ']' || c === '}') {
        depth--;
        if (depth < 0) break;
        if (depth === 0) { pos++; break; }
      }
      if (depth === 0 && c === ',') break;
      pos++;
    }
    return text.slice(start, pos);
  };
  const parseValue = (): HeaderValue => {
    const c = text[pos];
    if (c === '\'' || c === '"') return parseString();
    if (text.startsWith('True', pos)) { pos += 4; return true; }
    if (text.startsWith('False', pos)) { pos += 5; return false; }
    if (c === '(') {
      const start = pos;
      pos++;
      const dims: number[] = [];
      for (;;) {
        skipSpace();
        if (text[pos] === ')') { pos++; return dims; }
        const match = /^-?\d+L?/.exec(text.slice(pos, pos + 40));
        if (!match) { pos = start; return { other: skipBalanced() }; }
        const digits = match[0].replace('L', '');
        // Number() of a long digit string is inexact, but any such value is rejected as too large below.
        dims.push(Number(digits));
        pos += match[0].length;
        skipSpace();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== ')') fail('expected \',\' or \')\' in shape');
      }
    }
    return { other: skipBalanced() };
  };
  const entries = new Map<string, HeaderValue>();
  skipSpace();
  if (text[pos] !== '{') fail('expected \'{\'');
  pos++;
  for (;;) {
    skipSpace();
    if (pos >= text.length) fail('unterminated dict');
    if (text[pos] === '}') { pos++; break; }
    if (text[pos] !== '\'' && text[pos] !== '"') fail('expected a quoted key');
    const key = parseString();
    skipSpace();
    if (text[pos] !== ':') fail('expected \':\'');
    pos++;
    skipSpace();
    if (pos >= text.length) fail('missing value');
    if (entries.has(key)) fail(`duplicate key '${key}'`);
    entries.set(key, parseValue());
    skipSpace();
    if (text[pos] === ',') pos++;
    else if (text[pos] !== '}') fail('expected \',\' or \'}\'');
  }
  if (text.slice(pos).trim() !== '') fail('unexpected text after the dict');
  return entries;
}

function describeDescr(descr: HeaderValue): string {
  if (typeof descr !== 'string') {
    const text = typeof descr === 'object' && 'other' in descr ? descr.other : String(descr);
    return `structured or unknown dtype ${text.slice(0, 80)} is not supported`;
  }
  if (descr.includes('O')) return `object arrays (dtype '${descr}') are not supported`;
  if (descr[0] === '>' && /^>[fi][48]$/.test(descr)) return `big-endian dtype '${descr}' is not supported; save it little-endian (astype('<${descr.slice(1)}'))`;
  return `dtype '${descr}' is not supported`;
}

/**
 * Decodes the bytes of a .npy file. `source` names the file in error messages.
 * Throws `E_IO` for anything that is not a little-endian, C-ordered float32/float64/int32/int64 array of at most
 * 2^31 − 1 elements, including truncated or malformed files.
 */
export function parseNpy(bytes: Uint8Array, source = '<npy bytes>'): NpyArray {
  if (!(bytes instanceof Uint8Array)) throw new LrpError('E_ARGUMENT', `${source}: parseNpy expects a Uint8Array`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw ioError(source, 'not a .npy file (missing the \\x93NUMPY magic)');
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) throw ioError(source, `unsupported .npy format version ${major}.${minor} (expected 1.0, 2.0 or 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefixBytes = major === 1 ? 10 : 12;
  if (bytes.length < prefixBytes) throw ioError(source, 'truncated .npy header');
  const headerBytes = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = prefixBytes + headerBytes;
  if (headerBytes > MAX_HEADER_BYTES) throw ioError(source, `.npy header of ${headerBytes} bytes is longer than ${MAX_HEADER_BYTES}`);
  if (dataOffset > bytes.length) throw ioError(source, `truncated .npy header (${headerBytes} bytes declared, ${bytes.length - prefixBytes} present)`);
  const headerRaw = bytes.subarray(prefixBytes, dataOffset);
  let header: string;
  try {
    header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerRaw);
  } catch {
    throw ioError(source, 'the .npy header is not valid UTF-8');
  }
  const entries = parseHeaderDict(header, source);
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!entries.has(key)) throw ioError(source, `.npy header lacks '${key}'`);
  }
  if (entries.size !== 3) {
    const extra = [...entries.keys()].filter((k) => !['descr', 'fortran_order', 'shape'].includes(k));
    throw ioError(source, `.npy header has unexpected keys ${extra.map((k) => `'${k}'`).join(', ')}`);
  }
  const descr = entries.get('descr') as HeaderValue;
  const dtype = typeof descr === 'string' ? DTYPE_BY_DESCR[descr] : undefined;
  if (dtype === undefined) throw ioError(source, `${describeDescr(descr)}; lrp-node reads <f4, <f8, <i4 and <i8`);
  const fortranOrder = entries.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') throw ioError(source, '\'fortran_order\' in the .npy header is not True or False');
  if (fortranOrder) throw ioError(source, 'Fortran-ordered arrays are not supported; save a C-ordered copy (np.ascontiguousarray)');
  const shapeValue = entries.get('shape');
  if (!Array.isArray(shapeValue)) throw ioError(source, '\'shape\' in the .npy header is not a tuple of integers');
  const shape = shapeValue;
  if (shape.length > 32) throw ioError(source, `shape has ${shape.length} dimensions (numpy allows at most 32)`);
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw ioError(source, `shape (${shape.join(', ')}) has an invalid dimension ${dim}`);
    count *= dim;
    if (count > MAX_TENSOR_ELEMENTS) {
      throw ioError(source, `shape (${shape.join(', ')}) has more than ${MAX_TENSOR_ELEMENTS} elements`);
    }
  }
  const itemBytes = ITEM_BYTES[dtype];
  const dataBytes = count * itemBytes;
  const present = bytes.length - dataOffset;
  if (present < dataBytes) {
    throw ioError(source, `truncated data: shape (${shape.join(', ')}) of ${dtype} needs ${dataBytes} bytes, the file has ${present}`);
  }
  if (present > dataBytes) throw ioError(source, `${present - dataBytes} unexpected bytes after the data of shape (${shape.join(', ')})`);
  return { data: decodeData(bytes, dataOffset, count, dtype), shape: [...shape], dtype };
}

function decodeData(bytes: Uint8Array, offset: number, count: number, dtype: NpyDtype): NpyData {
  const byteLength = count * ITEM_BYTES[dtype];
  if (LITTLE_ENDIAN_HOST) {
    // A copy into a fresh, aligned buffer: the data offset in the file need not be aligned (and a Buffer's slice()
    // would share memory, so copy explicitly).
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(offset, offset + byteLength));
    const buffer = copy.buffer;
    switch (dtype) {
      case 'float32': return new Float32Array(buffer);
      case 'float64': return new Float64Array(buffer);
      case 'int32': return new Int32Array(buffer);
      case 'int64': return new BigInt64Array(buffer);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, byteLength);
  switch (dtype) {
    case 'float32': return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
    case 'float64': return Float64Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true));
    case 'int32': return Int32Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true));
    case 'int64': return BigInt64Array.from({ length: count }, (_, i) => view.getBigInt64(i * 8, true));
  }
}

/** Reads a .npy file (or decodes its bytes), see {@link parseNpy}. Throws `E_IO` naming the file. */
export function readNpy(pathOrBytes: string | Uint8Array): NpyArray {
  if (typeof pathOrBytes !== 'string') return parseNpy(pathOrBytes);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(pathOrBytes);
  } catch (error) {
    throw ioError(pathOrBytes, `cannot read: ${(error as Error).message}`);
  }
  return parseNpy(bytes, pathOrBytes);
}

function dtypeOf(data: unknown): NpyDtype | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return undefined;
}

/**
 * Encodes an array as a version 1.0 .npy file exactly as `numpy.save` does (header padded with spaces to a multiple
 * of 64 bytes; version 2.0 only when the header does not fit in 1.0).
 */
export function encodeNpy(array: NpyWritable): Uint8Array {
  const dtype = dtypeOf(array?.data);
  if (dtype === undefined) throw new LrpError('E_ARGUMENT', 'encodeNpy: data must be a Float32Array, Float64Array, Int32Array or BigInt64Array');
  if (array.dtype !== undefined && array.dtype !== dtype) {
    throw new LrpError('E_ARGUMENT', `encodeNpy: dtype '${array.dtype}' does not match the ${array.data.constructor.name} data`);
  }
  if (!Array.isArray(array.shape)) throw new LrpError('E_SHAPE', 'encodeNpy: shape must be an array of integers');
  let count = 1;
  for (const dim of array.shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new LrpError('E_SHAPE', `encodeNpy: invalid dimension ${String(dim)} in shape [${array.shape.join(', ')}]`);
    count *= dim;
  }
  if (count !== array.data.length) {
    throw new LrpError('E_SHAPE', `encodeNpy: data has ${array.data.length} elements but shape [${array.shape.join(', ')}] needs ${count}`);
  }
  const shape = array.shape;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR_BY_DTYPE[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const version = dict.length + 1 + 10 < 65536 ? 1 : 2;
  const prefixBytes = version === 1 ? 10 : 12;
  const padding = ARRAY_ALIGN - ((prefixBytes + dict.length + 1) % ARRAY_ALIGN);
  const header = `${dict}${' '.repeat(padding)}\n`;
  const dataBytes = array.data.byteLength;
  const out = new Uint8Array(prefixBytes + header.length + dataBytes);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefixBytes + i] = header.charCodeAt(i);
  const dataOffset = prefixBytes + header.length;
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, dataBytes), dataOffset);
  } else {
    const item = ITEM_BYTES[dtype];
    const data = array.data;
    for (let i = 0; i < data.length; i++) {
      const o = dataOffset + i * item;
      if (data instanceof Float32Array) view.setFloat32(o, data[i], true);
      else if (data instanceof Float64Array) view.setFloat64(o, data[i], true);
      else if (data instanceof Int32Array) view.setInt32(o, data[i], true);
      else view.setBigInt64(o, (data as BigInt64Array)[i], true);
    }
  }
  return out;
}

/** Writes `array` to a .npy file (see {@link encodeNpy}). Throws `E_IO` naming the file when it cannot be written. */
export function writeNpy(path: string, array: NpyWritable): void {
  const bytes = encodeNpy(array);
  try {
    fs.writeFileSync(path, bytes);
  } catch (error) {
    throw ioError(path, `cannot write: ${(error as Error).message}`);
  }
}
