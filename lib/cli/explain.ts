// `lrp explain`: input relevance of an ONNX model for the samples in a .npy file, written as float32 .npy.
import { LrpError } from '../errors';
import { type NpyArray, readNpy, writeNpy } from '../io/npy';
import type { ExplainResult, Target } from '../model/model';
import {
  COMPOSITE_HELP, COMPOSITE_OPTIONS, type CompositeChoice, type ParsedCommandLine, parseComposite, parseIntegerOption,
  requireString, usageError,
} from './args';
import type { CliContext, CliIo, Command } from './command';
import { formatNumber, formatParams, formatShape, formatTable, toJson } from './format';
import { loadModel, readModelFile } from './load-model';

const HELP = `Usage: lrp explain MODEL.onnx --input X.npy --output R.npy [options]

Computes the LRP relevance of every input value and writes it as a float32 .npy of the input's shape.

  -i, --input X.npy     the samples, float32 or float64, [N, ...] or one sample without the batch axis
  -o, --output R.npy    where to write the input relevance
  -t, --target T        what to explain: argmax (default), a class index K for every sample, or a .npy:
                        int32/int64 [N] (a class per sample) or float [N, classes] (the output relevance)
${COMPOSITE_HELP}
  --threads N           compute threads (default: all cores)
  --json                print the summary as JSON
  --verbose             print the stack trace of an error
  -h, --help            show this help

The summary lists per sample the explained class, its logit, the sum of the input relevance and the
conservation error |sum(R) - output relevance| / |output relevance|.`;

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

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
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

interface ExplainReport {
  model: string;
  input: string;
  output: string;
  choice: CompositeChoice;
  outputShape: number[];
  samples: SampleSummary[];
  logits: number[][];
}

function printReport(report: ExplainReport, json: boolean, io: CliIo): void {
  if (json) {
    io.stdout(`${toJson({
      command: 'explain', model: report.model, input: report.input, output: report.output,
      composite: report.choice.composite.name, params: report.choice.params, shape: report.outputShape, dtype: 'float32',
      samples: report.samples.map((s, i) => ({ ...s, logits: report.logits[i] })),
    })}\n`);
    return;
  }
  const params = formatParams(report.choice.params as Record<string, unknown>);
  const lines = [
    `${report.model}: ${report.samples.length} sample${report.samples.length === 1 ? '' : 's'}, ` +
      `composite ${report.choice.composite.name}${params ? ` (${params})` : ''}`,
    formatTable([
      ['sample', 'target', 'logit', 'relevance sum', 'conservation error'],
      ...report.samples.map((s) => [
        String(s.sample), s.target === null ? 'given' : String(s.target), formatNumber(s.logit),
        formatNumber(s.relevanceSum), formatNumber(s.relativeError),
      ]),
    ]),
    `wrote float32 ${formatShape(report.outputShape)} to ${report.output}`,
  ];
  io.stdout(`${lines.join('\n')}\n`);
}

async function run(args: ParsedCommandLine, io: CliIo, context: CliContext): Promise<number> {
  const { values, positionals } = args;
  if (positionals.length === 0) throw usageError('missing MODEL.onnx', 'explain');
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`, 'explain');
  const modelPath = positionals[0];
  const inputPath = requireString(values, 'input', 'explain');
  const outputPath = requireString(values, 'output', 'explain');
  const targetOption = parseTargetOption(values.target as string | undefined);
  const choice = parseComposite(values, 'explain');
  const threads = parseIntegerOption(values, 'threads', 'explain', 1024);

  const input = readNpy(inputPath);
  if (input.dtype !== 'float32' && input.dtype !== 'float64') {
    throw new LrpError('E_INPUT', `${inputPath}: the input must be float32 or float64, got ${input.dtype}`);
  }
  const targetArray = targetOption.kind === 'file' ? readNpy(targetOption.path) : undefined;
  const bytes = readModelFile(modelPath);
  const onnx = await context.importOnnx();
  const model = await loadModel(onnx, bytes, input.shape);
  try {
    const singleSample = sameShape(input.shape, model.inputShape);
    const batchShape = singleSample ? [1, ...input.shape] : input.shape;
    let target: Target = 'argmax';
    if (targetOption.kind === 'class') target = targetOption.value;
    if (targetOption.kind === 'file' && targetArray) target = targetFromNpy(targetArray, targetOption.path, singleSample);
    const result = await model.explain({ data: input.data as Float32Array | Float64Array, shape: batchShape }, {
      composite: choice.composite, target, threads,
    });
    const outputShape = singleSample ? [...input.shape] : result.shape;
    writeNpy(outputPath, { data: result.relevance, shape: outputShape });
    const classes = result.logitsShape[1];
    const logits = result.conservation.map((c) => Array.from(result.logits.subarray(c.sample * classes, (c.sample + 1) * classes)));
    printReport({
      model: modelPath, input: inputPath, output: outputPath, choice, outputShape, samples: summarizeSamples(result), logits,
    }, values.json === true, io);
    return 0;
  } finally {
    model.dispose();
  }
}

/** The `explain` subcommand. */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'compute the input relevance of an ONNX model for the samples in a .npy file',
  help: HELP,
  options: {
    ...COMPOSITE_OPTIONS,
    input: { type: 'string', short: 'i' },
    output: { type: 'string', short: 'o' },
    target: { type: 'string', short: 't' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
  },
  run,
};
