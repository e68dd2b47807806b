// `lrp explain` over many input files: chunks of --batch-size samples, one output per input, a JSON-lines summary,
// and inputs that fail reported and skipped while the rest complete.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LrpError, isLrpError } from '../errors';
import type { ExplainResult, Model, Target } from '../model/model';
import { writeNpy } from '../io/npy';
import type { CompositeChoice } from './args';
import type { CliContext, CliIo } from './command';
import { formatParams, toJson } from './format';
import {
  type CsvCliOptions, type ImageCliOptions, type LoadedInput, concatInputs, fitToModel, imageTensorOptions, loadInput,
} from './inputs';
import type { Device } from '../native';
import { hasFixedSampleShape, loadModel, readModelFile } from './load-model';
import { createProgress } from './progress';
import { type HeatmapCliOptions, writeHeatmap } from './render';
import { rankRows } from './report';
import { summarizeSamples } from './samples';

/** What a batch run needs, read from the command line by `lrp explain`. */
export interface BatchSettings {
  modelPath: string;
  files: readonly string[];
  outputDir: string;
  /** The JSON-lines summary (default `outputDir/summary.jsonl`). */
  summaryPath: string;
  /** Samples per explain call. */
  batchSize: number;
  target: Target;
  choice: CompositeChoice;
  threads?: number;
  /** Compute device (`--device`). */
  device?: Device;
  image: ImageCliOptions;
  csv: CsvCliOptions;
  /** Features per side in the summary of CSV rows (default all). */
  top?: number;
  /** Write `<name>.png` per input. */
  heatmap?: HeatmapCliOptions;
  quiet: boolean;
  json: boolean;
}

/** An input with the base name of its outputs. */
type NamedInput = LoadedInput & { name: string };

/** One line of the summary: a sample explained, or an input that failed. */
export type SummaryLine = Record<string, unknown>;

/** A failed input: its file, LrpError code and message. */
export interface BatchFailure {
  file: string;
  error: string;
  message: string;
}

/** Output base names, one per file: the name without its extension, made unique. */
export function outputNames(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const base = path.basename(file);
    const stem = base.slice(0, base.length - path.extname(base).length) || base;
    let name = used.has(stem) ? base : stem;
    for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
    used.add(name);
    return name;
  });
}

/** Runs the batch; resolves to 0 when every input was explained, 1 when any failed (the others are still written). */
export async function runBatch(settings: BatchSettings, io: CliIo, context: CliContext): Promise<number> {
  const { files, outputDir } = settings;
  try {
    fs.mkdirSync(outputDir, { recursive: true });
  } catch (error) {
    throw new LrpError('E_IO', `${outputDir}: cannot create the output folder (${(error as Error).message})`, { file: outputDir });
  }
  const bytes = readModelFile(settings.modelPath);
  const onnx = await context.importOnnx();
  const declared = (await onnx.inspectOnnx(bytes)).inputs[0]?.shape as readonly unknown[] | undefined;
  const names = outputNames(files);

  let summaryFd: number;
  try {
    summaryFd = fs.openSync(settings.summaryPath, 'w');
  } catch (error) {
    throw new LrpError('E_IO', `${settings.summaryPath}: cannot write the summary (${(error as Error).message})`, { file: settings.summaryPath });
  }
  const progress = createProgress(io, files.length, 'explaining', settings.quiet);
  const failures: BatchFailure[] = [];
  let model: Model | undefined;
  let samplesDone = 0;
  let filesDone = 0;

  const writeLine = (line: SummaryLine): void => { fs.writeSync(summaryFd, `${JSON.stringify(line, jsonValue)}\n`); };
  const fail = (file: string, error: unknown): void => {
    if (!isLrpError(error)) throw error;
    const failure = { file, error: error.code, message: error.message.replace(/\s*\n\s*/g, ' ').trim() };
    failures.push(failure);
    writeLine(failure);
    progress.log(`lrp: skipped ${file}: ${failure.error}: ${failure.message}\n`);
  };

  /** Writes one input's outputs and summary lines from its part of a result. */
  const finish = (input: NamedInput, result: ExplainResult, first: number): void => {
    const count = input.shape[0]!;
    const sampleShape = input.shape.slice(1);
    const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    const relevance = result.relevance.subarray(first * sampleSize, (first + count) * sampleSize);
    const output = path.join(outputDir, `${input.name}.relevance.npy`);
    writeNpy(output, { data: relevance, shape: input.withoutBatchAxis ? sampleShape : input.shape });
    let heatmap: string | undefined;
    if (settings.heatmap) {
      heatmap = path.join(outputDir, `${input.name}.png`);
      writeHeatmap(heatmap, relevance, input.shape, settings.image.layout, settings.heatmap, input.image ? [input.image] : undefined);
    }
    const features = input.table ? rankRows(relevance, input.table, settings.top) : undefined;
    const samples = summarizeSamples(result).slice(first, first + count);
    samples.forEach((s, k) => {
      const line: SummaryLine = { file: input.file };
      if (input.table) {
        line.row = k;
        if (features?.[k]?.id !== undefined) line.id = features[k]!.id;
      } else if (count > 1) {
        line.sample = k;
      }
      Object.assign(line, {
        target: s.target, logit: s.logit, relevanceSum: s.relevanceSum, conservationError: s.relativeError, output,
        ...(heatmap ? { heatmap } : {}),
        ...(features ? { features: features[k]!.features } : {}),
      });
      writeLine(line);
    });
    samplesDone += count;
  };

  const explain = async (inputs: readonly LoadedInput[]): Promise<ExplainResult> => {
    const batch = concatInputs(inputs, model!.inputShape);
    return model!.explain(batch, { composite: settings.choice.composite, target: settings.target, threads: settings.threads });
  };

  /** Explains a chunk; when that fails, each input alone, so that only the inputs at fault are skipped. */
  const flush = async (chunk: readonly NamedInput[]): Promise<void> => {
    let result: ExplainResult | undefined;
    let chunkError: unknown;
    try {
      result = await explain(chunk);
    } catch (error) {
      if (!isLrpError(error)) throw error;
      chunkError = error;
    }
    let first = 0;
    for (const input of chunk) {
      try {
        if (result !== undefined) finish(input, result, first);
        else if (chunk.length === 1) throw chunkError;
        else finish(input, await explain([input]), 0);
      } catch (error) {
        if (!isLrpError(error)) throw error;
        fail(input.file, error);
      }
      first += input.shape[0]!;
      progress.update(++filesDone);
    }
  };

  try {
    let chunk: NamedInput[] = [];
    let chunkSamples = 0;
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      let input: LoadedInput;
      try {
        input = await loadInput(file, imageTensorOptions(settings.image, model?.inputShape ?? declared?.slice(1)), settings.csv);
      } catch (error) {
        if (!isLrpError(error)) throw error;
        fail(file, error);
        progress.update(++filesDone);
        continue;
      }
      if (model === undefined) {
        // The first readable input fixes the per-sample dimensions that the model file leaves open.
        model = await loadModel(onnx, bytes, hasFixedSampleShape(declared) ? undefined : input.shape, settings.device);
        checkDrawable(settings, model.inputShape);
      }
      try {
        input = fitToModel(input, model.inputShape);
      } catch (error) {
        fail(file, error);
        progress.update(++filesDone);
        continue;
      }
      chunk.push({ ...input, name: names[i]! });
      chunkSamples += input.shape[0]!;
      if (chunkSamples >= settings.batchSize) {
        await flush(chunk);
        chunk = [];
        chunkSamples = 0;
      }
    }
    await flush(chunk);
  } finally {
    progress.stop();
    fs.closeSync(summaryFd);
    model?.dispose();
  }

  const explained = files.length - failures.length;
  if (settings.json) {
    io.stdout(`${toJson({
      command: 'explain', model: settings.modelPath, outputDir, summary: settings.summaryPath,
      composite: settings.choice.composite.name, params: settings.choice.params,
      inputs: files.length, explained, samples: samplesDone, failed: failures,
    })}\n`);
  } else {
    const params = formatParams(settings.choice.params as Record<string, unknown>);
    io.stdout([
      `${settings.modelPath}: explained ${explained} of ${files.length} input${files.length === 1 ? '' : 's'} ` +
        `(${samplesDone} sample${samplesDone === 1 ? '' : 's'}), composite ${settings.choice.composite.name}${params ? ` (${params})` : ''}` +
        (failures.length > 0 ? `; ${failures.length} failed (see the summary)` : ''),
      `wrote <name>.relevance.npy${settings.heatmap ? ' and <name>.png' : ''} per input to ${outputDir}; summary in ${settings.summaryPath}`,
    ].join('\n') + '\n');
  }
  return failures.length > 0 ? 1 : 0;
}

/** --heatmap needs image-shaped samples; found once, not for every input. */
function checkDrawable(settings: BatchSettings, sampleShape: readonly number[]): void {
  if (settings.heatmap && sampleShape.length !== 2 && sampleShape.length !== 3) {
    throw new LrpError('E_SHAPE', `--heatmap draws inputs of shape [C, H, W] or [H, W]; this model's input is [${sampleShape.join(', ')}]`);
  }
}

/** JSON.stringify replacer: non-finite numbers as strings (JSON has no NaN). */
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}
