// One mapper per ONNX op family: each turns a node into layers of the graph builder (or folds/drops it).
import type { NodeRef } from '../model/graph';
import {
  add, avgPool2d, batchNorm, concat, conv2d, dense, elu, flatten, gelu, globalAvgPool, leakyRelu, maxPool2d, relu,
  reshape, sigmoid, tanh,
} from '../model/layers';
import {
  type ConversionState, NodeUnsupported, type OnnxNode, type Value, activationInput, activationValue, constInput,
  drop, fullRank, inputValue, malformed, materialize, normalizeAxis, setOutput,
} from './context';
import {
  FOLD_MAPPERS, allConstant, axesOf, concreteInts, foldArithmetic, foldConcat, foldReshape, foldUnsqueezeSqueeze,
  squeezeDims, unsqueezeDims,
} from './fold';
import { BATCH, type ConstTensor, elementCount } from './tensors';

type Mapper = (state: ConversionState, node: OnnxNode) => void;
type Pads = [number, number, number, number];

const act = (state: ConversionState, node: OnnxNode, ref: NodeRef): void => setOutput(state, node, 0, { kind: 'act', ref });

function floats(tensor: ConstTensor, node: OnnxNode, what: string): Float32Array {
  if (tensor.kind !== 'float') throw new NodeUnsupported(`${what} must be a float tensor`);
  return tensor.data;
}

// ---- Gemm, MatMul(+Add), Conv -------------------------------------------------------------------------------------

function gemm(state: ConversionState, node: OnnxNode): void {
  if (node.int('transA', 0) !== 0) throw new NodeUnsupported('transA=1 is not supported (the activation must be the left operand, untransposed)');
  const x = activationInput(state, node, 0);
  const b = constInput(state, node, 1, 'weight B') ?? malformed(node, 'input B is required');
  if (b.dims.length !== 2) malformed(node, `B must be a matrix, got [${b.dims.join(', ')}]`);
  const transB = node.int('transB', 0) !== 0;
  const alpha = node.float('alpha', 1);
  const beta = node.float('beta', 1);
  const bData = floats(b, node, 'B');
  const [rows, cols] = b.dims;
  const [out, inFeatures] = transB ? [rows, cols] : [cols, rows];
  const weight = new Float32Array(out * inFeatures);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inFeatures; i++) weight[o * inFeatures + i] = alpha * (transB ? bData[o * cols + i] : bData[i * cols + o]);
  }
  let bias: Float32Array | null = null;
  const c = constInput(state, node, 2, 'bias C');
  if (c && beta !== 0) {
    const cData = floats(c, node, 'C');
    const size = cData.length;
    const rowVector = c.dims.length <= 1 || (c.dims.length === 2 && c.dims[0] === 1);
    if (!(size === 1 || (size === out && rowVector))) {
      throw new NodeUnsupported(`bias C of shape [${c.dims.join(', ')}] is not a per-output vector of ${out} values`);
    }
    bias = Float32Array.from({ length: out }, (_, o) => beta * cData[size === 1 ? 0 : o]);
  }
  act(state, node, state.builder.add(dense({ weight: { data: weight, shape: [out, inFeatures] }, bias: bias && { data: bias, shape: [out] } }), x, node.name));
}

/** The constant operand of an Add whose other operand is `name`, when it can be a bias of `out` values. */
function biasOfAdd(state: ConversionState, addNode: OnnxNode, name: string, out: number): Float32Array | null {
  if (addNode.opType !== 'Add' || addNode.domain !== '' && addNode.domain !== 'ai.onnx' || addNode.inputs.length !== 2) return null;
  const other = addNode.inputs[0] === name ? 1 : addNode.inputs[1] === name ? 0 : -1;
  if (other < 0 || addNode.inputs[other] === name) return null;
  const value = state.values.get(addNode.inputs[other]);
  if (!value || value.kind !== 'const') return null;
  const tensor = constInput(state, addNode, other, 'bias');
  if (!tensor || tensor.kind !== 'float') return null;
  const rowVector = tensor.dims.length === 1 || (tensor.dims.length === 2 && tensor.dims[0] === 1);
  if (tensor.data.length !== out || !rowVector) return null;
  return tensor.data;
}

function matMul(state: ConversionState, node: OnnxNode): void {
  const a = inputValue(state, node, 0);
  const bValue = inputValue(state, node, 1);
  if (!a || !bValue) malformed(node, 'needs two inputs');
  if (a.kind === 'const' && bValue.kind === 'const') return foldMatMulUnsupported();
  const x = activationInput(state, node, 0);
  if (x.shape.length !== 1) throw new NodeUnsupported(`MatMul of a per-sample [${x.shape.join(', ')}] activation (only flat [features] inputs become dense layers)`);
  const b = constInput(state, node, 1, 'right operand B')!;
  if (b.dims.length !== 2) throw new NodeUnsupported(`right operand B must be a [in, out] matrix, got [${b.dims.join(', ')}]`);
  const bData = floats(b, node, 'B');
  const [inFeatures, out] = b.dims;
  const weight = new Float32Array(out * inFeatures);
  for (let o = 0; o < out; o++) for (let i = 0; i < inFeatures; i++) weight[o * inFeatures + i] = bData[i * out + o];
  // MatMul followed only by Add of a constant vector: one dense layer with that bias (the Linear torch emits).
  const consumers = state.consumers.get(node.outputs[0]) ?? [];
  let bias: Float32Array | null = null;
  let fusedAdd: OnnxNode | null = null;
  if (consumers.length === 1 && node.outputs[0] !== state.graphOutput) {
    const candidate = state.nodes[consumers[0]];
    bias = biasOfAdd(state, candidate, node.outputs[0], out);
    if (bias) fusedAdd = candidate;
  }
  const ref = state.builder.add(dense({ weight: { data: weight, shape: [out, inFeatures] }, bias: bias && { data: bias, shape: [out] } }), x, node.name);
  act(state, node, ref);
  if (fusedAdd) {
    state.fusedAdds.add(fusedAdd.name);
    setOutput(state, fusedAdd, 0, { kind: 'act', ref });
    drop(state, fusedAdd, `bias fused into dense layer '${node.name}'`);
  }
}

function foldMatMulUnsupported(): never {
  throw new NodeUnsupported('MatMul of two constants');
}

/** Explicit or automatic padding of a 2-D window op, as `[top, left, bottom, right]`. */
function windowPadding(node: OnnxNode, size: readonly number[], kernel: number[], stride: number[], dilation: number[]): Pads {
  const autoPad = node.string('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = node.ints('pads') ?? [0, 0, 0, 0];
    if (pads.length !== 4) malformed(node, `pads must have 4 values for a 2-D op, got ${pads.length}`);
    if (pads.some((p) => p < 0)) throw new NodeUnsupported(`negative pads [${pads.join(', ')}]`);
    return [pads[0], pads[1], pads[2], pads[3]];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') malformed(node, `unknown auto_pad '${autoPad}'`);
  const result: Pads = [0, 0, 0, 0];
  for (let axis = 0; axis < 2; axis++) {
    const out = Math.ceil(size[axis] / stride[axis]);
    const total = Math.max(0, (out - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1 - size[axis]);
    const small = Math.floor(total / 2);
    const [before, after] = autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    result[axis] = before;
    result[axis + 2] = after;
  }
  return result;
}

function pair(node: OnnxNode, name: string, fallback: number): [number, number] {
  const v = node.ints(name);
  if (!v) return [fallback, fallback];
  if (v.length !== 2) throw new NodeUnsupported(`${name} [${v.join(', ')}] (only 2-D windows over NCHW are supported)`);
  return [v[0], v[1]];
}

function spatialInput(node: OnnxNode, value: Extract<Value, { kind: 'act' }>): void {
  if (value.ref.shape.length !== 3) throw new NodeUnsupported(`only 2-D ${node.opType} over NCHW inputs is supported, got per-sample shape [${value.ref.shape.join(', ')}]`);
}

const addPads = (a: Pads, b: Pads): Pads => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];

function conv(state: ConversionState, node: OnnxNode): void {
  const value = activationValue(node, 0, inputValue(state, node, 0) ?? malformed(node, 'input X is required'));
  spatialInput(node, value);
  const w = constInput(state, node, 1, 'weight W') ?? malformed(node, 'input W is required');
  if (w.dims.length !== 4) throw new NodeUnsupported(`only 2-D convolutions are supported, weight is [${w.dims.join(', ')}]`);
  const kernel: [number, number] = [w.dims[2], w.dims[3]];
  const declared = node.ints('kernel_shape');
  if (declared && declared.join(',') !== kernel.join(',')) malformed(node, `kernel_shape [${declared.join(', ')}] does not match the weight [${w.dims.join(', ')}]`);
  const stride = pair(node, 'strides', 1);
  const dilation = pair(node, 'dilations', 1);
  const pending = value.pendingPad;
  const inSize = pending ? [value.ref.shape[1] + pending.padding[0] + pending.padding[2], value.ref.shape[2] + pending.padding[1] + pending.padding[3]] : value.ref.shape.slice(1);
  let padding = windowPadding(node, inSize, kernel, stride, dilation);
  if (pending) {
    padding = addPads(padding, pending.padding);
    state.dropped.push({ name: pending.name, opType: 'Pad', reason: `folded into the padding of '${node.name}'` });
  }
  const bias = constInput(state, node, 2, 'bias B');
  const layer = conv2d({
    weight: { data: floats(w, node, 'W'), shape: w.dims }, bias: bias ? { data: floats(bias, node, 'B'), shape: bias.dims } : null,
    stride, padding, dilation, groups: node.int('group', 1),
  });
  act(state, node, state.builder.add(layer, value.ref, node.name));
}

// ---- Pooling ------------------------------------------------------------------------------------------------------

function maxPool(state: ConversionState, node: OnnxNode): void {
  if (node.int('storage_order', 0) !== 0) throw new NodeUnsupported('storage_order=1 is not supported');
  const x = activationInput(state, node, 0);
  spatialInput(node, { kind: 'act', ref: x });
  const kernel = pair(node, 'kernel_shape', 0);
  if (!node.has('kernel_shape')) malformed(node, 'kernel_shape is required');
  const stride = pair(node, 'strides', 1);
  const dilation = pair(node, 'dilations', 1);
  const padding = windowPadding(node, x.shape.slice(1), kernel, stride, dilation);
  const layer = maxPool2d({ kernel, stride, padding, dilation, ceilMode: node.int('ceil_mode', 0) !== 0 });
  act(state, node, state.builder.add(layer, x, node.name));
}

function averagePool(state: ConversionState, node: OnnxNode): void {
  const value = activationValue(node, 0, inputValue(state, node, 0) ?? malformed(node, 'input X is required'));
  spatialInput(node, value);
  if (!node.has('kernel_shape')) malformed(node, 'kernel_shape is required');
  const kernel = pair(node, 'kernel_shape', 0);
  const stride = pair(node, 'strides', 1);
  const dilation = pair(node, 'dilations', 1);
  if (dilation[0] !== 1 || dilation[1] !== 1) throw new NodeUnsupported(`dilations [${dilation.join(', ')}] (average pooling supports dilation 1 only)`);
  let countIncludePad = node.int('count_include_pad', 0) !== 0;
  const autoPad = node.string('auto_pad', 'NOTSET');
  const pending = value.pendingPad;
  let x = value.ref;
  let padding: Pads;
  // Folding explicit zeros into the window padding is exact when those zeros are counted in the divisor.
  const ownPads = node.ints('pads') ?? [0, 0, 0, 0];
  if (pending && autoPad === 'NOTSET' && (countIncludePad || ownPads.every((p) => p === 0))) {
    padding = addPads(windowPadding(node, x.shape.slice(1), kernel, stride, dilation), pending.padding);
    countIncludePad = true;
    state.dropped.push({ name: pending.name, opType: 'Pad', reason: `folded into the padding of '${node.name}'` });
  } else {
    x = materialize(state, value);
    padding = windowPadding(node, x.shape.slice(1), kernel, stride, dilation);
  }
  const layer = avgPool2d({ kernel, stride, padding, ceilMode: node.int('ceil_mode', 0) !== 0, countIncludePad });
  act(state, node, state.builder.add(layer, x, node.name));
}

function globalAveragePool(state: ConversionState, node: OnnxNode): void {
  const x = activationInput(state, node, 0);
  spatialInput(node, { kind: 'act', ref: x });
  act(state, node, state.builder.add(globalAvgPool(), x, node.name));
}

// ---- BatchNorm and activations ------------------------------------------------------------------------------------

function batchNormalization(state: ConversionState, node: OnnxNode): void {
  if (node.int('training_mode', 0) !== 0) throw new NodeUnsupported('training_mode=1 (export the model in eval mode)');
  const x = activationInput(state, node, 0);
  const get = (i: number, what: string): { data: Float32Array; shape: number[] } => {
    const t = constInput(state, node, i, what) ?? malformed(node, `input ${what} is required`);
    return { data: floats(t, node, what), shape: [t.data.length] };
  };
  const layer = batchNorm({
    weight: get(1, 'scale'), bias: get(2, 'B'), runningMean: get(3, 'input_mean'), runningVar: get(4, 'input_var'),
    eps: node.float('epsilon', 1e-5),
  });
  act(state, node, state.builder.add(layer, x, node.name));
}

function activation(factory: (state: ConversionState, node: OnnxNode) => Parameters<ConversionState['builder']['add']>[0]): Mapper {
  return (state, node) => {
    const x = activationInput(state, node, 0);
    act(state, node, state.builder.add(factory(state, node), x, node.name));
  };
}

function geluLayer(_state: ConversionState, node: OnnxNode): ReturnType<typeof gelu> {
  const approximate = node.string('approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') malformed(node, `approximate must be 'none' or 'tanh', got '${approximate}'`);
  return gelu({ approximate });
}

// ---- Shape ops on activations ---------------------------------------------------------------------------------------

function flattenNode(state: ConversionState, node: OnnxNode): void {
  const x = activationInput(state, node, 0);
  const axis = normalizeAxis(node, node.int('axis', 1), fullRank(x) + 1);
  if (axis !== 1) throw new NodeUnsupported(`Flatten with axis=${node.int('axis', 1)} (only axis 1, flattening each sample, keeps the batch axis)`);
  act(state, node, state.builder.add(flatten(), x, node.name));
}

/** Adds a reshape (or flatten, for a rank-1 result) of `x` to per-sample `shape`; the same shape is the identity. */
function addReshape(state: ConversionState, node: OnnxNode, x: NodeRef, shape: number[]): void {
  if (shape.join(',') === x.shape.join(',')) {
    act(state, node, x);
    drop(state, node, 'reshape to the same shape');
    return;
  }
  const layer = shape.length === 1 ? flatten() : reshape({ shape });
  act(state, node, state.builder.add(layer, x, node.name));
}

function reshapeNode(state: ConversionState, node: OnnxNode): void {
  if (allConstant(state, node)) return foldReshape(state, node);
  const x = activationInput(state, node, 0);
  let target: (number | typeof BATCH)[];
  if (state.opset < 5 && node.has('shape')) target = node.ints('shape')!;
  else {
    const t = constInput(state, node, 1, 'shape') ?? malformed(node, 'input shape is required');
    if (t.kind !== 'int' || t.dims.length !== 1) malformed(node, 'shape must be a 1-D integer tensor');
    target = (t as Extract<ConstTensor, { kind: 'int' }>).data;
  }
  const allowZero = node.int('allowzero', 0) !== 0;
  const full = [BATCH, ...x.shape] as (number | typeof BATCH)[];
  const resolved = target.map((d, i) => (d === 0 && !allowZero ? (i < full.length ? full[i] : malformed(node, `shape value 0 at position ${i} has no input dimension to copy`)) : d));
  const size = elementCount(x.shape);
  const rest = resolved.slice(1);
  if (rest.some((d) => d === BATCH)) throw new NodeUnsupported('the batch size may only appear in position 0 of the target shape');
  const perSample = rest as number[];
  if (perSample.some((d) => !Number.isSafeInteger(d) || d < -1 || d === 0)) throw new NodeUnsupported(`target shape [${target.join(', ')}]`);
  const first = resolved[0];
  let shape: number[];
  if (first === BATCH || (state.fixedBatch !== null && first === state.fixedBatch)) {
    shape = perSample;
    if (shape.filter((d) => d === -1).length > 1) malformed(node, 'at most one -1 in the target shape');
    const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
    shape = shape.map((d) => (d === -1 ? size / known : d));
  } else if (first === -1 && !perSample.includes(-1)) {
    shape = perSample;
  } else {
    throw new NodeUnsupported(`target shape [${target.join(', ')}] does not keep the batch axis (position 0 must be the batch size, 0 or -1)`);
  }
  if (shape.some((d) => !Number.isSafeInteger(d)) || elementCount(shape) !== size) {
    throw new NodeUnsupported(`cannot reshape a per-sample [${x.shape.join(', ')}] to [${target.join(', ')}] while keeping the batch axis`);
  }
  addReshape(state, node, x, shape);
}

function unsqueezeSqueeze(state: ConversionState, node: OnnxNode): void {
  if (allConstant(state, node)) return foldUnsqueezeSqueeze(state, node);
  const x = activationInput(state, node, 0);
  const full = [1, ...x.shape];
  const axes = axesOf(state, node);
  const unsqueeze = node.opType === 'Unsqueeze';
  const rank = unsqueeze ? full.length + (axes?.length ?? 0) : full.length;
  if (axes && axes.some((a) => normalizeAxis(node, a, rank) === 0)) throw new NodeUnsupported('the batch axis (0) must be kept');
  let dims: number[];
  if (unsqueeze) dims = unsqueezeDims(state, node, full);
  else dims = axes ? squeezeDims(state, node, full) : [1, ...x.shape.filter((d) => d !== 1)];
  addReshape(state, node, x, dims.slice(1));
}

// ---- Add, Concat, Pad ----------------------------------------------------------------------------------------------

function addNode(state: ConversionState, node: OnnxNode): void {
  if (state.fusedAdds.has(node.name)) return;
  if (allConstant(state, node)) return foldArithmetic(state, node);
  const a = inputValue(state, node, 0);
  const b = inputValue(state, node, 1);
  if (!a || !b) malformed(node, 'needs two inputs');
  if (a.kind === 'const' || b.kind === 'const') {
    throw new NodeUnsupported('adding a constant to an activation is only supported as the bias right after a MatMul; a bias elsewhere has no LRP rule here (fold it into the layer before it when exporting)');
  }
  const refs = [activationInput(state, node, 0), activationInput(state, node, 1)];
  act(state, node, state.builder.add(add(), refs, node.name));
}

function concatNode(state: ConversionState, node: OnnxNode): void {
  if (allConstant(state, node)) return foldConcat(state, node);
  const values = node.inputs.map((_, i) => inputValue(state, node, i)).filter((v): v is Value => v !== undefined);
  if (values.some((v) => v.kind === 'const')) throw new NodeUnsupported('concatenating constants with activations');
  const refs = node.inputs.map((_, i) => activationInput(state, node, i));
  if (refs.length === 1) {
    act(state, node, refs[0]);
    drop(state, node, 'concatenation of one input');
    return;
  }
  const axis = normalizeAxis(node, node.int('axis', 1), fullRank(refs[0]));
  if (axis === 0) throw new NodeUnsupported('Concat along the batch axis (0)');
  act(state, node, state.builder.add(concat({ axis }), refs, node.name));
}

function padNode(state: ConversionState, node: OnnxNode): void {
  const value = activationValue(node, 0, inputValue(state, node, 0) ?? malformed(node, 'input data is required'));
  const mode = node.string('mode', 'constant');
  if (mode !== 'constant') throw new NodeUnsupported(`mode '${mode}' (only constant zero padding is supported)`);
  const rank = fullRank(value.ref);
  let pads: number[];
  let fill = 0;
  if (state.opset < 11) {
    pads = node.ints('pads') ?? node.ints('paddings') ?? malformed(node, 'pads are required');
    fill = node.float('value', 0);
  } else {
    pads = concreteInts(node, constInput(state, node, 1, 'pads') ?? malformed(node, 'pads are required'), 'pads');
    const c = constInput(state, node, 2, 'constant_value');
    if (c && c.data.length > 0) fill = Number(c.data[0]);
    const axesTensor = constInput(state, node, 3, 'axes');
    if (axesTensor) {
      const axes = concreteInts(node, axesTensor, 'axes').map((a) => normalizeAxis(node, a, rank));
      if (pads.length !== 2 * axes.length) malformed(node, `${pads.length} pads for ${axes.length} axes`);
      const fullPads = new Array<number>(2 * rank).fill(0);
      axes.forEach((a, k) => { fullPads[a] = pads[k]; fullPads[a + rank] = pads[k + axes.length]; });
      pads = fullPads;
    }
  }
  if (pads.length !== 2 * rank) malformed(node, `pads has ${pads.length} values, a rank-${rank} input needs ${2 * rank}`);
  if (fill !== 0) throw new NodeUnsupported(`constant value ${fill} (only zero padding is supported)`);
  if (pads.every((p) => p === 0)) {
    setOutput(state, node, 0, value);
    drop(state, node, 'all pads are zero');
    return;
  }
  if (pads.some((p) => p < 0)) throw new NodeUnsupported(`negative pads [${pads.join(', ')}] (cropping)`);
  if (rank !== 4 || pads[0] || pads[1] || pads[4] || pads[5]) {
    throw new NodeUnsupported(`pads [${pads.join(', ')}]: only the two spatial axes of an NCHW tensor can be padded`);
  }
  const padding: Pads = [pads[2], pads[3], pads[6], pads[7]];
  const ref = materialize(state, value);
  // Kept pending: a Conv or AveragePool reading it takes the padding itself, anything else gets a pad layer.
  setOutput(state, node, 0, { kind: 'act', ref, pendingPad: { padding, name: node.name } });
}

// ---- Pass-through ops ----------------------------------------------------------------------------------------------

function identity(state: ConversionState, node: OnnxNode): void {
  const value = inputValue(state, node, 0) ?? malformed(node, 'input 0 is required');
  setOutput(state, node, 0, value);
  if (node.opType === 'Dropout') drop(state, node, 'dropout is the identity at inference');
}

function softmax(state: ConversionState, node: OnnxNode): void {
  if (node.outputs[0] !== state.graphOutput) {
    throw new NodeUnsupported(`only a trailing ${node.opType} (the graph output) is supported; it is dropped so explanations start from the logits`);
  }
  const value = inputValue(state, node, 0) ?? malformed(node, 'input 0 is required');
  setOutput(state, node, 0, value);
  drop(state, node, `trailing ${node.opType} dropped: explanations start from the logits`);
}

function unsupportedOnActivations(mapper: Mapper, what: string): Mapper {
  return (state, node) => {
    if (!allConstant(state, node)) throw new NodeUnsupported(`${node.opType} is only supported on constants (${what})`);
    mapper(state, node);
  };
}

/** Every supported ONNX op (default domain) and its mapper. */
export const MAPPERS: Record<string, Mapper> = {
  Gemm: gemm,
  MatMul: matMul,
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  BatchNormalization: batchNormalization,
  Relu: activation(() => relu()),
  LeakyRelu: activation((_s, n) => leakyRelu({ alpha: n.float('alpha', 0.01) })),
  Tanh: activation(() => tanh()),
  Sigmoid: activation(() => sigmoid()),
  Elu: activation((_s, n) => elu({ alpha: n.float('alpha', 1) })),
  Gelu: activation(geluLayer),
  Flatten: flattenNode,
  Reshape: reshapeNode,
  Unsqueeze: unsqueezeSqueeze,
  Squeeze: unsqueezeSqueeze,
  Add: addNode,
  Concat: concatNode,
  Pad: padNode,
  Identity: identity,
  Dropout: identity,
  Softmax: softmax,
  LogSoftmax: softmax,
  Constant: FOLD_MAPPERS.Constant,
  Shape: FOLD_MAPPERS.Shape,
  Cast: FOLD_MAPPERS.Cast,
  Gather: unsupportedOnActivations(FOLD_MAPPERS.Gather, 'shape arithmetic'),
  Slice: unsupportedOnActivations(FOLD_MAPPERS.Slice, 'shape arithmetic'),
  Sub: unsupportedOnActivations(FOLD_MAPPERS.Sub, 'shape arithmetic'),
  Mul: unsupportedOnActivations(FOLD_MAPPERS.Mul, 'shape arithmetic'),
  Div: unsupportedOnActivations(FOLD_MAPPERS.Div, 'shape arithmetic'),
};

/** The supported op types, sorted, for error messages. */
export const SUPPORTED_OPS: readonly string[] = Object.keys(MAPPERS).sort();

