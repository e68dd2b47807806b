// The single place that loads the compiled addon, and the types of what it exports.
import * as path from 'node:path';
import { LrpError } from './errors';

/**
 * Where a model runs: `'cpu'` (the default), `'cuda'` (an NVIDIA GPU; the addon must be built with
 * `npm run build:cuda`, and it fails with `E_DEVICE` saying what is missing, never falling back), or `'auto'` (CUDA
 * when it is built and a GPU is usable, else the CPU).
 */
export type Device = 'cpu' | 'cuda' | 'auto';

/** A layer as the native engine receives it (see native/addon/plan_from_js.cc). */
export interface NativeNode {
  op: string;
  name: string;
  inputs: number[];
  inputShapes: number[][];
  outputShape: number[];
  weight?: Float32Array;
  weightShape?: number[];
  bias?: Float32Array;
  stride?: number[];
  padding?: number[];
  dilation?: number[];
  kernel?: number[];
  groups?: number;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  alpha?: number;
  approximate?: number;
  axis?: number;
  scale?: Float32Array;
  shift?: Float32Array;
}

/** A rule as the native engine receives it. */
export interface NativeRule {
  rule: string;
  epsilon: number;
  stabilizer: number;
  gamma: number;
  alpha: number;
  beta: number;
  ignoreBias: boolean;
  low: number;
  high: number;
  lowTensor?: Float32Array;
  highTensor?: Float32Array;
}

/** Arguments of one native explain call; the output arrays are allocated by JavaScript and filled natively. */
export interface NativeExplainArgs {
  input: Float32Array;
  batch: number;
  rules: readonly NativeRule[];
  /** 0: arg-max, 1: `targets` holds a class per sample, 2: `outputRelevance` holds the output relevance. */
  targetMode: number;
  targets?: Int32Array;
  outputRelevance?: Float32Array;
  relevance: Float32Array;
  logits: Float32Array;
  targetsOut: Int32Array;
  /** `[batch, nodes, 2]`: relevance sum arriving at each node's output and leaving at its inputs. */
  layerSums: Float64Array;
  /** Optional `[batch]`: the sum of each sample's input relevance (in double; not finite exactly where an element is not). */
  inputSums?: Float64Array;
  /** Optional per-node relevance at each node's output, `[batch, size]` each (empty array: not kept). */
  layerRelevance?: (Float32Array | null)[];
  threads: number;
}

/** The native model: weights copied once, derived weights cached, explain run off the JS thread. */
export interface NativeModel {
  explain(args: NativeExplainArgs): Promise<void>;
  forward(args: { input: Float32Array; batch: number; logits: Float32Array; threads: number }): Promise<void>;
  dispose(): void;
  /** The backend this model runs on: `'cpu'` or `'cuda'`. */
  backend(): string;
  /** Bytes of native memory held (weights and cached derived weights). */
  memoryBytes(): number;
}

/** What the addon exports. */
export interface NativeAddon {
  NativeModel: new (spec: { inputShape: number[]; nodes: NativeNode[]; device?: Device }) => NativeModel;
  /** Node-API version the addon was built for. */
  napiVersion: number;
  /** Description of the compute backend (instruction set, threads). */
  backendInfo(): BackendInfo;
}

let cached: NativeAddon | undefined;

/** The package's root folder (where binding.gyp and build/ live). */
export const PACKAGE_ROOT = path.join(__dirname, '..');

/** Loads the addon once (prebuilt binary or local build); throws `E_NATIVE` saying what was looked for. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(PACKAGE_ROOT);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new LrpError('E_NATIVE',
      `could not load the lrp-node addon for ${process.platform}-${process.arch} (Node-API 8): ${reason}. ` +
      `Looked in ${path.join(PACKAGE_ROOT, 'prebuilds')} and ${path.join(PACKAGE_ROOT, 'build', 'Release')}. ` +
      `Build it with \`npm run build:native\` (needs a C++17 compiler and python3).`);
  }
  return cached;
}

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** The default compute backend, `'cpu'`. */
  backend: string;
  /** The GEMM kernel chosen for this CPU at load time: `'avx512f'`, `'avx2-fma'`, `'neon'` or `'scalar'`. */
  isa: string;
  /** Threads of the compute pool (the machine's hardware threads). */
  threads: number;
}

/** What the compute backend runs on this machine: the GEMM kernel picked for the CPU and the pool's thread count. */
export function backendInfo(): BackendInfo {
  return loadNative().backendInfo();
}
