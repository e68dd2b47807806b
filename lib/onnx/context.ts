// What the op mappers share: the values flowing between ONNX nodes, attribute access, and the conversion state.
import { LrpError } from '../errors';
import type { GraphBuilder, NodeRef } from '../model/graph';
import { pad } from '../model/layers';
import type { AttributeProtoMessage, NodeProtoMessage } from './schema';
import { int64 } from './schema';
import { type ConstTensor, decodeTensor } from './tensors';

/** Zero padding of a Pad node not yet turned into a layer, waiting to be folded into the Conv/AveragePool after it. */
export interface PendingPad {
  /** `[top, left, bottom, right]`. */
  padding: [number, number, number, number];
  /** Layer name for the pad layer if it has to be materialised (the Pad node's name). */
  name: string;
  materialized?: NodeRef;
}

/** A value flowing along an ONNX edge. */
export type Value =
  /** An activation: a tensor of the graph being built (per-sample shape in `ref.shape`). */
  | { kind: 'act'; ref: NodeRef; pendingPad?: PendingPad }
  /** A constant known at load time; `tensor` is decoded on first use. */
  | { kind: 'const'; tensor?: ConstTensor; decode?: () => ConstTensor }
  /** The output of a node that could not be converted; `report` is set when using it is itself the problem. */
  | { kind: 'poison'; report?: UnsupportedNode };

/** A node lrp-node cannot convert, and why. */
export interface UnsupportedNode {
  /** The node's name (as in {@link OnnxSummary.nodes}), or the output's name for a whole-graph problem. */
  name: string;
  /** The ONNX operator, or `'graph'` for a whole-graph problem. */
  opType: string;
  /** Why it cannot be converted. */
  reason: string;
}

/** A node that produced no layer of its own, and why (folded, fused, dropped). */
export interface DroppedNode {
  /** The node's name (as in {@link OnnxSummary.nodes}). */
  name: string;
  /** The ONNX operator. */
  opType: string;
  /** What became of it, e.g. a Pad folded into the padding of the Conv or pooling layer after it. */
  reason: string;
}

/** Thrown by a mapper when its node cannot be converted; the driver collects these into one E_UNSUPPORTED_OP. */
export class NodeUnsupported extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Thrown by a mapper when the file itself is malformed (wrong attribute arity, missing required input). */
export function malformed(node: OnnxNode, message: string): never {
  throw new LrpError('E_MODEL', `node '${node.name}' (${node.opType}): ${message}`, { node: node.name, opType: node.opType });
}

/** The state of one conversion. */
export interface ConversionState {
  builder: GraphBuilder;
  opset: number;
  values: Map<string, Value>;
  /** Value name → indices of the nodes that read it. */
  consumers: Map<string, number[]>;
  nodes: OnnxNode[];
  graphOutput: string;
  /** The batch size when the file fixes it (dim 0 of the input is a number), else null. */
  fixedBatch: number | null;
  maxTensorElements: number;
  dropped: DroppedNode[];
  /** Names of Add nodes already fused into the MatMul before them. */
  fusedAdds: Set<string>;
}

/** One ONNX node with its unique layer name and attribute access. */
export class OnnxNode {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  private readonly attributes = new Map<string, AttributeProtoMessage>();

  constructor(readonly proto: NodeProtoMessage, readonly index: number, readonly name: string) {
    this.opType = proto.opType ?? '';
    this.domain = proto.domain ?? '';
    this.inputs = proto.input ?? [];
    this.outputs = proto.output ?? [];
    for (const a of proto.attribute ?? []) this.attributes.set(a.name, a);
  }

  /** Whether attribute `name` is present. */
  has(name: string): boolean {
    return this.attributes.has(name);
  }

  private attr(name: string): AttributeProtoMessage | undefined {
    const a = this.attributes.get(name);
    if (a && a.refAttrName) throw new NodeUnsupported(`attribute '${name}' refers to a function attribute`);
    return a;
  }

  /** An integer attribute. */
  int(name: string, fallback: number): number {
    const a = this.attr(name);
    if (!a) return fallback;
    const v = int64(a.i);
    if (!Number.isSafeInteger(v)) malformed(this, `attribute '${name}' is not an integer`);
    return v;
  }

  /** A float attribute. */
  float(name: string, fallback: number): number {
    const a = this.attr(name);
    return a ? a.f : fallback;
  }

  /** A list-of-integers attribute. */
  ints(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (a.ints.length > 1024) malformed(this, `attribute '${name}' has ${a.ints.length} values`);
    const values = a.ints.map(int64);
    if (!values.every(Number.isSafeInteger)) malformed(this, `attribute '${name}' holds a non-integer`);
    return values;
  }

  /** A list-of-floats attribute. */
  floats(name: string): number[] | undefined {
    const a = this.attr(name);
    return a ? [...a.floats] : undefined;
  }

  /** A string attribute. */
  string(name: string, fallback: string): string {
    const a = this.attr(name);
    return a ? Buffer.from(a.s ?? new Uint8Array()).toString('utf8') : fallback;
  }

  /** A tensor attribute, decoded. */
  tensor(name: string, maxElements: number): ConstTensor | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (!a.t) malformed(this, `attribute '${name}' holds no tensor`);
    return decodeTensor(a.t, `node '${this.name}' attribute '${name}'`, maxElements);
  }
}

/** The value of input `i` of `node`, or undefined when the input is absent (missing or empty name). */
export function inputValue(state: ConversionState, node: OnnxNode, i: number): Value | undefined {
  const name = node.inputs[i];
  if (!name) return undefined;
  const value = state.values.get(name);
  if (!value) malformed(node, `input '${name}' is not defined`);
  return value;
}

/** The constant at input `i` (decoded), or undefined when absent; an activation there is unsupported. */
export function constInput(state: ConversionState, node: OnnxNode, i: number, what: string): ConstTensor | undefined {
  const value = inputValue(state, node, i);
  if (!value) return undefined;
  if (value.kind !== 'const') throw new NodeUnsupported(`${what} (input ${i}, '${node.inputs[i]}') must be a constant or initializer, not computed from the model input`);
  return constTensor(value);
}

/** Decodes a constant value on first use. */
export function constTensor(value: Extract<Value, { kind: 'const' }>): ConstTensor {
  if (!value.tensor) {
    value.tensor = value.decode!();
    value.decode = undefined;
  }
  return value.tensor;
}

/** The activation at input `i`; pending padding is materialised as a pad layer. */
export function activationInput(state: ConversionState, node: OnnxNode, i: number): NodeRef {
  const value = inputValue(state, node, i);
  if (!value) malformed(node, `input ${i} is required`);
  return materialize(state, activationValue(node, i, value));
}

/** Checks that `value` is an activation (a constant operand is unsupported where a layer input is expected). */
export function activationValue(node: OnnxNode, i: number, value: Value): Extract<Value, { kind: 'act' }> {
  if (value.kind !== 'act') {
    throw new NodeUnsupported(`input ${i} ('${node.inputs[i]}') is a constant; lrp-node only explains layers applied to the model input`);
  }
  return value;
}

/** Turns pending padding into a pad layer (once) and returns the tensor to read. */
export function materialize(state: ConversionState, value: Extract<Value, { kind: 'act' }>): NodeRef {
  const pending = value.pendingPad;
  if (!pending) return value.ref;
  if (!pending.materialized) pending.materialized = state.builder.add(pad({ padding: pending.padding }), value.ref, pending.name);
  return pending.materialized;
}

/** Sets output `i` of `node`. */
export function setOutput(state: ConversionState, node: OnnxNode, i: number, value: Value): void {
  const name = node.outputs[i];
  if (name) state.values.set(name, value);
}

/** Records a node that produced no layer. */
export function drop(state: ConversionState, node: OnnxNode, reason: string): void {
  state.dropped.push({ name: node.name, opType: node.opType, reason });
}

/** Full-tensor rank (with the batch axis) of an activation. */
export function fullRank(ref: NodeRef): number {
  return ref.shape.length + 1;
}

/** Normalises a possibly negative axis of a tensor of rank `rank`, or throws. */
export function normalizeAxis(node: OnnxNode, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isSafeInteger(a) || a < 0 || a >= rank) malformed(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}
