// Dense float32 tensors as lrp-node passes them around, and the checks that turn user data into one.
import { LrpError } from '../errors';

/** Numeric arrays accepted wherever lrp-node takes tensor data. */
export type NumericArray = Float32Array | Float64Array | Int32Array | number[];

/** A dense, row-major (C order) tensor. */
export interface Tensor {
  /** The values, row-major. */
  data: Float32Array;
  /** The dimensions; `data.length` equals their product. */
  shape: number[];
}

/**
 * Anything lrp-node accepts as a tensor: `{ data, shape }` (e.g. from `readNpy`), nested number arrays, or a bare
 * typed array (a 1-D tensor).
 */
export type TensorLike =
  | {
      /** The values, row-major (C order); converted to float32. */
      data: NumericArray | BigInt64Array;
      /** The dimensions; their product must equal `data.length`. */
      shape: readonly number[];
    }
  | NestedNumbers
  | Float32Array | Float64Array | Int32Array;

/** Nested arrays of numbers, such as `[[1, 2], [3, 4]]`. */
export type NestedNumbers = number[] | NestedNumbers[];

/** Largest element count lrp-node accepts for one tensor (2^31 − 1, the native index range). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** Product of `shape`, checked: every dimension a non-negative integer, the product within {@link MAX_TENSOR_ELEMENTS}. */
export function shapeSize(shape: readonly number[], what = 'tensor'): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new LrpError('E_SHAPE', `${what}: dimension ${String(dim)} in shape [${shape.join(', ')}] is not a non-negative integer`);
    }
    size *= dim;
    if (size > MAX_TENSOR_ELEMENTS) {
      throw new LrpError('E_TOO_LARGE', `${what}: shape [${shape.join(', ')}] has more than ${MAX_TENSOR_ELEMENTS} elements`);
    }
  }
  return size;
}

function nestedShape(value: NestedNumbers, what: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  if (shape.length === 0) throw new LrpError('E_SHAPE', `${what}: empty nested array`);
  return shape;
}

function flattenNested(value: NestedNumbers, shape: number[], what: string): Float32Array {
  const out = new Float32Array(shapeSize(shape, what));
  let offset = 0;
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') throw new LrpError('E_INPUT', `${what}: expected a number at depth ${depth}, got ${typeof v}`);
      out[offset++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new LrpError('E_SHAPE', `${what}: ragged nested array (expected length ${shape[depth]} at depth ${depth})`);
    }
    for (const item of v) walk(item, depth + 1);
  };
  walk(value, 0);
  return out;
}

/**
 * Converts a {@link TensorLike} to a float32 {@link Tensor}, checking that the data length matches the shape.
 * A Float32Array is used as it is (not copied) unless `copy` is set.
 */
export function toTensor(value: TensorLike, what = 'tensor', copy = false): Tensor {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    // A bare typed array is a 1-D tensor (a bias, a BatchNorm vector).
    const array = value as unknown as NumericArray;
    return toTensor({ data: array, shape: [array.length] }, what, copy);
  }
  if (Array.isArray(value)) {
    const shape = nestedShape(value, what);
    return { data: flattenNested(value, shape, what), shape };
  }
  if (typeof value !== 'object' || value === null || !('data' in value) || !('shape' in value)) {
    throw new LrpError('E_INPUT', `${what}: expected { data, shape } or a nested number array`);
  }
  if (!Array.isArray(value.shape)) throw new LrpError('E_SHAPE', `${what}: shape must be an array of integers`);
  const shape = [...value.shape];
  const size = shapeSize(shape, what);
  const data = value.data;
  if (data.length !== size) {
    throw new LrpError('E_SHAPE', `${what}: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${size}`);
  }
  let floats: Float32Array;
  if (data instanceof Float32Array) floats = copy ? new Float32Array(data) : data;
  else if (data instanceof BigInt64Array) floats = Float32Array.from(data, (v) => Number(v));
  else if (Array.isArray(data) || ArrayBuffer.isView(data)) floats = Float32Array.from(data as ArrayLike<number>);
  else throw new LrpError('E_INPUT', `${what}: data must be a Float32Array, Float64Array, Int32Array or number[]`);
  return { data: floats, shape };
}

/** Index of the first non-finite value in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) return i;
  }
  return -1;
}

/** Creates a {@link Tensor} from data and shape (a convenience for building models by hand). */
export function tensor(data: NumericArray, shape: readonly number[]): Tensor {
  return toTensor({ data, shape }, 'tensor');
}
