// The Model class: a validated graph bound to the native engine, with explain(), predict() and describe().
import * as os from 'node:os';
import { LrpError } from '../errors';
import { type Device, type NativeModel, type NativeRule, loadNative } from '../native';
import { assignRules } from '../rules/assign';
import { type Composite, type CompositeParams, compositeByName, composites } from '../rules/composites';
import { type Rule, describeRule } from '../rules/rules';
import type { Graph } from './graph';
import type { LayerType } from './layers';
import { type TensorLike, firstNonFinite, shapeSize, toTensor } from './tensor';
import { graphToNative, ruleToNative } from './to-native';

/**
 * What to explain: `'argmax'` (the predicted class of each sample), one class index for every sample, a class index
 * per sample (array, typed array, or a `{ data, shape: [N] }` tensor such as an int64 .npy), or the output
 * relevance itself as a `[N, outputs]` tensor.
 */
export type Target = 'argmax' | number | ArrayLike<number> | BigInt64Array | TensorLike;

/** Input of {@link Model.explain} and {@link Model.predict}: data of shape `[N, ...inputShape]`. */
export type ModelInput = Float32Array | Float64Array | number[] | TensorLike;

/** Options of {@link Model.explain}. */
export interface ExplainOptions {
  /** A composite, or the name of a standard one (default `'epsilon'`). */
  composite?: Composite | string;
  /** Parameters when `composite` is a name. */
  compositeParams?: CompositeParams;
  /** Default `'argmax'`. */
  target?: Target;
  /** Compute threads (default: the machine's available parallelism). */
  threads?: number;
  /**
   * Also return the relevance at every layer's output (`result.layerRelevance`). That is also the relevance at the
   * input of every layer that reads it (with several readers, their contributions summed); the relevance at the first
   * layer's input is `result.relevance`.
   */
  keepLayers?: boolean;
  /**
   * Peak memory the call may use, in bytes (default: a quarter of the machine's memory, at most 4 GiB). A larger
   * batch is explained in chunks that fit; a single sample that does not fit is refused with `E_MEMORY_BUDGET`.
   */
  maxMemoryBytes?: number;
  /** Cancels the call between chunks; the promise then rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Called after each chunk with the number of samples done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** The memory {@link Model.explain} expects to need, from the shapes alone. */
export interface MemoryEstimate {
  /** Bytes per sample of the batch (activations, relevance and rule buffers). */
  perSampleBytes: number;
  /** Bytes independent of the batch size (convolution scratch per thread, derived weights). */
  fixedBytes: number;
  /** `fixedBytes + batch · perSampleBytes`. */
  totalBytes: number;
  /** Samples per native call under the budget. */
  chunkSize: number;
}

/** Relevance bookkeeping for one layer, per sample. */
export interface LayerReport {
  /** Position in the graph (topological order), as in {@link Model.layers}. */
  index: number;
  /** The layer's unique name. */
  name: string;
  /** The layer's type. */
  type: LayerType;
  /** The rule's short description, e.g. `epsilon(ε=0.01)`. */
  rule: string;
  /** Sum of the relevance arriving at the layer's output, per sample. */
  relevanceIn: Float64Array;
  /** Sum of the relevance the layer passes to its inputs, per sample. */
  relevanceOut: Float64Array;
  /** `relevanceIn − relevanceOut`: what the bias and stabilizer absorbed (or created, when negative). */
  absorbed: Float64Array;
}

/** Conservation of one sample: the explained output against the input relevance. */
export interface ConservationReport {
  /** Index of the sample in the batch. */
  sample: number;
  /** Sum of the output relevance (the target logit for a class target). */
  outputRelevance: number;
  /** Sum of the input relevance. */
  inputRelevance: number;
  /** `outputRelevance − inputRelevance`. */
  absorbed: number;
  /** What each layer absorbed (only layers that absorbed something are listed). */
  absorbedByLayer: {
    /** Layer name. */
    name: string;
    /** Relevance the layer absorbed for this sample (negative: created), as in {@link LayerReport.absorbed}. */
    amount: number;
  }[];
  /** `|inputRelevance − outputRelevance| / |outputRelevance|` (absolute difference when the output is 0). */
  relativeError: number;
}

/** The result of {@link Model.explain}. */
export interface ExplainResult {
  /** Input relevance, same layout as the input: `[N, ...inputShape]`. */
  relevance: Float32Array;
  /** `[N, ...inputShape]`. */
  shape: number[];
  /** Model outputs `[N, outputs]`. */
  logits: Float32Array;
  /** `[N, outputs]`. */
  logitsShape: [number, number];
  /** The explained class per sample (-1 when an output-relevance tensor was given). */
  targets: Int32Array;
  /** Per layer, in graph order. */
  layers: LayerReport[];
  /** Per sample. */
  conservation: ConservationReport[];
  /** With `keepLayers`: the relevance at each layer's output, `[N, ...outputShape]`, in graph order. */
  layerRelevance?: {
    /** Layer name. */
    name: string;
    /** `[N, ...outputShape]`. */
    shape: number[];
    /** Relevance at the layer's output, row-major. */
    relevance: Float32Array;
  }[];
  /** The composite used. */
  composite: string;
}

/** One layer of a model as {@link Model.layers} lists it. */
export interface LayerInfo {
  /** Position in the graph (topological order). */
  index: number;
  /** Unique name; composites can pick rules by it. */
  name: string;
  /** The layer's type. */
  type: LayerType;
  /** Names of the layers it reads (`'input'` for the model input). */
  inputs: string[];
  /** Per-sample shape of each input, without the batch axis. */
  inputShapes: number[][];
  /** Per-sample output shape, without the batch axis. */
  outputShape: number[];
  /** Number of weights and biases. */
  parameters: number;
  /** A BatchNorm merged into this layer. */
  mergedBatchNorm?: string;
}

/** A layer with the rule a composite gives it ({@link Model.describe}). */
export interface LayerRuleInfo extends LayerInfo {
  /** The rule's short description, e.g. `epsilon(ε=0.01)`. */
  rule: string;
  /** The rule itself, as the composite assigned it. */
  ruleSpec: Rule;
}

/** Options when creating a model. */
export interface ModelOptions {
  /** Human-readable name. */
  name?: string;
  /** Compute device (default `'cpu'`); see {@link Device}. */
  device?: Device;
}

let memoryBudget: number | undefined;

/** The default `maxMemoryBytes`: a quarter of the machine's memory, at most 4 GiB. */
export function defaultMemoryBudget(): number {
  // Read once: os.totalmem() reads /proc/meminfo, a cost on every small explain call.
  memoryBudget ??= Math.min(4 * 2 ** 30, Math.floor(os.totalmem() / 4));
  return memoryBudget;
}

let threadCount: number | undefined;

function defaultThreads(): number {
  // Read once: libuv works it out from the cgroup files in /sys on every call.
  threadCount ??= typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return threadCount;
}

/** A composite resolved for one model: the rule of every node, and those rules as the native engine takes them. */
interface AssignedRules {
  composite: Composite;
  rules: Rule[];
  nativeRules: readonly NativeRule[];
  /** describeRule of each rule, for the layer reports. */
  descriptions: string[];
}

/** A model ready to explain. Create one with {@link sequential}, {@link GraphBuilder} or `loadOnnx`. */
export class Model {
  /** Per-sample input shape. */
  readonly inputShape: number[];
  /** Per-sample output shape. */
  readonly outputShape: number[];
  /** Model name. */
  readonly name: string;
  /** The canonized graph. */
  readonly graph: Graph;
  private native: NativeModel | null;
  private readonly inputSize: number;
  private readonly outputSize: number;
  /** Rules of built-in composites by name and numeric parameters, reused by later calls (see rulesFor). */
  private readonly ruleCache = new Map<string, AssignedRules>();
  private readonly estimates = new Map<string, MemoryEstimate>();

  constructor(graph: Graph, options: ModelOptions = {}) {
    this.graph = graph;
    this.inputShape = [...graph.inputShape];
    this.outputShape = [...graph.nodes[graph.nodes.length - 1].outputShape];
    this.inputSize = shapeSize(this.inputShape);
    this.outputSize = shapeSize(this.outputShape);
    this.name = options.name ?? 'model';
    const addon = loadNative();
    try {
      const device = options.device ?? 'cpu';
      if (device !== 'cpu' && device !== 'cuda' && device !== 'auto') {
        throw new LrpError('E_ARGUMENT', `device must be 'cpu', 'cuda' or 'auto', got '${String(device)}'`);
      }
      this.native = new addon.NativeModel({ ...graphToNative(graph), device });
    } catch (error) {
      throw wrapNativeError(error);
    }
  }

  /** Every layer with its shapes. */
  get layers(): LayerInfo[] {
    const names = this.graph.nodes.map((n) => n.name);
    return this.graph.nodes.map((n) => {
      const l = n.layer as { weight?: { data: Float32Array }; bias?: { data: Float32Array } | null };
      const info: LayerInfo = {
        index: n.index, name: n.name, type: n.layer.type,
        inputs: n.inputs.map((i) => (i < 0 ? 'input' : names[i])),
        inputShapes: n.inputShapes.map((s) => [...s]), outputShape: [...n.outputShape],
        parameters: (n.layer.type === 'dense' || n.layer.type === 'conv2d') ? (l.weight?.data.length ?? 0) + (l.bias?.data.length ?? 0) : 0,
      };
      if (n.mergedBatchNorm) info.mergedBatchNorm = n.mergedBatchNorm;
      return info;
    });
  }

  /** Lists every layer with the rule `composite` assigns to it (throws `E_RULE` where a rule does not fit). */
  describe(composite: Composite | string = 'epsilon', params: CompositeParams = {}): LayerRuleInfo[] {
    const rules = assignRules(this.graph, resolveComposite(composite, params));
    return this.layers.map((info, i) => ({ ...info, rule: describeRule(rules[i]), ruleSpec: rules[i] }));
  }

  /** Runs the forward pass only and returns the outputs `[N, outputs]`. */
  async predict(input: ModelInput, options: { threads?: number } = {}): Promise<{
    /** Model outputs, row-major. */
    logits: Float32Array;
    /** `[N, outputs]`. */
    shape: [number, number];
  }> {
    const native = this.requireNative();
    const { data, batch } = this.checkInput(input);
    const logits = new Float32Array(batch * this.outputSize);
    try {
      await native.forward({ input: data, batch, logits, threads: checkThreads(options.threads) });
    } catch (error) {
      // The addon throws synchronously for invalid arguments and rejects for engine errors: both become LrpError.
      throw wrapNativeError(error);
    }
    return { logits, shape: [batch, this.outputSize] };
  }

  /** Memory that explaining `batch` samples needs, and the chunk size under `maxMemoryBytes`. */
  estimateMemory(batch: number, options: { maxMemoryBytes?: number; threads?: number } = {}): MemoryEstimate {
    const budget = options.maxMemoryBytes ?? defaultMemoryBudget();
    if (typeof budget !== 'number' || !(budget > 0)) throw new LrpError('E_ARGUMENT', `maxMemoryBytes must be a positive number, got ${String(budget)}`);
    const threads = checkThreads(options.threads);
    // A function of the shapes and these three numbers alone: kept per model (a walk over every node otherwise, a
    // fixed cost of each explain call). A copy goes out, so a caller cannot change the kept one.
    const key = `${batch}|${budget}|${threads}`;
    let estimate = this.estimates.get(key);
    if (!estimate) {
      estimate = this.computeEstimate(batch, budget, threads);
      if (this.estimates.size >= 32) this.estimates.clear();
      this.estimates.set(key, estimate);
    }
    return { ...estimate };
  }

  private computeEstimate(batch: number, budget: number, threads: number): MemoryEstimate {
    let perSample = this.inputSize * 2;  // the input copy and its relevance
    let layerScratch = 0;
    let derivedWeights = 0;
    let convScratch = 0;
    for (const node of this.graph.nodes) {
      const out = shapeSize(node.outputShape);
      const inSize = shapeSize(node.inputShapes[0]);
      perSample += out * 2;  // the activation and, at worst, its relevance
      if (node.layer.type === 'dense' || node.layer.type === 'conv2d') {
        // z and s per group, the transposed product, and up to four transformed inputs (a⁺, a⁻, 1, bounds).
        layerScratch = Math.max(layerScratch, out * 2 + inSize * 5);
        // Up to four derived weight sets, cached once; a dense layer's are also kept packed for its forward and its
        // transposed product (batches above 4), three copies of each. A convolution's: up to three more side by side
        // (zᴮ on an input with both signs), and the CPU backend's packed, flipped and direct- or row-convolution copies.
        const weightBytes = node.layer.weight.data.length * 4;
        derivedWeights += node.layer.type === 'dense' ? weightBytes * 4 * 3 : weightBytes * (4 + 3 + 3);
      } else {
        layerScratch = Math.max(layerScratch, out + inSize * 2);
      }
      if (node.layer.type === 'conv2d') {
        // The CPU backend's im2col scratch covers about 4096 output columns (several images; at most 64 MiB) plus the
        // GEMM result before it is scattered per image; grouped convolutions take one image per thread instead.
        const [outChannels, inPerGroup, kh, kw] = node.layer.weight.shape;
        const columns = Math.max(node.outputShape[1] * node.outputShape[2], 4096);
        const perThread = node.layer.groups > 1 ? threads : 1;
        convScratch = Math.max(convScratch, Math.min(2 ** 26, inPerGroup * kh * kw * columns * 4) * perThread + outChannels * columns * 4);
        // A padded stride-1 convolution may first copy its input with the padding around it (read in place after),
        // and its transposed product, a convolution of the output-shaped quotient, a padded copy of that.
        const [top, left, bottom, right] = node.layer.padding;
        const [channels, height, width] = node.inputShapes[0];
        const [, outHeight, outWidth] = node.outputShape;
        const [dh, dw] = node.layer.dilation;
        const paddedCopy = Math.max(channels * (height + top + bottom) * (width + left + right),
          outChannels * (outHeight + 2 * (kh - 1) * dh) * (outWidth + 2 * (kw - 1) * dw));
        layerScratch = Math.max(layerScratch, out * 2 + inSize * 5 + paddedCopy);
      }
    }
    const fixed = derivedWeights + convScratch;
    const perSampleBytes = (perSample + layerScratch) * 4;
    const chunkSize = Math.floor((budget - fixed) / perSampleBytes);
    return { perSampleBytes, fixedBytes: fixed, totalBytes: fixed + batch * perSampleBytes, chunkSize: Math.max(0, Math.min(batch, chunkSize)) };
  }

  /** Explains a batch: input relevance, logits, per-layer sums and the conservation report. */
  async explain(input: ModelInput, options: ExplainOptions = {}): Promise<ExplainResult> {
    this.requireNative();
    const { data, batch } = this.checkInput(input);
    const { composite, rules, nativeRules, descriptions } = this.rulesFor(options.composite ?? 'epsilon', options.compositeParams ?? {});
    const target = this.checkTarget(options.target ?? 'argmax', batch);
    const threads = checkThreads(options.threads);
    const estimate = this.estimateMemory(batch, { maxMemoryBytes: options.maxMemoryBytes, threads });
    if (estimate.chunkSize < 1) {
      throw new LrpError('E_MEMORY_BUDGET', `one sample needs about ${formatBytes(estimate.fixedBytes + estimate.perSampleBytes)} ` +
        `but maxMemoryBytes is ${formatBytes(options.maxMemoryBytes ?? defaultMemoryBudget())}; raise maxMemoryBytes`, { estimate });
    }
    const signal = options.signal;
    const nodes = this.graph.nodes;
    const relevance = new Float32Array(batch * this.inputSize);
    const logits = new Float32Array(batch * this.outputSize);
    const targetsOut = new Int32Array(batch);
    const layerSums = new Float64Array(batch * nodes.length * 2);
    const inputSums = new Float64Array(batch);
    const nodeSizes = nodes.map((n) => shapeSize(n.outputShape));
    const layerRelevance = options.keepLayers ? nodeSizes.map((size) => new Float32Array(batch * size)) : undefined;
    for (let start = 0; start < batch; start += estimate.chunkSize) {
      throwIfAborted(signal);
      const end = Math.min(batch, start + estimate.chunkSize);
      const count = end - start;
      const chunk = this.native;
      if (!chunk) throw new LrpError('E_DISPOSED', `model '${this.name}' was disposed during explain`);
      try {
        await chunk.explain({
          input: data.subarray(start * this.inputSize, end * this.inputSize),
          batch: count, rules: nativeRules, targetMode: target.targetMode,
          targets: target.targets?.subarray(start, end),
          outputRelevance: target.outputRelevance?.subarray(start * this.outputSize, end * this.outputSize),
          relevance: relevance.subarray(start * this.inputSize, end * this.inputSize),
          logits: logits.subarray(start * this.outputSize, end * this.outputSize),
          targetsOut: targetsOut.subarray(start, end),
          layerSums: layerSums.subarray(start * nodes.length * 2, end * nodes.length * 2),
          inputSums: inputSums.subarray(start, end),
          layerRelevance: layerRelevance?.map((a, i) => a.subarray(start * nodeSizes[i], end * nodeSizes[i])),
          threads,
        });
      } catch (error) {
        throw wrapNativeError(error);
      }
      options.onProgress?.(end, batch);
    }
    throwIfAborted(signal);
    // A sample's relevance holds a non-finite value exactly where its sum is not finite: scan only such a sample.
    const badSample = inputSums.findIndex((sum) => !Number.isFinite(sum));
    if (badSample >= 0) {
      const first = badSample * this.inputSize;
      const nonFinite = firstNonFinite(relevance.subarray(first, first + this.inputSize));
      throw this.nonFiniteError(layerSums, rules, first + Math.max(0, nonFinite));
    }
    const layers: LayerReport[] = nodes.map((n, i) => {
      const relevanceIn = new Float64Array(batch);
      const relevanceOut = new Float64Array(batch);
      const absorbed = new Float64Array(batch);
      for (let s = 0; s < batch; s++) {
        relevanceIn[s] = layerSums[(s * nodes.length + i) * 2];
        relevanceOut[s] = layerSums[(s * nodes.length + i) * 2 + 1];
        absorbed[s] = relevanceIn[s] - relevanceOut[s];
      }
      return { index: i, name: n.name, type: n.layer.type, rule: descriptions[i], relevanceIn, relevanceOut, absorbed };
    });
    const conservation: ConservationReport[] = [];
    for (let s = 0; s < batch; s++) {
      const outputRelevance = layers[layers.length - 1].relevanceIn[s];
      const inputRelevance = inputSums[s];
      const absorbedByLayer = layers.filter((l) => l.absorbed[s] !== 0).map((l) => ({ name: l.name, amount: l.absorbed[s] }));
      const diff = Math.abs(inputRelevance - outputRelevance);
      conservation.push({
        sample: s, outputRelevance, inputRelevance, absorbed: outputRelevance - inputRelevance, absorbedByLayer,
        relativeError: outputRelevance !== 0 ? diff / Math.abs(outputRelevance) : diff,
      });
    }
    const result: ExplainResult = {
      relevance, shape: [batch, ...this.inputShape], logits, logitsShape: [batch, this.outputSize],
      targets: targetsOut, layers, conservation, composite: composite.name,
    };
    if (layerRelevance) {
      result.layerRelevance = nodes.map((n, i) => ({ name: n.name, shape: [batch, ...n.outputShape], relevance: layerRelevance[i] }));
    }
    return result;
  }

  /**
   * The composite, its rule per node and their native form. Built-in composites named by a string with numeric
   * parameters are resolved once per model: the native side then recognises the same frozen array and skips converting
   * it again (a fixed cost of every call, noticeable at batch 1). Tensor bounds and composite objects are resolved
   * every call, as the caller may change them in place.
   */
  private rulesFor(spec: Composite | string, params: CompositeParams): AssignedRules {
    const cacheable = typeof spec === 'string' &&
      Object.values(params).every((v) => v === undefined || (typeof v === 'number' && Number.isFinite(v)));
    const key = cacheable ? `${spec}\u0000${JSON.stringify(params)}` : '';
    const cached = cacheable ? this.ruleCache.get(key) : undefined;
    if (cached) return cached;
    const composite = resolveComposite(spec, params);
    const rules = assignRules(this.graph, composite);
    const nativeRules = Object.freeze(rules.map((r) => Object.freeze(ruleToNative(r))));
    const entry: AssignedRules = { composite, rules, nativeRules, descriptions: rules.map(describeRule) };
    if (cacheable) {
      if (this.ruleCache.size >= 32) this.ruleCache.clear();
      this.ruleCache.set(key, entry);
    }
    return entry;
  }

  /** Releases the native memory now (also done by the garbage collector). Later calls fail with `E_DISPOSED`. */
  dispose(): void {
    if (this.native) {
      this.native.dispose();
      this.native = null;
    }
  }

  /** The backend the model runs on (`'cpu'` or `'cuda'`; with `device: 'auto'` it says which was picked). */
  get backend(): string {
    return this.requireNative().backend();
  }

  /** True after {@link Model.dispose}. */
  get disposed(): boolean {
    return this.native === null;
  }

  private requireNative(): NativeModel {
    if (!this.native) throw new LrpError('E_DISPOSED', `model '${this.name}' was disposed; load or build it again`);
    return this.native;
  }

  private checkInput(input: ModelInput): { data: Float32Array; batch: number } {
    let data: Float32Array;
    let batch: number;
    if (input instanceof Float32Array || input instanceof Float64Array || (Array.isArray(input) && typeof input[0] !== 'object')) {
      const flat = input as ArrayLike<number>;
      if (flat.length === 0 || flat.length % this.inputSize !== 0) {
        throw new LrpError('E_SHAPE', `input has ${flat.length} values, which is not a positive multiple of the sample size ` +
          `${this.inputSize} (input shape [${this.inputShape.join(', ')}])`);
      }
      data = input instanceof Float32Array ? input : Float32Array.from(flat);
      batch = flat.length / this.inputSize;
    } else {
      const t = toTensor(input as TensorLike, 'input');
      const expected = this.inputShape.join(', ');
      if (t.shape.length !== this.inputShape.length + 1 || t.shape.slice(1).join(', ') !== expected || t.shape[0] < 1) {
        throw new LrpError('E_SHAPE', `input shape [${t.shape.join(', ')}] does not match [N, ${expected}]`);
      }
      data = t.data;
      batch = t.shape[0];
    }
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new LrpError('E_NON_FINITE', `input value ${data[bad]} at sample ${Math.floor(bad / this.inputSize)}, ` +
        `element ${bad % this.inputSize} is not finite; replace NaN/Infinity before explaining`, { sample: Math.floor(bad / this.inputSize) });
    }
    return { data, batch };
  }

  private checkTarget(target: Target, batch: number): { targetMode: number; targets?: Int32Array; outputRelevance?: Float32Array } {
    const classes = this.outputSize;
    const checkClass = (k: number, s: number): number => {
      if (!Number.isSafeInteger(k) || k < 0 || k >= classes) {
        throw new LrpError('E_TARGET', `target ${k} for sample ${s} is not a class index in 0…${classes - 1}`, { sample: s });
      }
      return k;
    };
    if (target === 'argmax') return { targetMode: 0 };
    if (typeof target === 'number') {
      checkClass(target, 0);
      return { targetMode: 1, targets: new Int32Array(batch).fill(target) };
    }
    if (typeof target === 'string') throw new LrpError('E_TARGET', `target '${target}' is not 'argmax', a class index, or a tensor`);
    const perSample = (values: ArrayLike<number | bigint>): { targetMode: number; targets: Int32Array } => {
      if (values.length !== batch) throw new LrpError('E_TARGET', `${values.length} targets for a batch of ${batch}`);
      const targets = new Int32Array(batch);
      for (let s = 0; s < batch; s++) targets[s] = checkClass(Number(values[s]), s);
      return { targetMode: 1, targets };
    };
    if (Array.isArray(target) && (target.length === 0 || typeof target[0] === 'number')) return perSample(target as number[]);
    if (ArrayBuffer.isView(target)) return perSample(target as unknown as ArrayLike<number>);
    if (typeof target === 'object' && target !== null && 'shape' in target && 'data' in target) {
      const shape = (target as { shape: readonly number[] }).shape;
      if (shape.length === 1) return perSample((target as { data: ArrayLike<number> }).data);
      const t = toTensor(target as TensorLike, 'target');
      if (t.shape.length !== 2 || t.shape[0] !== batch || t.shape[1] !== classes) {
        throw new LrpError('E_TARGET', `output relevance has shape [${t.shape.join(', ')}], expected [${batch}, ${classes}]`);
      }
      if (firstNonFinite(t.data) >= 0) throw new LrpError('E_NON_FINITE', 'output relevance contains NaN or Infinity');
      return { targetMode: 2, outputRelevance: t.data };
    }
    if (Array.isArray(target)) {
      const t = toTensor(target as TensorLike, 'target');
      return this.checkTarget({ data: t.data, shape: t.shape }, batch);
    }
    throw new LrpError('E_TARGET', 'target must be \'argmax\', a class index, one index per sample, or an output-relevance tensor');
  }

  private nonFiniteError(layerSums: Float64Array, rules: Rule[], index: number): LrpError {
    const nodes = this.graph.nodes;
    const sample = Math.floor(index / this.inputSize);
    // The first layer (in relevance order) whose outgoing sum is not finite produced it.
    for (let i = nodes.length - 1; i >= 0; i--) {
      if (!Number.isFinite(layerSums[(sample * nodes.length + i) * 2 + 1])) {
        return new LrpError('E_NON_FINITE', `layer '${nodes[i].name}' (${nodes[i].layer.type}, rule ${describeRule(rules[i])}) produced a ` +
          `non-finite relevance for sample ${sample}; try a larger epsilon/stabilizer`, { layer: nodes[i].name, sample });
      }
    }
    return new LrpError('E_NON_FINITE', `the input relevance of sample ${sample} is not finite`, { sample });
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof Error && reason.name === 'AbortError') throw reason;
    throw new DOMException(typeof reason === 'string' ? reason : 'explain was aborted', 'AbortError');
  }
}

function checkThreads(threads: number | undefined): number {
  if (threads === undefined) return defaultThreads();
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 1024) {
    throw new LrpError('E_ARGUMENT', `threads must be an integer in 1…1024, got ${String(threads)}`);
  }
  return threads;
}

/** A composite object or a standard composite's name. */
export function resolveComposite(composite: Composite | string, params: CompositeParams = {}): Composite {
  if (typeof composite === 'string') return compositeByName(composite, params);
  if (composite === undefined) return composites.epsilon(params);
  return composite;
}

/** Turns an error thrown by the addon into an LrpError (the addon reports `[E_CODE] message`). */
export function wrapNativeError(error: unknown): LrpError {
  if (error instanceof LrpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\[(E_[A-Z_]+)\]\s*(.*)$/s.exec(message);
  if (match) return new LrpError(match[1] as LrpError['code'], match[2]);
  return new LrpError('E_NATIVE', `native engine error: ${message}`);
}
