// The ONNX → Graph conversion driver: decoding, validation, node order, running the mappers, one error for all.
import { LrpError, isLrpError } from '../errors';
import type { Device } from '../native';
import { type Graph, GraphBuilder } from '../model/graph';
import {
  type ConversionState, type DroppedNode, NodeUnsupported, OnnxNode, type UnsupportedNode, type Value, materialize,
} from './context';
import { MAPPERS, SUPPORTED_OPS } from './ops';
import { type GraphProtoMessage, type ModelProtoMessage, type ValueInfoProtoMessage, int64, modelProtoType } from './schema';
import { checkTensorProto, dataTypeName, decodeTensor, isFloatType } from './tensors';

/** Options of `loadOnnx` and `loadOnnxGraph`. */
export interface LoadOnnxOptions {
  /**
   * Per-sample input shape (without the batch axis), for files whose input dimensions are symbolic. Dimensions the
   * file fixes must agree.
   */
  inputShape?: number[];
  /** Largest element count accepted for one declared tensor (default 2^28); larger ones throw `E_TOO_LARGE`. */
  maxTensorElements?: number;
  /** Compute device of the loaded model (default `'cpu'`); see `Device`. Ignored by `loadOnnxGraph`. */
  device?: Device;
}

/** A graph input or output as the file declares it. */
export interface OnnxValueSummary {
  /** The value's name in the file. */
  name: string;
  /** With the batch axis; symbolic dimensions are their names, unknown ones -1. */
  shape: (number | string)[];
  /** Element type, e.g. `'FLOAT'`. */
  dataType: string;
}

/** What a file contains and how the loader treats each node ({@link inspectOnnx}). */
export interface OnnxSummary {
  /** The file's ONNX IR version. */
  irVersion: number;
  /** Opset of the default ONNX domain. */
  opset: number;
  /** `producer_name producer_version`, e.g. `'pytorch 1.13.0'`. */
  producer: string;
  /** The graph input (initializers excluded); lrp-node supports exactly one. */
  inputs: OnnxValueSummary[];
  /** The graph outputs; lrp-node supports exactly one. */
  outputs: OnnxValueSummary[];
  /** Every node in file order. */
  nodes: {
    /** The node's name, or `<opType>_<index>` where the file gives none or a duplicate one. */
    name: string;
    /** The ONNX operator, e.g. `'Conv'`. */
    opType: string;
    /** False when the node is listed in `unsupported`. */
    supported: boolean;
  }[];
  /** Nodes lrp-node cannot convert, with the reason. */
  unsupported: UnsupportedNode[];
  /** Nodes that became no layer of their own: a trailing Softmax, a Pad folded into a Conv, a fused bias Add, … */
  dropped: DroppedNode[];
}

/** Default of {@link LoadOnnxOptions.maxTensorElements}. */
export const DEFAULT_MAX_TENSOR_ELEMENTS = 2 ** 28;

const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

function checkOptions(options: LoadOnnxOptions): { inputShape?: number[]; maxTensorElements: number } {
  if (typeof options !== 'object' || options === null) throw new LrpError('E_ARGUMENT', 'options must be an object');
  const max = options.maxTensorElements ?? DEFAULT_MAX_TENSOR_ELEMENTS;
  if (!Number.isSafeInteger(max) || max < 1) throw new LrpError('E_ARGUMENT', `maxTensorElements must be a positive integer, got ${String(max)}`);
  let inputShape: number[] | undefined;
  if (options.inputShape !== undefined) {
    if (!Array.isArray(options.inputShape) || options.inputShape.length === 0 || !options.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new LrpError('E_ARGUMENT', `inputShape must be a non-empty array of positive integers (per sample, without the batch axis), got ${JSON.stringify(options.inputShape)}`);
    }
    inputShape = [...options.inputShape];
  }
  return { inputShape, maxTensorElements: max };
}

/** Decodes the protobuf; `E_MODEL` for anything that is not an ONNX model. */
export function decodeModel(bytes: Uint8Array): ModelProtoMessage & { graph: GraphProtoMessage } {
  if (!(bytes instanceof Uint8Array)) throw new LrpError('E_ARGUMENT', 'expected the model file as a Uint8Array or Buffer');
  if (bytes.length === 0) throw new LrpError('E_MODEL', 'the ONNX file is empty');
  let model: ModelProtoMessage;
  try {
    model = modelProtoType().decode(bytes) as unknown as ModelProtoMessage;
  } catch (error) {
    throw new LrpError('E_MODEL', `not a valid ONNX file (protobuf decoding failed: ${(error as Error).message})`);
  }
  if (!model.graph) throw new LrpError('E_MODEL', 'not a valid ONNX file: it has no graph');
  return model as ModelProtoMessage & { graph: GraphProtoMessage };
}

function valueSummary(info: ValueInfoProtoMessage): OnnxValueSummary {
  const tensorType = info.type?.tensorType;
  const dims = tensorType?.shape?.dim ?? [];
  if (dims.length > 64) throw new LrpError('E_MODEL', `value '${info.name}' declares ${dims.length} dimensions`);
  const shape = dims.map((d): number | string => {
    if (d.dimParam) return d.dimParam;
    if (d.dimValue !== null && d.dimValue !== undefined && (d.value === 'dimValue' || int64(d.dimValue) !== 0)) {
      const v = int64(d.dimValue);
      if (!Number.isSafeInteger(v) || v < 0) throw new LrpError('E_MODEL', `value '${info.name}' declares an invalid dimension ${v}`);
      return v;
    }
    return -1;
  });
  return { name: info.name, shape, dataType: tensorType ? dataTypeName(tensorType.elemType) : 'unknown' };
}

/** Everything read from the file before the conversion proper. */
interface Prepared {
  model: ModelProtoMessage & { graph: GraphProtoMessage };
  opset: number;
  nodes: OnnxNode[];
  order: number[];
  initializers: Set<string>;
  input: ValueInfoProtoMessage;
  inputSummary: OnnxValueSummary;
  outputName: string;
  summary: OnnxSummary;
  /** Nodes whose op type is unknown, keyed by node index. */
  staticUnsupported: Map<number, UnsupportedNode>;
}

function uniqueNames(graph: GraphProtoMessage): string[] {
  const used = new Set<string>();
  return graph.node.map((n, i) => {
    let name = n.name ?? '';
    if (!name || used.has(name)) {
      const base = `${n.opType || 'node'}_${i}`;
      name = base;
      for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    }
    used.add(name);
    return name;
  });
}

/** A topological order; nodes that do not depend on the model input (constants, shape arithmetic) come first. */
function nodeOrder(nodes: OnnxNode[], defined: Set<string>, inputName: string): number[] {
  const producer = new Map<string, number>();
  for (const node of nodes) {
    for (const out of node.outputs) {
      if (!out) continue;
      if (producer.has(out) || defined.has(out)) throw new LrpError('E_MODEL', `value '${out}' is defined twice (node '${node.name}')`, { value: out });
      producer.set(out, node.index);
    }
  }
  const dependents: number[][] = nodes.map(() => []);
  const pending = new Array<number>(nodes.length).fill(0);
  for (const node of nodes) {
    const deps = new Set<number>();
    for (const name of node.inputs) {
      if (!name) continue;
      const p = producer.get(name);
      if (p !== undefined) deps.add(p);
      else if (!defined.has(name)) {
        throw new LrpError('E_MODEL', `node '${node.name}' (${node.opType}) reads '${name}', which no node, initializer or graph input defines`, { node: node.name, value: name });
      }
    }
    pending[node.index] = deps.size;
    for (const d of deps) dependents[d].push(node.index);
  }
  const order: number[] = [];
  const queue = nodes.filter((n) => pending[n.index] === 0).map((n) => n.index);
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head];
    order.push(i);
    for (const j of dependents[i]) if (--pending[j] === 0) queue.push(j);
  }
  if (order.length !== nodes.length) throw new LrpError('E_MODEL', 'the graph has a cycle');
  // Stable partition: constant subgraphs first, so a bias computed by a Constant is known when its MatMul is mapped.
  const dynamic = new Set<string>([inputName]);
  const isDynamic = new Array<boolean>(nodes.length).fill(false);
  for (const i of order) {
    if (nodes[i].inputs.some((name) => dynamic.has(name))) {
      isDynamic[i] = true;
      for (const out of nodes[i].outputs) if (out) dynamic.add(out);
    }
  }
  return [...order.filter((i) => !isDynamic[i]), ...order.filter((i) => isDynamic[i])];
}

function prepare(bytes: Uint8Array, maxTensorElements: number): Prepared {
  const model = decodeModel(bytes);
  const graph = model.graph;
  const opsetEntry = (model.opsetImport ?? []).find((o) => DEFAULT_DOMAINS.has(o.domain ?? ''));
  const opset = opsetEntry ? int64(opsetEntry.version) : 1;
  if (!Number.isSafeInteger(opset) || opset < 1) throw new LrpError('E_MODEL', `invalid opset version ${opset}`);
  const initializers = new Set<string>();
  for (const t of graph.initializer) {
    if (!t.name) throw new LrpError('E_MODEL', 'an initializer has no name');
    checkTensorProto(t, `initializer '${t.name}'`, maxTensorElements);
    initializers.add(t.name);
  }
  const inputs = graph.input.filter((i) => !initializers.has(i.name));
  if (inputs.length === 0) throw new LrpError('E_MODEL', 'the graph has no input');
  if (inputs.length > 1) {
    throw new LrpError('E_UNSUPPORTED_OP', `the graph has ${inputs.length} inputs (${inputs.map((i) => `'${i.name}'`).join(', ')}); lrp-node explains models with one input`, { inputs: inputs.map((i) => i.name) });
  }
  if (graph.output.length === 0) throw new LrpError('E_MODEL', 'the graph has no output');
  if (graph.output.length > 1) {
    throw new LrpError('E_UNSUPPORTED_OP', `the graph has ${graph.output.length} outputs (${graph.output.map((o) => `'${o.name}'`).join(', ')}); lrp-node explains models with one output`, { outputs: graph.output.map((o) => o.name) });
  }
  const input = inputs[0];
  const outputName = graph.output[0].name;
  const names = uniqueNames(graph);
  const nodes = graph.node.map((n, i) => new OnnxNode(n, i, names[i]));
  const defined = new Set<string>([...initializers, input.name]);
  const order = nodeOrder(nodes, defined, input.name);
  if (!defined.has(outputName) && !nodes.some((n) => n.outputs.includes(outputName))) {
    throw new LrpError('E_MODEL', `the graph output '${outputName}' is not computed by any node`, { value: outputName });
  }
  const staticUnsupported = new Map<number, UnsupportedNode>();
  for (const node of nodes) {
    const known = DEFAULT_DOMAINS.has(node.domain) && Object.prototype.hasOwnProperty.call(MAPPERS, node.opType);
    if (!known) {
      const op = node.domain && !DEFAULT_DOMAINS.has(node.domain) ? `${node.domain}::${node.opType}` : node.opType;
      staticUnsupported.set(node.index, { name: node.name, opType: node.opType, reason: `operator ${op} is not supported` });
    }
  }
  const inputSummary = valueSummary(input);
  const summary: OnnxSummary = {
    irVersion: int64(model.irVersion), opset,
    producer: [model.producerName, model.producerVersion].filter((s) => s).join(' '),
    inputs: [inputSummary], outputs: graph.output.map(valueSummary),
    nodes: nodes.map((n) => ({ name: n.name, opType: n.opType, supported: !staticUnsupported.has(n.index) })),
    unsupported: [...staticUnsupported.values()], dropped: [],
  };
  return { model, opset, nodes, order, initializers, input, inputSummary, outputName, summary, staticUnsupported };
}

/** The per-sample input shape from the file and the option; E_SHAPE when it cannot be known. */
function sampleShape(prepared: Prepared, override: number[] | undefined): { shape: number[]; fixedBatch: number | null } {
  const { input, inputSummary } = prepared;
  const tensorType = input.type?.tensorType;
  if (tensorType && tensorType.elemType && !isFloatType(tensorType.elemType)) {
    throw new LrpError('E_UNSUPPORTED_OP', `input '${input.name}' has element type ${dataTypeName(tensorType.elemType)}; lrp-node explains float inputs`, { input: input.name });
  }
  const declared = tensorType?.shape ? inputSummary.shape : undefined;
  if (declared && declared.length < 2) {
    throw new LrpError('E_UNSUPPORTED_OP', `input '${input.name}' has shape [${declared.join(', ')}]; expected a batch axis followed by per-sample dimensions`, { input: input.name });
  }
  const fixedBatch = declared && typeof declared[0] === 'number' && declared[0] > 0 ? declared[0] : null;
  const perSample = declared?.slice(1);
  if (override) {
    if (perSample && (perSample.length !== override.length || perSample.some((d, i) => typeof d === 'number' && d > 0 && d !== override[i]))) {
      throw new LrpError('E_SHAPE', `inputShape [${override.join(', ')}] does not match input '${input.name}' [${inputSummary.shape.join(', ')}] (per sample: [${perSample.join(', ')}])`, { input: input.name });
    }
    return { shape: override, fixedBatch };
  }
  if (!perSample || perSample.some((d) => typeof d !== 'number' || d <= 0)) {
    throw new LrpError('E_SHAPE', `input '${input.name}' has shape [${(declared ?? ['?']).join(', ')}] with unknown per-sample dimensions; pass options.inputShape (per sample, without the batch axis)`, { input: input.name });
  }
  const shape = perSample as number[];
  let size = 1;
  for (const d of shape) size *= d;
  if (size > 2 ** 31 - 1) throw new LrpError('E_TOO_LARGE', `input '${input.name}' declares ${size} elements per sample`, { input: input.name });
  return { shape, fixedBatch };
}

function unsupportedError(unsupported: UnsupportedNode[]): LrpError {
  const lines = unsupported.map((u) => `  - ${u.opType} '${u.name}': ${u.reason}`);
  return new LrpError('E_UNSUPPORTED_OP',
    `the ONNX model has ${unsupported.length} node${unsupported.length === 1 ? '' : 's'} lrp-node cannot explain:\n${lines.join('\n')}\n` +
    `supported operators: ${SUPPORTED_OPS.join(', ')}`,
    { unsupported: unsupported.map((u) => ({ ...u })), supportedOps: [...SUPPORTED_OPS] });
}

/** Runs the mappers over the prepared nodes. Returns the graph, or null when nodes are unsupported (listed in the summary). */
function run(prepared: Prepared, shape: number[], fixedBatch: number | null, maxTensorElements: number): Graph | null {
  const { model, nodes, order, summary, staticUnsupported } = prepared;
  const builder = new GraphBuilder(shape);
  const values = new Map<string, Value>();
  for (const t of model.graph.initializer) {
    values.set(t.name, { kind: 'const', decode: () => decodeTensor(t, `initializer '${t.name}'`, maxTensorElements) });
  }
  values.set(prepared.input.name, { kind: 'act', ref: builder.input });
  const consumers = new Map<string, number[]>();
  for (const node of nodes) {
    for (const name of new Set(node.inputs)) if (name) consumers.set(name, [...(consumers.get(name) ?? []), node.index]);
  }
  const state: ConversionState = {
    builder, opset: prepared.opset, values, consumers, nodes, graphOutput: prepared.outputName, fixedBatch,
    maxTensorElements, dropped: summary.dropped, fusedAdds: new Set(),
  };
  const unsupported = new Map<string, UnsupportedNode>();
  const report = (u: UnsupportedNode): void => {
    if (!unsupported.has(u.name)) unsupported.set(u.name, u);
  };
  for (const u of staticUnsupported.values()) report(u);
  const poison = (node: OnnxNode): void => {
    for (const out of node.outputs) if (out && !values.has(out)) values.set(out, { kind: 'poison' });
  };
  for (const index of order) {
    const node = nodes[index];
    if (staticUnsupported.has(index)) {
      poison(node);
      continue;
    }
    let poisoned = false;
    for (const name of node.inputs) {
      const v = name ? values.get(name) : undefined;
      if (v?.kind === 'poison') {
        poisoned = true;
        if (v.report) report(v.report);
      }
    }
    if (poisoned) {
      poison(node);
      continue;
    }
    try {
      MAPPERS[node.opType](state, node);
    } catch (error) {
      if (error instanceof NodeUnsupported) {
        report({ name: node.name, opType: node.opType, reason: error.reason });
        poison(node);
        continue;
      }
      if (isLrpError(error)) {
        if (error.code === 'E_ARGUMENT') throw new LrpError('E_MODEL', `node '${node.name}' (${node.opType}): ${error.message}`, { node: node.name });
        throw error;
      }
      throw new LrpError('E_MODEL', `node '${node.name}' (${node.opType}) is malformed: ${(error as Error)?.message ?? String(error)}`, { node: node.name });
    }
    node.outputs.forEach((out, k) => {
      if (out && !values.has(out)) {
        values.set(out, { kind: 'poison', report: { name: node.name, opType: node.opType, reason: `output ${k} ('${out}') is used, and only the first output is supported` } });
      }
    });
  }
  const output = values.get(prepared.outputName);
  let graph: Graph | null = null;
  if (output?.kind === 'poison') {
    if (output.report) report(output.report);
  } else if (output?.kind === 'const') {
    throw new LrpError('E_UNSUPPORTED_OP', `the graph output '${prepared.outputName}' is a constant; it does not depend on the input`);
  } else if (output?.kind === 'act' && unsupported.size === 0) {
    const ref = materialize(state, output);
    if (ref.index < 0) throw new LrpError('E_UNSUPPORTED_OP', 'the model has no layers: its output is its input');
    graph = builder.build(ref);
  }
  summary.unsupported = [...unsupported.values()];
  const names = new Set(unsupported.keys());
  for (const n of summary.nodes) n.supported = !names.has(n.name);
  return graph;
}

/** Converts an ONNX file to a graph; one `E_UNSUPPORTED_OP` lists every node that cannot be converted. */
export function convertOnnx(bytes: Uint8Array, options: LoadOnnxOptions = {}): { graph: Graph; summary: OnnxSummary } {
  const { inputShape, maxTensorElements } = checkOptions(options);
  const prepared = prepare(bytes, maxTensorElements);
  const { shape, fixedBatch } = sampleShape(prepared, inputShape);
  const graph = run(prepared, shape, fixedBatch, maxTensorElements);
  if (!graph) throw unsupportedError(prepared.summary.unsupported);
  return { graph, summary: prepared.summary };
}

/** Summarises a file without failing on unsupported nodes; malformed files still throw `E_MODEL`. */
export function summarizeOnnx(bytes: Uint8Array, options: LoadOnnxOptions = {}): OnnxSummary {
  const { inputShape, maxTensorElements } = checkOptions(options);
  const prepared = prepare(bytes, maxTensorElements);
  try {
    const { shape, fixedBatch } = sampleShape(prepared, inputShape);
    run(prepared, shape, fixedBatch, maxTensorElements);
  } catch (error) {
    // Unknown input dimensions, shape mismatches and the like: the op-type listing from prepare() stands.
    if (!isLrpError(error) || error.code === 'E_MODEL' || error.code === 'E_TOO_LARGE') throw error;
    if (error.code === 'E_UNSUPPORTED_OP' && prepared.summary.unsupported.length === 0) {
      prepared.summary.unsupported.push({ name: prepared.outputName, opType: 'graph', reason: error.message });
    }
  }
  return prepared.summary;
}
