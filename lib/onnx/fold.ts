// Constant folding at load time: the shape arithmetic torch emits (Shape → Gather → Unsqueeze → Concat → Reshape).
import { LrpError } from '../errors';
import {
  type ConversionState, NodeUnsupported, type OnnxNode, type Value, constInput, drop, inputValue, malformed,
  normalizeAxis, setOutput,
} from './context';
import { DATA_TYPE } from './schema';
import { BATCH, type ConstTensor, type IntValue, elementCount, isFloatType } from './tensors';

function checkSize(state: ConversionState, node: OnnxNode, dims: number[]): number {
  const size = elementCount(dims);
  if (size > state.maxTensorElements) {
    throw new LrpError('E_TOO_LARGE', `node '${node.name}' (${node.opType}): folded constant [${dims.join(', ')}] exceeds maxTensorElements`, { node: node.name });
  }
  return size;
}

function outputConst(state: ConversionState, node: OnnxNode, tensor: ConstTensor, reason = 'folded at load time'): void {
  // Constants and shape arithmetic are not reported as dropped: they never computed anything per sample.
  void reason;
  setOutput(state, node, 0, { kind: 'const', tensor });
}

/** The values of an integer constant as numbers; the symbolic batch size is unsupported here. */
export function concreteInts(node: OnnxNode, tensor: ConstTensor, what: string): number[] {
  if (tensor.kind !== 'int') throw new NodeUnsupported(`${what} must be an integer tensor`);
  return tensor.data.map((v) => {
    if (v === BATCH) throw new NodeUnsupported(`${what} depends on the batch size`);
    return v;
  });
}

/** Reads the constant `Constant` node attribute forms. */
function constantNode(state: ConversionState, node: OnnxNode): void {
  let tensor: ConstTensor | undefined;
  if (node.has('value')) tensor = node.tensor('value', state.maxTensorElements);
  else if (node.has('value_float')) tensor = { kind: 'float', dims: [], data: Float32Array.of(node.float('value_float', 0)) };
  else if (node.has('value_floats')) {
    const f = node.floats('value_floats')!;
    tensor = { kind: 'float', dims: [f.length], data: Float32Array.from(f) };
  } else if (node.has('value_int')) tensor = { kind: 'int', dims: [], data: [node.int('value_int', 0)] };
  else if (node.has('value_ints')) {
    const v = node.ints('value_ints')!;
    tensor = { kind: 'int', dims: [v.length], data: v };
  } else {
    throw new NodeUnsupported('only numeric tensor constants are supported (value, value_float(s), value_int(s))');
  }
  outputConst(state, node, tensor!, 'constant');
}

function shapeNode(state: ConversionState, node: OnnxNode): void {
  const value = inputValue(state, node, 0);
  if (!value) malformed(node, 'input 0 is required');
  let shape: IntValue[];
  if (value!.kind === 'act') shape = [BATCH, ...value!.ref.shape];
  else if (value!.kind === 'const') shape = [...constInput(state, node, 0, 'data')!.dims];
  else return;
  const rank = shape.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(node.int('start', 0));
  const end = node.has('end') ? clamp(node.int('end', rank)) : rank;
  const data = shape.slice(start, Math.max(start, end));
  outputConst(state, node, { kind: 'int', dims: [data.length], data }, 'shape computation folded at load time');
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

function gatherNode(state: ConversionState, node: OnnxNode): void {
  const data = constInput(state, node, 0, 'data')!;
  const indicesTensor = constInput(state, node, 1, 'indices');
  if (!data || !indicesTensor) malformed(node, 'needs data and indices');
  const rank = data.dims.length;
  if (rank === 0) malformed(node, 'data must have rank ≥ 1');
  const axis = normalizeAxis(node, node.int('axis', 0), rank);
  const indices = concreteInts(node, indicesTensor, 'indices');
  const axisSize = data.dims[axis];
  const outDims = [...data.dims.slice(0, axis), ...indicesTensor.dims, ...data.dims.slice(axis + 1)];
  const size = checkSize(state, node, outDims);
  const outer = elementCount(data.dims.slice(0, axis));
  const inner = elementCount(data.dims.slice(axis + 1));
  const picks = indices.map((i) => {
    const j = i < 0 ? i + axisSize : i;
    if (j < 0 || j >= axisSize) malformed(node, `index ${i} is out of range for axis of size ${axisSize}`);
    return j;
  });
  const take = <T>(src: ArrayLike<T>, out: T[] | Float32Array): void => {
    let k = 0;
    for (let o = 0; o < outer; o++) for (const p of picks) for (let n = 0; n < inner; n++) (out as T[])[k++] = src[(o * axisSize + p) * inner + n];
  };
  if (data.kind === 'float') {
    const out = new Float32Array(size);
    take(data.data, out);
    outputConst(state, node, { kind: 'float', dims: outDims, data: out });
  } else {
    const out = new Array<IntValue>(size);
    take(data.data, out);
    outputConst(state, node, { kind: 'int', dims: outDims, data: out });
  }
}

/** Axes of Unsqueeze/Squeeze: attribute before opset 13, input 1 from 13 on. */
export function axesOf(state: ConversionState, node: OnnxNode): number[] | undefined {
  if (state.opset < 13 || node.has('axes')) return node.ints('axes');
  const axes = constInput(state, node, 1, 'axes');
  return axes ? concreteInts(node, axes, 'axes') : undefined;
}

/** Output dims of Unsqueeze on `dims`. */
export function unsqueezeDims(state: ConversionState, node: OnnxNode, dims: readonly number[]): number[] {
  const axes = axesOf(state, node);
  if (!axes || axes.length === 0) malformed(node, 'axes are required');
  const rank = dims.length + axes!.length;
  const set = new Set(axes!.map((a) => normalizeAxis(node, a, rank)));
  if (set.size !== axes!.length) malformed(node, 'repeated axes');
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : dims[k++]);
  return out;
}

/** Output dims of Squeeze on `dims`. */
export function squeezeDims(state: ConversionState, node: OnnxNode, dims: readonly number[]): number[] {
  const axes = axesOf(state, node);
  const set = axes ? new Set(axes.map((a) => normalizeAxis(node, a, dims.length))) : null;
  return dims.filter((d, i) => {
    const squeeze = set ? set.has(i) : d === 1;
    if (squeeze && d !== 1) malformed(node, `cannot squeeze axis ${i} of size ${d}`);
    return !squeeze;
  });
}

function reshapeConst(tensor: ConstTensor, dims: number[]): ConstTensor {
  return tensor.kind === 'float' ? { kind: 'float', dims, data: tensor.data } : { kind: 'int', dims, data: tensor.data };
}

/** Folds Unsqueeze/Squeeze of a constant. */
export function foldUnsqueezeSqueeze(state: ConversionState, node: OnnxNode): void {
  const data = constInput(state, node, 0, 'data')!;
  const dims = node.opType === 'Unsqueeze' ? unsqueezeDims(state, node, data.dims) : squeezeDims(state, node, data.dims);
  outputConst(state, node, reshapeConst(data, dims));
}

/** Folds Concat of constants. */
export function foldConcat(state: ConversionState, node: OnnxNode): void {
  const parts = node.inputs.map((_, i) => constInput(state, node, i, 'input')!).filter((t) => t !== undefined);
  if (parts.length === 0) malformed(node, 'needs at least one input');
  const rank = parts[0].dims.length;
  const axis = normalizeAxis(node, node.int('axis', 0), Math.max(rank, 1));
  const kind = parts[0].kind;
  for (const p of parts) {
    if (p.kind !== kind) throw new NodeUnsupported('mixes float and integer constants');
    if (p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) malformed(node, 'inputs differ outside the concat axis');
  }
  const outDims = [...parts[0].dims];
  outDims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const size = checkSize(state, node, outDims);
  const outer = elementCount(outDims.slice(0, axis));
  const out: IntValue[] | Float32Array = kind === 'float' ? new Float32Array(size) : new Array<IntValue>(size);
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = elementCount(p.dims.slice(axis));
      for (let n = 0; n < chunk; n++) (out as IntValue[])[k++] = p.data[o * chunk + n] as IntValue;
    }
  }
  outputConst(state, node, kind === 'float' ? { kind, dims: outDims, data: out as Float32Array } : { kind: 'int', dims: outDims, data: out as IntValue[] });
}

/** Folds Reshape of a constant (shape values: 0 copies, -1 infers). */
export function foldReshape(state: ConversionState, node: OnnxNode): void {
  const data = constInput(state, node, 0, 'data')!;
  const target = concreteInts(node, constInput(state, node, 1, 'shape') ?? malformed(node, 'shape is required'), 'shape');
  const size = elementCount(data.dims);
  const dims = target.map((d, i) => (d === 0 && node.int('allowzero', 0) === 0 ? data.dims[i] : d));
  const known = dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = dims.map((d) => (d === -1 ? size / known : d));
  if (dims.filter((d) => d === -1).length > 1 || resolved.some((d) => !Number.isSafeInteger(d) || d < 0) || elementCount(resolved) !== size) {
    malformed(node, `cannot reshape a constant of shape [${data.dims.join(', ')}] to [${target.join(', ')}]`);
  }
  outputConst(state, node, reshapeConst(data, resolved));
}

function castNode(state: ConversionState, node: OnnxNode): void {
  const value = inputValue(state, node, 0);
  const to = node.int('to', 0);
  if (value?.kind === 'act') {
    if (!isFloatType(to)) throw new NodeUnsupported('a Cast of the activations to a non-float type');
    setOutput(state, node, 0, value);
    drop(state, node, 'cast between float types is the identity here');
    return;
  }
  const data = constInput(state, node, 0, 'input')!;
  if (!data) malformed(node, 'input 0 is required');
  if (isFloatType(to)) {
    const floats = data.kind === 'float' ? data.data : Float32Array.from(concreteInts(node, data, 'input'));
    outputConst(state, node, { kind: 'float', dims: data.dims, data: floats });
  } else if (to === DATA_TYPE.BOOL) {
    outputConst(state, node, { kind: 'int', dims: data.dims, data: Array.from(data.data as ArrayLike<IntValue>, (v) => (v === BATCH ? 1 : v ? 1 : 0)) });
  } else {
    const ints = data.kind === 'int' ? data.data : Array.from(data.data, (v) => Math.trunc(v));
    outputConst(state, node, { kind: 'int', dims: data.dims, data: ints });
  }
}

function sliceNode(state: ConversionState, node: OnnxNode): void {
  const data = constInput(state, node, 0, 'data')!;
  if (!data) malformed(node, 'input 0 is required');
  let starts: number[]; let ends: number[]; let axes: number[] | undefined; let steps: number[] | undefined;
  if (state.opset < 10) {
    starts = node.ints('starts') ?? malformed(node, 'starts are required');
    ends = node.ints('ends') ?? malformed(node, 'ends are required');
    axes = node.ints('axes');
  } else {
    const get = (i: number, what: string): number[] | undefined => {
      const t = constInput(state, node, i, what);
      return t ? concreteInts(node, t, what) : undefined;
    };
    starts = get(1, 'starts') ?? malformed(node, 'starts are required');
    ends = get(2, 'ends') ?? malformed(node, 'ends are required');
    axes = get(3, 'axes');
    steps = get(4, 'steps');
  }
  if (data.dims.length !== 1) throw new NodeUnsupported('only 1-D constants (shapes) can be sliced');
  if (starts.length !== 1 || ends.length !== 1) malformed(node, 'a 1-D slice needs one start and one end');
  if (axes && (axes.length !== 1 || normalizeAxis(node, axes[0], 1) !== 0)) malformed(node, 'axis must be 0');
  const step = steps?.[0] ?? 1;
  if (step === 0) malformed(node, 'step must not be 0');
  const n = data.dims[0];
  const norm = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  const start = step > 0 ? norm(starts[0], 0, n) : norm(starts[0], -1, n - 1);
  const end = step > 0 ? norm(ends[0], 0, n) : norm(ends[0], -1, n - 1);
  const picks: number[] = [];
  for (let i = start; step > 0 ? i < end : i > end; i += step) picks.push(i);
  const out = picks.map((i) => data.data[i]);
  outputConst(state, node, data.kind === 'float'
    ? { kind: 'float', dims: [out.length], data: Float32Array.from(out as number[]) }
    : { kind: 'int', dims: [out.length], data: out as IntValue[] });
}

/** Folds Add/Sub/Mul/Div of two constants (same shape, or one a single value). */
export function foldArithmetic(state: ConversionState, node: OnnxNode): void {
  const a = constInput(state, node, 0, 'A')!;
  const b = constInput(state, node, 1, 'B')!;
  if (!a || !b) malformed(node, 'needs two inputs');
  const sa = elementCount(a.dims);
  const sb = elementCount(b.dims);
  let dims: number[];
  if (a.dims.join(',') === b.dims.join(',')) dims = a.dims;
  else if (sb === 1 && b.dims.length <= a.dims.length) dims = a.dims;
  else if (sa === 1 && a.dims.length <= b.dims.length) dims = b.dims;
  else throw new NodeUnsupported(`broadcasting [${a.dims.join(', ')}] with [${b.dims.join(', ')}] is not supported when folding constants`);
  const size = elementCount(dims);
  const op = node.opType;
  const isInt = a.kind === 'int' && b.kind === 'int';
  const apply = (x: number, y: number): number => {
    switch (op) {
      case 'Add': return x + y;
      case 'Sub': return x - y;
      case 'Mul': return x * y;
      default:
        if (isInt && y === 0) malformed(node, 'integer division by zero');
        return isInt ? Math.trunc(x / y) : x / y;
    }
  };
  const av = isInt ? concreteInts(node, a, 'A') : Array.from(a.data as ArrayLike<number | string>, Number);
  const bv = isInt ? concreteInts(node, b, 'B') : Array.from(b.data as ArrayLike<number | string>, Number);
  if (av.some(Number.isNaN) || bv.some(Number.isNaN)) throw new NodeUnsupported('arithmetic on the symbolic batch size');
  const out = Array.from({ length: size }, (_, i) => apply(av[sa === 1 ? 0 : i], bv[sb === 1 ? 0 : i]));
  outputConst(state, node, isInt ? { kind: 'int', dims, data: out } : { kind: 'float', dims, data: Float32Array.from(out) });
}

/** True when every present input of `node` is a constant. */
export function allConstant(state: ConversionState, node: OnnxNode): boolean {
  return node.inputs.every((name, i) => !name || inputValue(state, node, i)?.kind === 'const');
}

/** Mappers of the ops that only exist to compute constants. */
export const FOLD_MAPPERS: Record<string, (state: ConversionState, node: OnnxNode) => void> = {
  Constant: constantNode,
  Shape: shapeNode,
  Gather: gatherNode,
  Cast: castNode,
  Slice: sliceNode,
  Sub: foldArithmetic,
  Mul: foldArithmetic,
  Div: foldArithmetic,
};

/** A constant value holding `tensor`. */
export function constValue(tensor: ConstTensor): Value {
  return { kind: 'const', tensor };
}
