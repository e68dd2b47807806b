// `lrp explain`: input relevance of an ONNX model for .npy, image or CSV inputs, one set at once or a batch of files.
import * as path from 'node:path';
import { LrpError } from '../errors';
import { type Image, imageToTensor, loadImage } from '../io/image';
import { readNpy, writeNpy } from '../io/npy';
import type { ExplainResult, Target } from '../model/model';
import {
  COMPOSITE_HELP, COMPOSITE_OPTIONS, type CompositeChoice, type ParsedCommandLine, parseComposite, parseIntegerOption,
  requireString, usageError,
} from './args';
import { runBatch } from './batch';
import type { CliContext, CliIo, Command } from './command';
import { formatNumber, formatParams, formatShape, formatTable, toJson } from './format';
import {
  type CsvCliOptions, type LoadedInput, collectInputs, fitToModel, imageTensorOptions, inputKind, loadCsvInput, loadNpyInput,
  parseImageOptions, parseNameList,
} from './inputs';
import type { Device } from '../native';
import { loadModel, readModelFile } from './load-model';
import { type HeatmapCliOptions, parseHeatmapOptions, writeHeatmap } from './render';
import { type LayerReportRow, type RowFeatures, formatLayerReport, formatRowFeatures, layerReport, rankRows, writeLayerRelevance } from './report';
import { type SampleSummary, parseTargetOption, summarizeSamples, targetFromNpy } from './samples';

export { type SampleSummary, type TargetOption, parseTargetOption, summarizeSamples, targetFromNpy } from './samples';

const HELP = `Usage: lrp explain MODEL.onnx --input X.npy --output R.npy [options]
       lrp explain MODEL.onnx --image A.png [B.jpg ...] [--heatmap H.png] [options]
       lrp explain MODEL.onnx --csv DATA.csv [--id-column ID] [--top K] [options]
       lrp explain MODEL.onnx --input-dir DIR | --inputs 'PATTERN' --output-dir OUT [options]

Computes the LRP relevance of every input value of an ONNX model.

Inputs (give one kind):
  -i, --input X.npy     samples as float32 or float64, [N, ...] or one sample without the batch axis
  --image FILE          a PNG or JPEG image; repeat it, or list more images after the model
  --csv DATA.csv        a table with a header row of feature names, one sample per row
  --input-dir DIR       batch mode: every .npy, .png, .jpg/.jpeg and .csv file in DIR
  --inputs 'PATTERN'    batch mode: the files matching a pattern with * and ? (quote it); may repeat

Outputs:
  -o, --output R.npy    the input relevance as float32 of the input's shape (required with --input,
                        optional with --image and --csv)
  --heatmap OUT.png     draw the input relevance (a grid for several samples); in batch mode give it
                        without a file name to write <name>.png per input
  --layers DIR          write the relevance at every layer's output as DIR/<index>-<layer>.npy
  --report              print per layer the relevance in (at its output), out (to its inputs), absorbed,
                        and the shares of positive and negative relevance: where evidence grew or flipped
  --json                print everything as one JSON document (the layer report and features included)

What to explain:
  -t, --target T        argmax (default), a class index K for every sample, or a .npy: int32/int64 [N]
                        (a class per sample) or float [N, classes] (the output relevance); not in batch mode
${COMPOSITE_HELP}
  --threads N           compute threads (default: all cores)
  --device D            compute device: cpu (default), cuda (an NVIDIA GPU; needs an addon built with
                        npm run build:cuda) or auto (cuda when built and a GPU is present)

Images:
  --size N | HxW        resize to N×N or H×W (default: the model's input size, else the image's own)
  --mean M,M,M          subtract per channel after scaling pixels to 0…1 (e.g. 0.485,0.456,0.406)
  --std S,S,S           divide per channel after the mean (e.g. 0.229,0.224,0.225)
  --layout nchw|nhwc    tensor layout of the model's input (default nchw)
  --channels 1|3        gray or RGB (default: the model's input channels, else 3)

Heatmaps:
  --colormap NAME       bwr (default), coldnhot, seismic, hot, cold, gray, wred, wblue, france, coolio, coleus
  --normalize MODE      symmetric (default: 0 is the middle colour), absolute, or minmax
  --upscale N           magnify every relevance pixel N times (default 1)
  --overlay             blend the heatmap onto the input image (image inputs only)
  --overlay-alpha A     weight of the heatmap in the blend, 0…1 (default 0.5; implies --overlay)

Tables:
  --ignore-columns A,B  columns that are not features (dropped before the model sees the row)
  --id-column NAME      a column whose values label the rows in the report (dropped as well)
  --top K               list at most K features for and K against each row (default: all)

Batch mode (--input-dir, --inputs, or --output-dir with input files):
  --output-dir DIR      where to write <name>.relevance.npy (and <name>.png) per input
  --summary FILE        JSON lines, one per sample explained and one per input that failed
                        (default DIR/summary.jsonl)
  --batch-size N        samples per explain call (default 32)
  --quiet               no progress bar (none is drawn either when stderr is not a terminal)
  An input that cannot be read or explained (a corrupt image, a truncated .npy, a wrong shape) is
  reported on stderr and in the summary ({"file", "error": code, "message"}) and skipped; the others are
  still written, and the exit status is then 1.

  --verbose             print the stack trace of an error
  -h, --help            show this help

The summary lists per sample the explained class, its logit, the sum of the input relevance and the
conservation error |sum(R) - output relevance| / |output relevance|.

Examples:
  lrp explain mlp.onnx --input x.npy --output r.npy --composite epsilon-plus --report
  lrp explain resnet.onnx --image cat.jpg dog.png --size 224 --mean 0.485,0.456,0.406 \\
      --std 0.229,0.224,0.225 --composite epsilon-plus-flat --heatmap cats.png --overlay
  lrp explain credit.onnx --csv applicants.csv --id-column id --top 3
  lrp explain cnn.onnx --inputs 'scans/*.png' --output-dir out --heatmap --batch-size 64`;

/** Which inputs the command line names, and how they are explained. */
type InputMode =
  | { kind: 'npy'; file: string }
  | { kind: 'image'; files: string[] }
  | { kind: 'csv'; file: string }
  | { kind: 'batch'; patterns: string[]; dirs: string[] };

function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/** Picks the input mode from the options; mixing kinds outside batch mode is a usage error. */
function inputMode(values: ParsedCommandLine['values'], extra: readonly string[]): InputMode {
  const input = typeof values.input === 'string' && values.input !== '' ? values.input : undefined;
  const csv = typeof values.csv === 'string' ? values.csv : undefined;
  const images = stringList(values.image);
  const patterns = stringList(values.inputs);
  const dirs = stringList(values['input-dir']);
  if (values['output-dir'] !== undefined || patterns.length > 0 || dirs.length > 0) {
    return { kind: 'batch', patterns: [...(input ? [input] : []), ...images, ...(csv ? [csv] : []), ...patterns, ...extra], dirs };
  }
  const given = [input && '--input', images.length > 0 && '--image', csv && '--csv'].filter(Boolean);
  if (given.length > 1) {
    throw usageError(`give one of --input, --image and --csv, not ${given.join(' and ')} (batch mode with --output-dir takes a mix)`, 'explain');
  }
  const imageLike = extra.length > 0 && extra.every((file) => inputKind(file) === 'image' || /[*?]/.test(file));
  if (input !== undefined || csv !== undefined || !imageLike) {
    if (extra.length > 0) throw usageError(`unexpected argument '${extra[0]}'`, 'explain');
  }
  if (input !== undefined) return { kind: 'npy', file: input };
  if (csv !== undefined) return { kind: 'csv', file: csv };
  if (images.length > 0 || imageLike) {
    const files = collectInputs([...images, ...extra], []);
    const other = files.find((file) => inputKind(file) !== 'image');
    if (other !== undefined) throw usageError(`'${other}' is not a PNG or JPEG image`, 'explain');
    return { kind: 'image', files };
  }
  throw usageError('missing required option --input (or --image, --csv, --input-dir, --inputs)', 'explain');
}

/** The explained inputs of one run, and the overlays and row names that go with them. */
interface LoadedSet {
  input: LoadedInput;
  /** Per sample, for image inputs. */
  images?: Image[];
  files?: string[];
}

interface ExplainReport {
  model: string;
  input: string | string[];
  output: string | null;
  choice: CompositeChoice;
  outputShape: number[];
  samples: SampleSummary[];
  logits: number[][];
  files?: string[];
  rows?: RowFeatures[];
  heatmap: string | null;
  layerFiles: string[] | null;
  layersDir?: string;
  layers: LayerReportRow[] | null;
}

function printReport(report: ExplainReport, json: boolean, io: CliIo): void {
  if (json) {
    io.stdout(`${toJson({
      command: 'explain', model: report.model, input: report.input, output: report.output,
      composite: report.choice.composite.name, params: report.choice.params, shape: report.outputShape, dtype: 'float32',
      samples: report.samples.map((s, i) => ({
        ...s, logits: report.logits[i],
        ...(report.files ? { file: report.files[i] } : {}),
        ...(report.rows ? { row: report.rows[i]!.row, ...(report.rows[i]!.id !== undefined ? { id: report.rows[i]!.id } : {}), features: report.rows[i]!.features } : {}),
      })),
      ...(report.heatmap !== null ? { heatmap: report.heatmap } : {}),
      ...(report.layerFiles !== null ? { layerFiles: report.layerFiles } : {}),
      ...(report.layers !== null ? { layers: report.layers } : {}),
    })}\n`);
    return;
  }
  const params = formatParams(report.choice.params as Record<string, unknown>);
  const label = report.files ? 'file' : report.rows?.some((r) => r.id !== undefined) ? 'id' : undefined;
  const labelOf = (i: number): string[] => {
    if (report.files) return [report.files[i]!];
    if (label === 'id') return [report.rows![i]!.id ?? ''];
    return [];
  };
  const lines = [
    `${report.model}: ${report.samples.length} sample${report.samples.length === 1 ? '' : 's'}, ` +
      `composite ${report.choice.composite.name}${params ? ` (${params})` : ''}`,
    formatTable([
      ['sample', ...(label ? [label] : []), 'target', 'logit', 'relevance sum', 'conservation error'],
      ...report.samples.map((s, i) => [
        String(s.sample), ...labelOf(i), s.target === null ? 'given' : String(s.target), formatNumber(s.logit),
        formatNumber(s.relevanceSum), formatNumber(s.relativeError),
      ]),
    ]),
  ];
  if (report.rows) {
    lines.push('', formatRowFeatures(report.rows, (row) => {
      const s = report.samples[row.row]!;
      const name = row.id !== undefined ? `row ${row.row} (${label} ${row.id})` : `row ${row.row}`;
      return `${name}: target ${s.target === null ? 'given' : s.target}, logit ${formatNumber(s.logit)}`;
    }).trimEnd());
  }
  if (report.layers) lines.push('', formatLayerReport(report.layers, report.samples.length).trimEnd());
  if (report.output !== null) lines.push(`wrote float32 ${formatShape(report.outputShape)} to ${report.output}`);
  if (report.heatmap !== null) lines.push(`wrote heatmap ${report.heatmap}`);
  if (report.layerFiles !== null) lines.push(`wrote ${report.layerFiles.length} layer relevance files to ${report.layersDir}`);
  io.stdout(`${lines.join('\n')}\n`);
}

/** Reads the heatmap option: a file name outside batch mode, a bare flag in it. */
function heatmapFile(values: ParsedCommandLine['values'], batch: boolean): string | undefined {
  const value = values.heatmap;
  if (value === undefined) return undefined;
  if (batch && value !== '') {
    throw usageError(`in batch mode --heatmap takes no file name (one <name>.png per input goes to --output-dir), got '${String(value)}'; ` +
      'put --heatmap before another option or at the end', 'explain');
  }
  if (!batch && value === '') throw usageError('--heatmap needs a file name, e.g. --heatmap heatmap.png', 'explain');
  return String(value);
}

/** `--device`: cpu, cuda or auto. */
function parseDevice(value: unknown): Device | undefined {
  if (value === undefined) return undefined;
  if (value === 'cpu' || value === 'cuda' || value === 'auto') return value;
  throw usageError(`--device must be cpu, cuda or auto, got '${String(value)}'`, 'explain');
}

async function run(args: ParsedCommandLine, io: CliIo, context: CliContext): Promise<number> {
  const { values, positionals } = args;
  if (positionals.length === 0) throw usageError('missing MODEL.onnx', 'explain');
  const modelPath = positionals[0]!;
  const mode = inputMode(values, positionals.slice(1));
  const batch = mode.kind === 'batch';
  const targetOption = parseTargetOption(values.target as string | undefined);
  const choice = parseComposite(values, 'explain');
  const threads = parseIntegerOption(values, 'threads', 'explain', 1024);
  const device = parseDevice(values.device);
  const imageOptions = parseImageOptions(values);
  const heatmapPath = heatmapFile(values, batch);
  const heatmap: HeatmapCliOptions | undefined = heatmapPath !== undefined ? parseHeatmapOptions(values) : undefined;
  if (heatmap === undefined && (values.overlay !== undefined || values['overlay-alpha'] !== undefined)) {
    throw usageError('--overlay and --overlay-alpha need --heatmap', 'explain');
  }
  if (heatmap?.overlay && mode.kind !== 'image' && mode.kind !== 'batch') {
    throw usageError('--overlay blends the heatmap onto input images; give the inputs with --image', 'explain');
  }
  const csvOptions: CsvCliOptions = {
    ignoreColumns: parseNameList(values, 'ignore-columns'),
    idColumn: typeof values['id-column'] === 'string' ? values['id-column'] : undefined,
  };
  const top = parseIntegerOption(values, 'top', 'explain', 1_000_000);
  const layersDir = typeof values.layers === 'string' ? values.layers : undefined;
  const wantReport = values.report === true;
  const json = values.json === true;

  if (mode.kind === 'batch') {
    const outputDir = requireString(values, 'output-dir', 'explain');
    if (values.output !== undefined) throw usageError('--output names one file; in batch mode the outputs go to --output-dir', 'explain');
    if (layersDir !== undefined || wantReport) throw usageError('--layers and --report explain one set of inputs, not batch mode', 'explain');
    if (targetOption.kind === 'file') throw usageError('--target FILE is not available in batch mode; give argmax or a class index', 'explain');
    const batchSize = parseIntegerOption(values, 'batch-size', 'explain', 1_000_000) ?? 32;
    const files = collectInputs(mode.patterns, mode.dirs);
    if (files.length === 0) {
      throw new LrpError('E_IO', `no .npy, image or CSV input files found${mode.dirs.length > 0 ? ` in ${mode.dirs.join(', ')}` : ''}`);
    }
    return runBatch({
      modelPath, files, outputDir, summaryPath: typeof values.summary === 'string' ? values.summary : path.join(outputDir, 'summary.jsonl'),
      batchSize, target: targetOption.kind === 'class' ? targetOption.value : 'argmax', choice, threads, device,
      image: imageOptions, csv: csvOptions, top, heatmap, quiet: values.quiet === true, json,
    }, io, context);
  }
  for (const name of ['output-dir', 'summary', 'batch-size'] as const) {
    if (values[name] !== undefined) throw usageError(`--${name} belongs to batch mode (--input-dir or --inputs)`, 'explain');
  }
  const outputPath = mode.kind === 'npy' ? requireString(values, 'output', 'explain') : (values.output as string | undefined);

  // Inputs are read before the model, so that a missing or broken input is reported without loading anything.
  let npyOrCsv: LoadedInput | undefined;
  let decoded: Image[] | undefined;
  if (mode.kind === 'npy') npyOrCsv = loadNpyInput(mode.file);
  else if (mode.kind === 'csv') npyOrCsv = loadCsvInput(mode.file, csvOptions);
  else decoded = await Promise.all(mode.files.map((file) => loadImage(file)));
  const targetArray = targetOption.kind === 'file' ? readNpy(targetOption.path) : undefined;
  const bytes = readModelFile(modelPath);
  const onnx = await context.importOnnx();

  let loaded: LoadedSet;
  if (mode.kind === 'image') {
    const declared = (await onnx.inspectOnnx(bytes)).inputs[0]?.shape as readonly unknown[] | undefined;
    const tensor = imageToTensor(decoded!, imageTensorOptions(imageOptions, declared?.slice(1)));
    loaded = { input: { file: mode.files.join(', '), kind: 'image', data: tensor.data, shape: tensor.shape, withoutBatchAxis: false }, images: decoded, files: mode.files };
  } else {
    loaded = { input: npyOrCsv! };
  }

  const model = await loadModel(onnx, bytes, loaded.input.shape, device);
  try {
    const input = fitToModel(loaded.input, model.inputShape);
    let target: Target = 'argmax';
    if (targetOption.kind === 'class') target = targetOption.value;
    if (targetOption.kind === 'file' && targetArray) target = targetFromNpy(targetArray, targetOption.path, input.withoutBatchAxis);
    const result = await model.explain({ data: input.data, shape: input.shape }, {
      composite: choice.composite, target, threads, keepLayers: layersDir !== undefined || wantReport,
    });
    const outputShape = input.withoutBatchAxis ? result.shape.slice(1) : result.shape;
    if (outputPath !== undefined) writeNpy(outputPath, { data: result.relevance, shape: outputShape });
    if (heatmapPath !== undefined) writeHeatmap(heatmapPath, result.relevance, result.shape, imageOptions.layout, heatmap!, loaded.images);
    const layerFiles = layersDir !== undefined ? writeLayerRelevance(layersDir, result, input.withoutBatchAxis) : null;
    printReport({
      model: modelPath, input: mode.kind === 'image' ? mode.files : mode.file, output: outputPath ?? null, choice, outputShape,
      samples: summarizeSamples(result), logits: logitsPerSample(result), files: loaded.files,
      rows: input.table ? rankRows(result.relevance, input.table, top) : undefined,
      heatmap: heatmapPath ?? null, layerFiles, layersDir, layers: wantReport ? layerReport(result) : null,
    }, json, io);
    return 0;
  } finally {
    model.dispose();
  }
}

function logitsPerSample(result: ExplainResult): number[][] {
  const classes = result.logitsShape[1];
  return result.conservation.map((c) => Array.from(result.logits.subarray(c.sample * classes, (c.sample + 1) * classes)));
}

/** The `explain` subcommand. */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'compute the input relevance of an ONNX model for .npy, image or CSV inputs, one set or a batch of files',
  help: HELP,
  options: {
    ...COMPOSITE_OPTIONS,
    input: { type: 'string', short: 'i' },
    output: { type: 'string', short: 'o' },
    target: { type: 'string', short: 't' },
    threads: { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean' },
    image: { type: 'string', multiple: true },
    size: { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    layout: { type: 'string' },
    channels: { type: 'string' },
    csv: { type: 'string' },
    'ignore-columns': { type: 'string' },
    'id-column': { type: 'string' },
    top: { type: 'string' },
    'input-dir': { type: 'string', multiple: true },
    inputs: { type: 'string', multiple: true },
    'output-dir': { type: 'string' },
    summary: { type: 'string' },
    'batch-size': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    heatmap: { type: 'string', optionalValue: true },
    colormap: { type: 'string' },
    normalize: { type: 'string' },
    upscale: { type: 'string' },
    overlay: { type: 'boolean' },
    'overlay-alpha': { type: 'string' },
    layers: { type: 'string' },
    report: { type: 'boolean' },
  },
  run,
};
