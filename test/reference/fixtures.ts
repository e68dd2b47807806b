// Test helpers: the golden cases of test/fixtures/refs, read into public-API layers and into a float64 graph.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  avgPool2d, batchNorm, conv2d, dense, flatten, maxPool2d, relu, tanh, GraphBuilder, type Graph, type Layer,
} from '../../lib/index';
import { readNpy } from '../../lib/io/npy';

/** The golden cases' folder. */
export const REFS_DIR = path.join(__dirname, '..', 'fixtures', 'refs');

/** A .npy array as float64 values. */
export interface Npy { shape: number[]; data: Float64Array; dtype: string }

/** Reads a .npy file with the library's reader and widens the values to float64 (int64 targets included). */
export function readNpyFile(file: string): Npy {
  const array = readNpy(file);
  const data = array.data instanceof BigInt64Array ? Float64Array.from(array.data, (v) => Number(v)) : Float64Array.from(array.data);
  return { shape: array.shape, data, dtype: array.dtype };
}

/** One attribution of a golden case (see refs/README.md). */
export interface Attribution {
  composite: string;
  params: Record<string, number>;
  relevance: string;
  tolerance: number;
  f32_error: number;
}

/** One golden case. */
export interface GoldenCase {
  name: string;
  sequential: string | null;
  input: string;
  target: string;
  logits: string;
  input_shape: number[];
  attributions: Attribution[];
}

/** Every case of refs/cases.json. */
export function goldenCases(): GoldenCase[] {
  return JSON.parse(readFileSync(path.join(REFS_DIR, 'cases.json'), 'utf8')) as GoldenCase[];
}

/** A file of the refs folder. */
export function refNpy(relative: string): Npy {
  return readNpyFile(path.join(REFS_DIR, relative));
}

interface JsonLayer {
  type: string;
  name?: string;
  weight?: string;
  bias?: string | null;
  running_mean?: string;
  running_var?: string;
  eps?: number;
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  kernel?: [number, number];
}

interface ModelJson { input_shape: number[]; layers: JsonLayer[] }

/** A case's model.json with the folder it lives in. */
export function readModelJson(c: GoldenCase): { json: ModelJson; dir: string } {
  if (!c.sequential) throw new Error(`case ${c.name} has no model.json`);
  const file = path.join(REFS_DIR, c.sequential);
  return { json: JSON.parse(readFileSync(file, 'utf8')) as ModelJson, dir: path.dirname(file) };
}

/** The layers of a model.json, made with the public layer functions (for `sequential`). */
export function publicLayers(c: GoldenCase): { inputShape: number[]; layers: Layer[] } {
  const { json, dir } = readModelJson(c);
  const npy = (f: string): { data: Float64Array; shape: number[] } => readNpyFile(path.join(dir, f));
  const layers = json.layers.map((l): Layer => {
    const name = l.name;
    switch (l.type) {
      case 'linear': return dense({ weight: npy(l.weight!), bias: l.bias ? npy(l.bias) : null, name });
      case 'conv2d':
        return conv2d({
          weight: npy(l.weight!), bias: l.bias ? npy(l.bias) : null, stride: l.stride, padding: l.padding,
          dilation: l.dilation, groups: l.groups, name,
        });
      case 'batchnorm':
        return batchNorm({
          weight: npy(l.weight!), bias: npy(l.bias!), runningMean: npy(l.running_mean!), runningVar: npy(l.running_var!),
          eps: l.eps, name,
        });
      case 'relu': return relu({ name });
      case 'tanh': return tanh({ name });
      case 'flatten': return flatten({ name });
      case 'maxpool2d': return maxPool2d({ kernel: l.kernel!, stride: l.stride, padding: l.padding, name });
      case 'avgpool2d': return avgPool2d({ kernel: l.kernel!, stride: l.stride, padding: l.padding, name });
      default: throw new Error(`model.json layer type ${l.type} is not handled`);
    }
  });
  return { inputShape: json.input_shape, layers };
}

/**
 * The graph of a model.json for the float64 reference, with each BatchNorm merged into the layer before it in
 * float64 (as the goldens were made), so the reference is not limited by float32 merged weights.
 */
export function float64Graph(c: GoldenCase): Graph {
  const { json, dir } = readModelJson(c);
  const npy = (f: string): Float64Array => readNpyFile(path.join(dir, f)).data;
  const builder = new GraphBuilder(json.input_shape);
  const { layers } = publicLayers(c);
  let x = builder.input;
  for (let i = 0; i < json.layers.length; i++) {
    const l = json.layers[i];
    let layer = layers[i];
    const next = json.layers[i + 1];
    if ((layer.type === 'conv2d' || layer.type === 'dense') && next?.type === 'batchnorm') {
      const weight = Float64Array.from(layer.weight.data);
      const channels = layer.weight.shape[0];
      const per = weight.length / channels;
      const bias = new Float64Array(channels);
      const [g, beta, mean, variance] = [npy(next.weight!), npy(next.bias!), npy(next.running_mean!), npy(next.running_var!)];
      for (let ch = 0; ch < channels; ch++) {
        const scale = g[ch] / Math.sqrt(variance[ch] + next.eps!);
        for (let k = 0; k < per; k++) weight[ch * per + k] *= scale;
        bias[ch] = ((layer.bias ? layer.bias.data[ch] : 0) - mean[ch]) * scale + beta[ch];
      }
      // Float64Array weights: the reference reads any numeric array; the engine never sees this graph.
      layer = { ...layer, weight: { data: weight as unknown as Float32Array, shape: layer.weight.shape },
        bias: { data: bias as unknown as Float32Array, shape: [channels] } } as Layer;
      x = builder.add(layer, x, l.name);
      i++; // the BatchNorm is merged
      continue;
    }
    x = builder.add(layer, x, l.name ?? String(i));
  }
  return builder.build(x);
}

/** The graph `sequential()` builds from a model.json (BatchNorms merged by the library, float32 weights). */
export function publicGraph(c: GoldenCase): Graph {
  const { inputShape, layers } = publicLayers(c);
  const builder = new GraphBuilder(inputShape);
  let x = builder.input;
  layers.forEach((layer, i) => { x = builder.add(layer, x, layer.name ?? String(i)); });
  return builder.build(x);
}
