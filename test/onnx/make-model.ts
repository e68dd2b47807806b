// Builds tiny ONNX models in tests, encoded with the loader's own protobuf schema.
import { modelProtoType } from '../../lib/onnx/schema';

/** An AttributeProto as a plain object. */
export interface Attr { name: string; type: number; [field: string]: unknown }

export const attr = {
  int: (name: string, i: number): Attr => ({ name, type: 2, i }),
  float: (name: string, f: number): Attr => ({ name, type: 1, f }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: 7, ints }),
  string: (name: string, s: string): Attr => ({ name, type: 3, s: Buffer.from(s, 'utf8') }),
  tensor: (name: string, t: object): Attr => ({ name, type: 4, t }),
};

/** A float32 tensor stored in raw_data (little-endian), as exporters write weights. */
export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): object {
  return { name, dims, dataType: 1, rawData: new Uint8Array(Float32Array.from(data).buffer) };
}

/** An int64 tensor stored in int64_data. */
export function int64Tensor(name: string, dims: number[], data: number[]): object {
  return { name, dims, dataType: 7, int64Data: data };
}

/** A node. */
export function node(opType: string, inputs: string[], outputs: string[], attributes: Attr[] = [], name = ''): object {
  return { opType, input: inputs, output: outputs, attribute: attributes, name };
}

/** A tensor value info; dims are numbers or symbolic names. */
export function valueInfo(name: string, dims: (number | string)[], elemType = 1): object {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** What {@link makeModel} needs. */
export interface ModelSpec {
  nodes: object[];
  initializers?: object[];
  inputs?: object[];
  outputs?: object[];
  /** Shorthand: one input `x` of this shape (batch axis included). */
  input?: (number | string)[];
  /** Shorthand: the output name (default `y`). */
  output?: string;
  opset?: number;
}

/** Encodes an ONNX model. */
export function makeModel(spec: ModelSpec): Uint8Array {
  const type = modelProtoType();
  const message = type.fromObject({
    irVersion: 8,
    producerName: 'lrp-node-test',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: 'test',
      node: spec.nodes,
      initializer: spec.initializers ?? [],
      input: spec.inputs ?? [valueInfo('x', spec.input ?? ['N', 4])],
      output: spec.outputs ?? [valueInfo(spec.output ?? 'y', ['N', -1].map((d) => (d === -1 ? 'out' : d)))],
    },
  });
  return type.encode(message).finish();
}

/** A deterministic pseudo-random generator (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` deterministic values in [-1, 1). */
export function values(count: number, seed = 1): number[] {
  const r = seeded(seed);
  return Array.from({ length: count }, () => r() * 2 - 1);
}
