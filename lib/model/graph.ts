// The model graph: the builder that checks shapes layer by layer, and canonization (BatchNorm merge).
import { LrpError } from '../errors';
import { LINEAR_LAYER_TYPES, type Layer } from './layers';
import { shapeSize } from './tensor';

/** One node of a built graph: a layer, the nodes it reads, and its per-sample shapes (without the batch axis). */
export interface GraphNode {
  /** Position in {@link Graph.nodes} (topological order). */
  index: number;
  /** Unique name, used by composites to pick rules by name. */
  name: string;
  /** The layer this node applies (after canonization, e.g. with a BatchNorm merged into its weights). */
  layer: Layer;
  /** Indices of the nodes this node reads; -1 is the model input. */
  inputs: number[];
  /** Per-sample shape of each input. */
  inputShapes: number[][];
  /** Per-sample output shape. */
  outputShape: number[];
  /** Name of a BatchNorm layer merged into this one, if any. */
  mergedBatchNorm?: string;
}

/** A validated, canonized model graph in topological order; the last node is the output. */
export interface Graph {
  /** Per-sample input shape, e.g. `[3, 32, 32]` or `[784]`. */
  inputShape: number[];
  /** The nodes in topological order; the last one is the model output. */
  nodes: GraphNode[];
}

/** A reference to a tensor in a graph under construction: the model input or a node's output. */
export interface NodeRef {
  /** Node index; -1 for the model input. */
  readonly index: number;
  /** Per-sample shape of this tensor. */
  readonly shape: readonly number[];
}

const spatialOut = (size: number, kernel: number, stride: number, padBefore: number, padAfter: number, dilation: number, ceil: boolean): number => {
  const span = size + padBefore + padAfter - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // torch and ONNX: with ceil mode the last window must start inside the input or its leading padding.
  if (ceil && (out - 1) * stride >= size + padBefore) out -= 1;
  return out;
};

function requireRank(layer: Layer, name: string, shape: number[], rank: number, what: string): void {
  if (shape.length !== rank) {
    throw new LrpError('E_SHAPE', `layer '${name}' (${layer.type}) expects ${what}, got input shape [${shape.join(', ')}]`, { layer: name });
  }
}

/** Computes a layer's per-sample output shape from its input shapes, or throws `E_SHAPE` naming the layer. */
export function inferShape(layer: Layer, name: string, inputs: number[][]): number[] {
  const fail = (message: string): never => {
    throw new LrpError('E_SHAPE', `layer '${name}' (${layer.type}): ${message}`, { layer: name });
  };
  const arity = layer.type === 'add' || layer.type === 'concat' ? -1 : 1;
  if (arity === 1 && inputs.length !== 1) fail(`takes one input, got ${inputs.length}`);
  if (arity === -1 && inputs.length < 2) fail(`takes two or more inputs, got ${inputs.length}`);
  const x = inputs[0];
  switch (layer.type) {
    case 'dense': {
      requireRank(layer, name, x, 1, 'a flat input [features] (add a flatten layer before it)');
      const [out, inFeatures] = layer.weight.shape;
      if (inFeatures !== x[0]) fail(`weight is [${out}, ${inFeatures}] but the input has ${x[0]} features`);
      if (layer.bias && layer.bias.data.length !== out) fail(`bias has ${layer.bias.data.length} values, expected ${out}`);
      return [out];
    }
    case 'conv2d': {
      requireRank(layer, name, x, 3, 'an input [channels, height, width]');
      const [out, inPerGroup, kh, kw] = layer.weight.shape;
      if (inPerGroup * layer.groups !== x[0]) {
        fail(`weight expects ${inPerGroup} × groups ${layer.groups} = ${inPerGroup * layer.groups} input channels, the input has ${x[0]}`);
      }
      if (out % layer.groups !== 0) fail(`${out} output channels are not divisible by groups=${layer.groups}`);
      if (layer.bias && layer.bias.data.length !== out) fail(`bias has ${layer.bias.data.length} values, expected ${out}`);
      const [t, l, b, r] = layer.padding;
      const h = spatialOut(x[1], kh, layer.stride[0], t, b, layer.dilation[0], false);
      const w = spatialOut(x[2], kw, layer.stride[1], l, r, layer.dilation[1], false);
      if (h < 1 || w < 1) fail(`kernel ${kh}×${kw} (dilation ${layer.dilation.join('×')}) does not fit the padded input ${x[1]}×${x[2]}`);
      return [out, h, w];
    }
    case 'maxPool2d':
    case 'avgPool2d': {
      requireRank(layer, name, x, 3, 'an input [channels, height, width]');
      const dilation = layer.type === 'maxPool2d' ? layer.dilation : [1, 1];
      const [t, l, b, r] = layer.padding;
      // A padding as large as the kernel would create windows that lie entirely in the padding (ONNX: pad < kernel).
      if (t >= layer.kernel[0] || b >= layer.kernel[0] || l >= layer.kernel[1] || r >= layer.kernel[1]) {
        fail(`padding [${layer.padding.join(', ')}] must be smaller than the kernel ${layer.kernel.join('×')}`);
      }
      const h = spatialOut(x[1], layer.kernel[0], layer.stride[0], t, b, dilation[0], layer.ceilMode);
      const w = spatialOut(x[2], layer.kernel[1], layer.stride[1], l, r, dilation[1], layer.ceilMode);
      if (h < 1 || w < 1) fail(`kernel ${layer.kernel.join('×')} does not fit the input ${x[1]}×${x[2]}`);
      return [x[0], h, w];
    }
    case 'globalAvgPool':
      requireRank(layer, name, x, 3, 'an input [channels, height, width]');
      return [x[0], 1, 1];
    case 'batchNorm':
      if (x.length < 1 || x[0] !== layer.weight.data.length) fail(`has ${layer.weight.data.length} channels, the input has shape [${x.join(', ')}]`);
      return [...x];
    case 'relu': case 'leakyRelu': case 'tanh': case 'sigmoid': case 'elu': case 'gelu':
      return [...x];
    case 'flatten':
      return [shapeSize(x, name)];
    case 'reshape': {
      const size = shapeSize(x, name);
      const free = layer.shape.filter((d) => d === -1).length;
      if (free > 1) fail('at most one dimension may be -1');
      const known = layer.shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
      if (layer.shape.some((d) => !Number.isSafeInteger(d) || d < -1 || d === 0)) fail(`invalid shape [${layer.shape.join(', ')}]`);
      const out = layer.shape.map((d) => (d === -1 ? size / known : d));
      if (!out.every((d) => Number.isSafeInteger(d)) || shapeSize(out, name) !== size) {
        fail(`cannot reshape [${x.join(', ')}] (${size} values) to [${layer.shape.join(', ')}]`);
      }
      return out;
    }
    case 'add':
      for (const s of inputs) if (s.join(',') !== x.join(',')) fail(`inputs have different shapes [${x.join(', ')}] and [${s.join(', ')}]`);
      return [...x];
    case 'concat': {
      const axis = layer.axis - 1;
      if (axis >= x.length) fail(`axis ${layer.axis} is out of range for inputs of rank ${x.length + 1}`);
      let total = 0;
      for (const s of inputs) {
        if (s.length !== x.length || s.some((d, i) => i !== axis && d !== x[i])) {
          fail(`inputs [${x.join(', ')}] and [${s.join(', ')}] differ outside axis ${layer.axis}`);
        }
        total += s[axis];
      }
      const out = [...x];
      out[axis] = total;
      return out;
    }
    case 'pad': {
      requireRank(layer, name, x, 3, 'an input [channels, height, width]');
      const [t, l, b, r] = layer.padding;
      return [x[0], x[1] + t + b, x[2] + l + r];
    }
    default: {
      const unknown: never = layer;
      throw new LrpError('E_UNSUPPORTED_OP', `unknown layer type '${(unknown as { type: string }).type}'`);
    }
  }
}

/**
 * Builds a graph node by node, checking shapes as it goes. Used directly for non-sequential models (residual
 * blocks, concatenations) and by {@link sequential} and the ONNX loader.
 */
export class GraphBuilder {
  /** The model input. */
  readonly input: NodeRef;
  private readonly inputShape: number[];
  private readonly nodes: GraphNode[] = [];
  private readonly names = new Set<string>();

  constructor(inputShape: readonly number[]) {
    if (!Array.isArray(inputShape) || inputShape.length === 0) {
      throw new LrpError('E_SHAPE', 'inputShape must be a non-empty array of per-sample dimensions, e.g. [1, 28, 28]');
    }
    if (shapeSize(inputShape, 'inputShape') === 0) throw new LrpError('E_SHAPE', `inputShape [${inputShape.join(', ')}] has no elements`);
    this.inputShape = [...inputShape];
    this.input = { index: -1, shape: this.inputShape };
  }

  /** Adds `layer` reading `inputs` (one reference, or several for add/concat) and returns its output. */
  add(layer: Layer, inputs: NodeRef | readonly NodeRef[], name?: string): NodeRef {
    const refs = Array.isArray(inputs) ? [...(inputs as readonly NodeRef[])] : [inputs as NodeRef];
    for (const ref of refs) {
      if (!ref || typeof ref.index !== 'number' || ref.index < -1 || ref.index >= this.nodes.length) {
        throw new LrpError('E_ARGUMENT', `layer '${name ?? layer?.type}': an input reference does not belong to this graph`);
      }
    }
    if (!layer || typeof layer !== 'object' || typeof (layer as { type?: unknown }).type !== 'string') {
      throw new LrpError('E_ARGUMENT', 'add() expects a layer created by dense(), conv2d(), relu(), …');
    }
    const index = this.nodes.length;
    const nodeName = name ?? layer.name ?? `${layer.type}_${index}`;
    if (this.names.has(nodeName)) throw new LrpError('E_ARGUMENT', `layer name '${nodeName}' is used twice; names must be unique`);
    const inputShapes = refs.map((r) => [...r.shape]);
    const outputShape = inferShape(layer, nodeName, inputShapes);
    if (shapeSize(outputShape, `layer '${nodeName}' output`) === 0) {
      throw new LrpError('E_SHAPE', `layer '${nodeName}' (${layer.type}): the output [${outputShape.join(', ')}] has no elements`, { layer: nodeName });
    }
    this.names.add(nodeName);
    this.nodes.push({ index, name: nodeName, layer, inputs: refs.map((r) => r.index), inputShapes, outputShape });
    return { index, shape: outputShape };
  }

  /** Finishes the graph with `output` as the model output: drops unused nodes and merges BatchNorms. */
  build(output: NodeRef): Graph {
    if (!output || output.index < 0 || output.index >= this.nodes.length) {
      throw new LrpError('E_ARGUMENT', 'the graph output must be a node of this graph (not the bare input)');
    }
    return canonize({ inputShape: this.inputShape, nodes: this.nodes }, output.index);
  }
}

/** Keeps the nodes that `output` depends on and renumbers them, keeping the topological order. */
function prune(nodes: GraphNode[], output: number): GraphNode[] {
  const used = new Array<boolean>(nodes.length).fill(false);
  used[output] = true;
  for (let i = output; i >= 0; i--) if (used[i]) for (const j of nodes[i].inputs) if (j >= 0) used[j] = true;
  const renumber = new Map<number, number>([[-1, -1]]);
  const kept: GraphNode[] = [];
  for (let i = 0; i <= output; i++) {
    if (!used[i]) continue;
    renumber.set(i, kept.length);
    kept.push({ ...nodes[i], index: kept.length, inputs: nodes[i].inputs.map((j) => renumber.get(j)!) });
  }
  return kept;
}

/**
 * Merges each BatchNorm into the dense/conv2d before it when that layer's output feeds only the BatchNorm:
 * `W' = W·g/√(var+eps)`, `b' = (b − mean)·g/√(var+eps) + beta` per output channel, computed in float64.
 */
function mergeBatchNorms(nodes: GraphNode[]): GraphNode[] {
  const consumers = new Array<number>(nodes.length).fill(0);
  for (const n of nodes) for (const j of n.inputs) if (j >= 0) consumers[j]++;
  const replaced = new Map<number, number>();
  const out: GraphNode[] = nodes.map((n) => ({ ...n }));
  const resolve = (j: number): number => (replaced.has(j) ? replaced.get(j)! : j);
  for (const node of out) {
    node.inputs = node.inputs.map(resolve);
    if (node.layer.type !== 'batchNorm') continue;
    const src = node.inputs[0];
    if (src < 0 || consumers[src] !== 1) continue;
    const prev = out[src];
    if (!LINEAR_LAYER_TYPES.includes(prev.layer.type) || prev.mergedBatchNorm) continue;
    const bn = node.layer;
    const linear = prev.layer as Extract<Layer, { type: 'dense' | 'conv2d' }>;
    const channels = linear.weight.shape[0];
    if (bn.weight.data.length !== channels) continue;
    const perChannel = linear.weight.data.length / channels;
    const weight = new Float32Array(linear.weight.data.length);
    const bias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const scale = bn.weight.data[c] / Math.sqrt(bn.runningVar.data[c] + bn.eps);
      for (let k = 0; k < perChannel; k++) weight[c * perChannel + k] = linear.weight.data[c * perChannel + k] * scale;
      const b = linear.bias ? linear.bias.data[c] : 0;
      bias[c] = (b - bn.runningMean.data[c]) * scale + bn.bias.data[c];
    }
    prev.layer = { ...linear, weight: { data: weight, shape: [...linear.weight.shape] }, bias: { data: bias, shape: [channels] } };
    prev.mergedBatchNorm = node.name;
    replaced.set(node.index, src);
  }
  return out;
}

function canonize(graph: Graph, output: number): Graph {
  const merged = mergeBatchNorms(prune(graph.nodes, output));
  let outputIndex = merged.length - 1;
  const last = merged[outputIndex];
  // A merged BatchNorm at the very end: the layer it was merged into becomes the output.
  if (last.layer.type === 'batchNorm' && merged[last.inputs[0]]?.mergedBatchNorm === last.name) outputIndex = last.inputs[0];
  // Pruning from the output drops the merged BatchNorms, which nothing reads any more.
  return { inputShape: graph.inputShape, nodes: prune(merged, outputIndex) };
}
