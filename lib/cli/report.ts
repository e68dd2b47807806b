// What `lrp explain` reports beyond the input relevance: per-layer relevance (--report, --layers) and ranked features.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LrpError } from '../errors';
import { type FeatureRanking, formatFeatureReport, rankFeatures } from '../io/features';
import { writeNpy } from '../io/npy';
import type { ExplainResult } from '../model/model';
import { formatNumber, formatTable } from './format';
import type { TableInfo } from './inputs';

/**
 * One row of the per-layer report: the relevance arriving at the layer's output (`relevanceIn`), what it passes to
 * its inputs (`relevanceOut`), what it absorbed, and how the relevance at its output splits into positive and
 * negative parts. Every number is per sample. The first row, `input`, is the input relevance.
 */
export interface LayerReportRow {
  /** Graph index, or null for the input row. */
  index: number | null;
  name: string;
  type: string;
  rule: string | null;
  relevanceIn: number[];
  relevanceOut: number[] | null;
  absorbed: number[] | null;
  /** Sum of the positive relevance values at the layer's output. */
  positive: number[];
  /** Sum of the negative relevance values at the layer's output (≤ 0). */
  negative: number[];
  /** `positive / (positive + |negative|)`, null when all are zero. */
  positiveShare: (number | null)[];
}

function signedSums(values: Float32Array, batch: number): { positive: number[]; negative: number[] } {
  const size = values.length / batch;
  const positive: number[] = [], negative: number[] = [];
  for (let s = 0; s < batch; s++) {
    let pos = 0, neg = 0;
    for (let i = s * size; i < (s + 1) * size; i++) {
      const v = values[i]!;
      if (v > 0) pos += v; else neg += v;
    }
    positive.push(pos);
    negative.push(neg);
  }
  return { positive, negative };
}

const share = (positive: number, negative: number): number | null =>
  (positive - negative > 0 ? positive / (positive - negative) : null);

/** The per-layer report of a result explained with `keepLayers` (E_NATIVE when the layer relevance is missing). */
export function layerReport(result: ExplainResult): LayerReportRow[] {
  const kept = result.layerRelevance;
  if (kept === undefined) throw new LrpError('E_NATIVE', 'the engine returned no per-layer relevance (keepLayers)');
  const batch = result.shape[0]!;
  const input = signedSums(result.relevance, batch);
  const rows: LayerReportRow[] = [{
    index: null, name: 'input', type: 'input', rule: null,
    relevanceIn: result.conservation.map((c) => c.inputRelevance), relevanceOut: null, absorbed: null,
    positive: input.positive, negative: input.negative,
    positiveShare: input.positive.map((p, s) => share(p, input.negative[s]!)),
  }];
  result.layers.forEach((layer, i) => {
    const sums = signedSums(kept[i]!.relevance, batch);
    rows.push({
      index: layer.index, name: layer.name, type: layer.type, rule: layer.rule,
      relevanceIn: Array.from(layer.relevanceIn), relevanceOut: Array.from(layer.relevanceOut), absorbed: Array.from(layer.absorbed),
      positive: sums.positive, negative: sums.negative, positiveShare: sums.positive.map((p, s) => share(p, sums.negative[s]!)),
    });
  });
  return rows;
}

const total = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** What a layer did to the evidence: flipped its sign, or made it larger. */
function layerNote(relevanceIn: number, relevanceOut: number): string {
  const scale = Math.max(Math.abs(relevanceIn), Math.abs(relevanceOut));
  if (scale === 0) return '';
  if (Math.sign(relevanceIn) !== Math.sign(relevanceOut) && Math.abs(relevanceIn) > 1e-6 * scale && Math.abs(relevanceOut) > 1e-6 * scale) {
    return 'flips the sign';
  }
  if (Math.abs(relevanceOut) > Math.abs(relevanceIn) * (1 + 1e-3)) return `amplifies ×${formatNumber(Math.abs(relevanceOut / relevanceIn))}`;
  return '';
}

/** The per-layer report as a text table (sums over the samples when there are several). */
export function formatLayerReport(rows: readonly LayerReportRow[], batch: number): string {
  const percent = (p: number, n: number): string => {
    const s = share(p, n);
    return s === null ? '-' : `${(s * 100).toFixed(1)}% / ${((1 - s) * 100).toFixed(1)}%`;
  };
  const table = [['index', 'layer', 'type', 'rule', 'relevance in', 'out', 'absorbed', 'positive / negative', '']];
  for (const row of rows) {
    const relevanceIn = total(row.relevanceIn);
    const relevanceOut = row.relevanceOut === null ? null : total(row.relevanceOut);
    table.push([
      row.index === null ? '-' : String(row.index), row.name, row.type, row.rule ?? '', formatNumber(relevanceIn),
      formatNumber(relevanceOut), formatNumber(row.absorbed === null ? null : total(row.absorbed)),
      percent(total(row.positive), total(row.negative)), relevanceOut === null ? '' : layerNote(relevanceIn, relevanceOut),
    ]);
  }
  const heading = `relevance per layer${batch > 1 ? ` (sums over ${batch} samples)` : ''}; ` +
    'in: at the layer\'s output, out: passed to its inputs, positive / negative: shares of the relevance at its output:';
  return `${heading}\n${formatTable(table)}\n`;
}

/** A layer name made safe as part of a file name. */
export function safeFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '');
  return safe === '' ? 'layer' : safe.slice(0, 100);
}

/**
 * Writes the relevance at every layer's output as `DIR/<index>-<name>.npy` (float32, `[N, ...outputShape]`, or without
 * the batch axis when `withoutBatchAxis`) and returns the files. E_IO when the folder cannot be created.
 */
export function writeLayerRelevance(dir: string, result: ExplainResult, withoutBatchAxis: boolean): string[] {
  const kept = result.layerRelevance;
  if (kept === undefined) throw new LrpError('E_NATIVE', 'the engine returned no per-layer relevance (keepLayers)');
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new LrpError('E_IO', `${dir}: cannot create the folder for --layers (${(error as Error).message})`, { file: dir });
  }
  return kept.map((layer, i) => {
    const file = path.join(dir, `${i}-${safeFileName(layer.name)}.npy`);
    writeNpy(file, { data: layer.relevance, shape: withoutBatchAxis ? layer.shape.slice(1) : layer.shape });
    return file;
  });
}

/** The ranked features of one CSV row. */
export interface RowFeatures {
  row: number;
  id?: string;
  features: FeatureRanking;
}

/** Ranks the features of each row of a tabular result; rows are `[N, features]` in `relevance`. */
export function rankRows(relevance: Float32Array, table: TableInfo, top: number | undefined, firstRow = 0): RowFeatures[] {
  const width = table.names.length;
  const out: RowFeatures[] = [];
  for (let r = 0; r * width < relevance.length; r++) {
    const row = firstRow + r;
    const features = rankFeatures(relevance.subarray(r * width, (r + 1) * width), table.names, { values: table.rows[row], top });
    out.push(table.labels === undefined ? { row, features } : { row, id: table.labels[row], features });
  }
  return out;
}

/** The text report of ranked rows: a heading per row and the features for and against. */
export function formatRowFeatures(rows: readonly RowFeatures[], describe: (row: RowFeatures) => string): string {
  return rows.map((row) => `${describe(row)}\n${formatFeatureReport(row.features)}`).join('\n');
}
