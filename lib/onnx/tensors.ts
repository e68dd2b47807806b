// ONNX TensorProto → constant tensors: size checks before any allocation, and decoding of every storage form.
import * as os from 'node:os';
import { LrpError } from '../errors';
import { DATA_TYPE, type Int64, type TensorProtoMessage, int64 } from './schema';

/** A symbolic dimension: the batch size, unknown at load time. */
export const BATCH = 'batch';
/** One value of an integer constant: a number, or the symbolic batch size (from `Shape` of an activation). */
export type IntValue = number | typeof BATCH;

/** A constant known at load time: a float tensor (weights) or an integer tensor (shapes, axes, indices). */
export type ConstTensor =
  | { kind: 'float'; dims: number[]; data: Float32Array }
  | { kind: 'int'; dims: number[]; data: IntValue[] };

/** Bytes per element in `raw_data`, per ONNX data type. */
const ELEMENT_BYTES: Record<number, number> = {
  [DATA_TYPE.FLOAT]: 4, [DATA_TYPE.UINT8]: 1, [DATA_TYPE.INT8]: 1, [DATA_TYPE.UINT16]: 2, [DATA_TYPE.INT16]: 2,
  [DATA_TYPE.INT32]: 4, [DATA_TYPE.INT64]: 8, [DATA_TYPE.BOOL]: 1, [DATA_TYPE.FLOAT16]: 2, [DATA_TYPE.DOUBLE]: 8,
  [DATA_TYPE.UINT32]: 4, [DATA_TYPE.UINT64]: 8, [DATA_TYPE.BFLOAT16]: 2,
};

const FLOAT_TYPES: ReadonlySet<number> = new Set([DATA_TYPE.FLOAT, DATA_TYPE.FLOAT16, DATA_TYPE.DOUBLE, DATA_TYPE.BFLOAT16]);

/** Human-readable name of an ONNX data type. */
export function dataTypeName(type: number): string {
  const entry = Object.entries(DATA_TYPE).find(([, v]) => v === type);
  return entry ? entry[0] : `type ${type}`;
}

/** True for the data types the loader reads as float (FLOAT, DOUBLE, FLOAT16, BFLOAT16). */
export function isFloatType(type: number): boolean {
  return FLOAT_TYPES.has(type);
}

/**
 * Checks a tensor's declared dimensions, storage and data length without allocating anything, and returns its
 * dimensions and element count. Throws `E_TOO_LARGE` above `maxElements`, `E_MODEL` for anything malformed.
 */
export function checkTensorProto(tensor: TensorProtoMessage, what: string, maxElements: number): { dims: number[]; size: number } {
  const external = tensor.dataLocation === 1 || (tensor.externalData?.length ?? 0) > 0;
  if (external) {
    throw new LrpError('E_MODEL', `${what}: external data is not supported; re-export with the weights inside the file`, { tensor: tensor.name });
  }
  if (tensor.segment) throw new LrpError('E_MODEL', `${what}: segmented tensors are not supported`, { tensor: tensor.name });
  const dims: number[] = [];
  let size = 1;
  for (const raw of tensor.dims as Int64[]) {
    const dim = int64(raw);
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new LrpError('E_MODEL', `${what}: invalid dimension ${dim} (dimensions must be non-negative integers)`, { tensor: tensor.name });
    }
    dims.push(dim);
    if (dims.length > 64) throw new LrpError('E_MODEL', `${what}: more than 64 dimensions`, { tensor: tensor.name });
  }
  // Multiply in float64: a zero dimension makes the size 0 even next to absurd ones; otherwise stop early.
  if (!dims.includes(0)) {
    for (const dim of dims) {
      size *= dim;
      if (size > maxElements) {
        throw new LrpError('E_TOO_LARGE', `${what}: shape [${dims.join(', ')}] declares more than ${maxElements} elements (maxTensorElements)`, { tensor: tensor.name });
      }
    }
  } else {
    size = 0;
  }
  const type = tensor.dataType;
  const bytes = ELEMENT_BYTES[type];
  if (bytes === undefined) {
    throw new LrpError('E_MODEL', `${what}: data type ${dataTypeName(type)} is not supported (expected a float or integer type)`, { tensor: tensor.name });
  }
  const stored = storedLength(tensor, type);
  if (stored.raw) {
    if (stored.length !== size * bytes) {
      throw new LrpError('E_MODEL', `${what}: raw_data has ${stored.length} bytes, shape [${dims.join(', ')}] of ${dataTypeName(type)} needs ${size * bytes}`, { tensor: tensor.name });
    }
  } else if (stored.length !== size) {
    throw new LrpError('E_MODEL', `${what}: has ${stored.length} stored values, shape [${dims.join(', ')}] needs ${size}`, { tensor: tensor.name });
  }
  return { dims, size };
}

function storedLength(tensor: TensorProtoMessage, type: number): { raw: boolean; length: number } {
  if (tensor.rawData && tensor.rawData.length > 0) return { raw: true, length: tensor.rawData.length };
  switch (type) {
    case DATA_TYPE.FLOAT: return { raw: false, length: tensor.floatData.length };
    case DATA_TYPE.DOUBLE: return { raw: false, length: tensor.doubleData.length };
    case DATA_TYPE.INT64: return { raw: false, length: tensor.int64Data.length };
    case DATA_TYPE.UINT32: case DATA_TYPE.UINT64: return { raw: false, length: tensor.uint64Data.length };
    default: return { raw: false, length: tensor.int32Data.length };
  }
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function bfloat16ToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16);
  return view.getFloat32(0);
}

/** Decodes a tensor checked by {@link checkTensorProto} into a float or integer constant. */
export function decodeTensor(tensor: TensorProtoMessage, what: string, maxElements: number): ConstTensor {
  const { dims, size } = checkTensorProto(tensor, what, maxElements);
  const type = tensor.dataType;
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  if (isFloatType(type)) {
    let data: Float32Array;
    if (type === DATA_TYPE.FLOAT) {
      if (raw && LITTLE_ENDIAN) {
        // Copy into a fresh, aligned buffer (raw_data is a view at any offset into the file).
        data = new Float32Array(size);
        new Uint8Array(data.buffer).set(raw);
      }
      else if (view) data = Float32Array.from({ length: size }, (_, i) => view.getFloat32(i * 4, true));
      else data = Float32Array.from(tensor.floatData);
    } else if (type === DATA_TYPE.DOUBLE) {
      data = view ? Float32Array.from({ length: size }, (_, i) => view.getFloat64(i * 8, true)) : Float32Array.from(tensor.doubleData);
    } else {
      const convert = type === DATA_TYPE.FLOAT16 ? halfToFloat : bfloat16ToFloat;
      data = view
        ? Float32Array.from({ length: size }, (_, i) => convert(view.getUint16(i * 2, true)))
        : Float32Array.from(tensor.int32Data, (v) => convert(v));
    }
    return { kind: 'float', dims, data };
  }
  const data = new Array<IntValue>(size);
  if (view) {
    for (let i = 0; i < size; i++) {
      switch (type) {
        case DATA_TYPE.INT64: data[i] = Number(view.getBigInt64(i * 8, true)); break;
        case DATA_TYPE.UINT64: data[i] = Number(view.getBigUint64(i * 8, true)); break;
        case DATA_TYPE.INT32: data[i] = view.getInt32(i * 4, true); break;
        case DATA_TYPE.UINT32: data[i] = view.getUint32(i * 4, true); break;
        case DATA_TYPE.INT16: data[i] = view.getInt16(i * 2, true); break;
        case DATA_TYPE.UINT16: data[i] = view.getUint16(i * 2, true); break;
        case DATA_TYPE.INT8: data[i] = view.getInt8(i); break;
        default: data[i] = view.getUint8(i); break;
      }
    }
  } else {
    const source: ArrayLike<Int64> = type === DATA_TYPE.INT64 ? tensor.int64Data
      : type === DATA_TYPE.UINT32 || type === DATA_TYPE.UINT64 ? tensor.uint64Data : tensor.int32Data;
    for (let i = 0; i < size; i++) data[i] = int64(source[i]);
  }
  return { kind: 'int', dims, data };
}

/** The number of elements of `dims`. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}
