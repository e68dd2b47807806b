// Seeded random weights and inputs for tests that compare the engine with the float64 reference.
import { assignRules } from '../../lib/rules/assign';
import type { Composite, Model } from '../../lib/index';
import { explain64, relativeError } from './lrp64';

/** mulberry32: a tiny deterministic generator of floats in [0, 1). */
export function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` float32 values uniform in [low, high). */
export function uniform(random: () => number, count: number, low = -1, high = 1): Float32Array {
  return Float32Array.from({ length: count }, () => low + (high - low) * random());
}

/** A `{ data, shape }` tensor with values uniform in ±√(3 / fanIn) (unit variance of the output for unit inputs). */
export function weights(random: () => number, shape: number[], fanIn: number): { data: Float32Array; shape: number[] } {
  const bound = Math.sqrt(3 / fanIn);
  return { data: uniform(random, shape.reduce((a, b) => a * b, 1), -bound, bound), shape };
}

/** One engine-vs-reference comparison. */
export interface Comparison {
  /** Golden metric on the input relevance. */
  relevanceError: number;
  /** Golden metric on the logits. */
  logitError: number;
  /** Largest |sum(R_engine) − sum(R_ref)| / max(|sum(R_ref)|, max|R_ref|) over samples. */
  sumError: number;
  /**
   * Golden metric after scaling each sample's reference by (engine target logit / reference target logit): the
   * relevance pass alone, without the float32 error of a small explained logit (equal to relevanceError for
   * output-relevance targets).
   */
  scaledError: number;
  /** The sample with the largest relevance error, its explained output and that output's float32 relative error. */
  worst: { sample: number; error: number; output: number; outputError: number };
}

/**
 * Explains `input` with the engine and with the float64 reference (same graph, same rules) and returns the
 * errors. `target` is a class per sample, or an output relevance `[N, outputs]` given as `{ data, shape }`.
 */
export async function compareWithReference(
  model: Model, composite: Composite, input: Float32Array, target: Int32Array | { data: Float32Array; shape: number[] },
  options: { threads?: number } = {},
): Promise<Comparison> {
  const sampleSize = model.inputShape.reduce((a, b) => a * b, 1);
  const batch = input.length / sampleSize;
  const result = await model.explain({ data: input, shape: [batch, ...model.inputShape] }, { composite, target, ...options });
  const rules = assignRules(model.graph, composite);
  const reference = explain64(model.graph, rules, input,
    target instanceof Int32Array ? { classes: target } : { outputRelevance: target.data });
  let sumError = 0;
  for (let s = 0; s < batch; s++) {
    let a = 0;
    let b = 0;
    let scale = 0;
    for (let k = s * sampleSize; k < (s + 1) * sampleSize; k++) {
      a += result.relevance[k];
      b += reference.relevance[k];
      scale = Math.max(scale, Math.abs(reference.relevance[k]));
    }
    sumError = Math.max(sumError, Math.abs(a - b) / Math.max(Math.abs(b), scale, 1e-30));
  }
  const outSize = result.logits.length / batch;
  const worst = { sample: -1, error: -1, output: 0, outputError: 0 };
  for (let s = 0; s < batch; s++) {
    const error = relativeError(result.relevance.subarray(s * sampleSize, (s + 1) * sampleSize),
      reference.relevance.subarray(s * sampleSize, (s + 1) * sampleSize), 1);
    if (error > worst.error) {
      const k = result.targets[s];
      const output = k >= 0 ? reference.logits[s * outSize + k] : 0;
      const outputError = k >= 0 ? Math.abs(result.logits[s * outSize + k] - output) / Math.abs(output) : 0;
      Object.assign(worst, { sample: s, error, output, outputError });
    }
  }
  const scaled = Float64Array.from(reference.relevance);
  for (let s = 0; s < batch; s++) {
    const k = result.targets[s];
    if (k < 0) continue;
    const ratio = result.logits[s * outSize + k] / reference.logits[s * outSize + k];
    if (!Number.isFinite(ratio)) continue;
    for (let i = s * sampleSize; i < (s + 1) * sampleSize; i++) scaled[i] *= ratio;
  }
  return {
    worst,
    scaledError: relativeError(result.relevance, scaled, batch),
    relevanceError: relativeError(result.relevance, reference.relevance, batch),
    logitError: relativeError(result.logits, reference.logits, batch),
    sumError,
  };
}

/** A 1-D `{ data, shape }` tensor of `count` values uniform in [low, high) (biases, BatchNorm statistics). */
export function vector(random: () => number, count: number, low = -1, high = 1): { data: Float32Array; shape: number[] } {
  return { data: uniform(random, count, low, high), shape: [count] };
}
