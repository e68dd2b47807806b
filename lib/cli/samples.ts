// What `lrp explain` explains and reports per sample: the --target option and the per-sample summary.
import { LrpError } from '../errors';
import type { NpyArray } from '../io/npy';
import type { ExplainResult, Target } from '../model/model';
import { usageError } from './args';
import { formatShape } from './format';

/** The parsed `--target`: arg-max, one class for all samples, or a .npy file. */
export type TargetOption = { kind: 'argmax' } | { kind: 'class'; value: number } | { kind: 'file'; path: string };

/** Reads `--target`: `argmax`, a non-negative integer, or anything else as a file path. */
export function parseTargetOption(text: string | undefined, command = 'explain'): TargetOption {
  if (text === undefined || text === 'argmax') return { kind: 'argmax' };
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw usageError(`--target ${text} is not a class index`, command);
    return { kind: 'class', value };
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw usageError(`--target expects argmax, a class index (a non-negative integer) or a .npy file, got '${text}'`, command);
  }
  return { kind: 'file', path: text };
}

/**
 * Turns a target .npy into what Model.explain takes: integer files are class indices `[N]`, float files the output
 * relevance `[N, classes]`. `singleSample` allows the batch axis to be left out (`[]` or `[classes]`).
 */
export function targetFromNpy(array: NpyArray, path: string, singleSample: boolean): Target {
  const integer = array.dtype === 'int32' || array.dtype === 'int64';
  if (integer) {
    if (array.shape.length === 0 && singleSample) return { data: array.data, shape: [1] };
    if (array.shape.length !== 1) {
      throw new LrpError('E_TARGET', `${path}: class targets must have shape [N], got ${formatShape(array.shape)}`);
    }
    return { data: array.data, shape: array.shape };
  }
  if (array.shape.length === 1 && singleSample) return { data: array.data, shape: [1, array.shape[0]] };
  if (array.shape.length !== 2) {
    throw new LrpError('E_TARGET', `${path}: a ${array.dtype} target is the output relevance and must have shape [N, classes], ` +
      `got ${formatShape(array.shape)}; class indices must be an int32 or int64 .npy`);
  }
  return { data: array.data, shape: array.shape };
}

/** What `lrp explain` reports per sample. */
export interface SampleSummary {
  sample: number;
  /** The explained class, or null when the output relevance was given. */
  target: number | null;
  /** The target's logit, or null when the output relevance was given. */
  logit: number | null;
  outputRelevance: number;
  relevanceSum: number;
  relativeError: number;
}

/** Per-sample summary of an explain result. */
export function summarizeSamples(result: ExplainResult): SampleSummary[] {
  const classes = result.logitsShape[1];
  return result.conservation.map((c) => {
    const target = result.targets[c.sample];
    const hasClass = target >= 0;
    return {
      sample: c.sample,
      target: hasClass ? target : null,
      logit: hasClass ? result.logits[c.sample * classes + target] : null,
      outputRelevance: c.outputRelevance,
      relevanceSum: c.inputRelevance,
      relativeError: c.relativeError,
    };
  });
}
