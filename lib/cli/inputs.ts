// The inputs of `lrp explain`: .npy, image and CSV files, folders and `*`/`?` patterns, turned into model inputs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LrpError } from '../errors';
import { readCsv } from '../io/csv';
import { type Image, type ImageToTensorOptions, imageToTensor, loadImage } from '../io/image';
import { readNpy } from '../io/npy';
import { type ParsedCommandLine, parseIntegerOption, usageError } from './args';
import { formatShape } from './format';

/** What a file holds, by its extension. */
export type InputKind = 'npy' | 'image' | 'csv';

/** The kind of an input file by its extension (`.npy`, `.png`, `.jpg`/`.jpeg`, `.csv`), or undefined. */
export function inputKind(file: string): InputKind | undefined {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.npy') return 'npy';
  if (extension === '.png' || extension === '.jpg' || extension === '.jpeg') return 'image';
  if (extension === '.csv') return 'csv';
  return undefined;
}

/** True when `text` holds a `*` or `?` wildcard. */
export function hasWildcard(text: string): boolean {
  return /[*?]/.test(text);
}

/** A regular expression for one path segment with `*` (any run of characters) and `?` (one character). */
export function wildcardToRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

const SEPARATORS = process.platform === 'win32' ? /[\\/]+/ : /\/+/;

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The files matching a pattern with `*` and `?` in any of its path segments (`data/*.npy`, `runs/day-?/*.png`),
 * sorted; a pattern without wildcards is returned as it is. As in a shell, a wildcard does not match a leading dot
 * and never crosses a `/` (`**` is the same as `*`).
 */
export function expandPattern(pattern: string): string[] {
  if (!hasWildcard(pattern)) return [pattern];
  const segments = pattern.split(SEPARATORS);
  let bases = [''];
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '') {
      if (i === 0) bases = [path.sep]; // an absolute pattern
      return;
    }
    if (i === 0 && /^[A-Za-z]:$/.test(segment)) { // a Windows drive
      bases = [segment + path.sep];
      return;
    }
    const next: string[] = [];
    for (const base of bases) {
      if (!hasWildcard(segment)) {
        next.push(base === '' ? segment : path.join(base, segment));
        continue;
      }
      let names: string[];
      try {
        names = fs.readdirSync(base === '' ? '.' : base);
      } catch {
        continue;
      }
      const matcher = wildcardToRegExp(segment);
      for (const name of names.sort()) {
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (!matcher.test(name)) continue;
        const candidate = base === '' ? name : path.join(base, name);
        if (last ? isFile(candidate) : isDirectory(candidate)) next.push(candidate);
      }
    }
    bases = next;
  });
  return bases.filter((file) => file !== '' && file !== path.sep);
}

/** The .npy, image and CSV files in a folder (not its subfolders), sorted by name; E_IO when it cannot be read. */
export function listInputDir(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new LrpError('E_IO', `${dir}: cannot read the input folder (${(error as Error).message})`, { file: dir });
  }
  return names.sort()
    .filter((name) => !name.startsWith('.') && inputKind(name) !== undefined)
    .map((name) => path.join(dir, name))
    .filter(isFile);
}

/**
 * Expands patterns and folders into a list of input files without duplicates, in the order given (each pattern's
 * matches sorted). A pattern that matches nothing is E_IO; a named file of unknown kind is a usage error; files that
 * patterns and folders find are kept only when their kind is known.
 */
export function collectInputs(patterns: readonly string[], dirs: readonly string[], command = 'explain'): string[] {
  const seen = new Set<string>();
  const files: string[] = [];
  const add = (file: string): void => {
    const key = path.resolve(file);
    if (!seen.has(key)) {
      seen.add(key);
      files.push(file);
    }
  };
  for (const dir of dirs) listInputDir(dir).forEach(add);
  for (const pattern of patterns) {
    if (!hasWildcard(pattern)) {
      if (inputKind(pattern) === undefined) {
        throw usageError(`unexpected argument '${pattern}' (inputs are .npy, .png, .jpg/.jpeg or .csv files)`, command);
      }
      add(pattern);
      continue;
    }
    const matches = expandPattern(pattern).filter((file) => inputKind(file) !== undefined);
    if (matches.length === 0) throw new LrpError('E_IO', `no .npy, image or CSV file matches '${pattern}'`, { pattern });
    matches.forEach(add);
  }
  return files;
}

/** The image options of `lrp explain` as given on the command line (each one may be left out). */
export interface ImageCliOptions {
  size?: [number, number];
  mean?: number[];
  std?: number[];
  layout: 'nchw' | 'nhwc';
  channels?: 1 | 3;
}

/** Reads `--x 0.485,0.456,0.406` as a list of finite numbers (usage error otherwise). */
export function parseNumberList(values: ParsedCommandLine['values'], name: string, command = 'explain'): number[] | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const parts = String(text).split(/[,\s]+/).filter(Boolean);
  const numbers = parts.map((p) => (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(p) ? Number(p) : NaN));
  if (numbers.length === 0 || numbers.some((n) => !Number.isFinite(n))) {
    throw usageError(`--${name} expects numbers separated by commas, got '${String(text)}'`, command);
  }
  return numbers;
}

/** Reads `--x id,name` as a list of names. */
export function parseNameList(values: ParsedCommandLine['values'], name: string): string[] {
  const text = values[name];
  if (typeof text !== 'string') return [];
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Reads --size, --mean, --std, --layout and --channels. */
export function parseImageOptions(values: ParsedCommandLine['values'], command = 'explain'): ImageCliOptions {
  let size: [number, number] | undefined;
  if (values.size !== undefined) {
    const parts = String(values.size).split(/[,x×]/).map((p) => (/^\d+$/.test(p.trim()) ? Number(p) : NaN));
    if (!(parts.length === 1 || parts.length === 2) || parts.some((d) => !Number.isSafeInteger(d) || d < 1 || d > 65536)) {
      throw usageError(`--size expects N or HEIGHTxWIDTH (positive integers), got '${String(values.size)}'`, command);
    }
    size = parts.length === 1 ? [parts[0]!, parts[0]!] : [parts[0]!, parts[1]!];
  }
  const layout = values.layout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc') throw usageError(`--layout expects nchw or nhwc, got '${String(layout)}'`, command);
  const channels = parseIntegerOption(values, 'channels', command, 3);
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw usageError(`--channels expects 1 or 3, got '${String(values.channels)}'`, command);
  }
  const mean = parseNumberList(values, 'mean', command);
  const std = parseNumberList(values, 'std', command);
  if (std?.some((s) => s === 0)) throw usageError(`--std must not contain 0, got '${String(values.std)}'`, command);
  return { size, mean, std, layout, channels: channels as 1 | 3 | undefined };
}

/**
 * The options for imageToTensor: what the command line gave, else what the model's per-sample input shape says
 * (`[C, H, W]`, or `[H, W, C]` for nhwc; dimensions that are not numbers are left to the images themselves).
 */
export function imageTensorOptions(cli: ImageCliOptions, sampleShape: readonly unknown[] | undefined): ImageToTensorOptions {
  const known = (d: unknown): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
  let modelChannels: number | undefined, height: number | undefined, width: number | undefined;
  if (sampleShape?.length === 3) {
    [modelChannels, height, width] = cli.layout === 'nchw'
      ? [known(sampleShape[0]), known(sampleShape[1]), known(sampleShape[2])]
      : [known(sampleShape[2]), known(sampleShape[0]), known(sampleShape[1])];
  }
  const channels = cli.channels ?? (modelChannels === 1 ? 1 : 3);
  const size = cli.size ?? (height !== undefined && width !== undefined ? [height, width] as [number, number] : undefined);
  return { size, mean: cli.mean, std: cli.std, layout: cli.layout, channels };
}

/** Tabular input: the feature names, and per row its input values and label (the --id-column value). */
export interface TableInfo {
  names: string[];
  rows: number[][];
  labels?: string[];
}

/** One input file read into samples `[n, ...sampleShape]`. */
export interface LoadedInput {
  file: string;
  kind: InputKind;
  data: Float32Array | Float64Array;
  shape: number[];
  /** A .npy holding one sample without the batch axis: its outputs leave the batch axis out too. */
  withoutBatchAxis: boolean;
  /** The decoded image, for heatmap overlays. */
  image?: Image;
  /** The named features of a CSV file. */
  table?: TableInfo;
}

/** What reading a CSV needs from the command line. */
export interface CsvCliOptions {
  ignoreColumns: string[];
  idColumn?: string;
}

/** Reads a CSV file of named features (header row required) as `[rows, features]`. */
export function loadCsvInput(file: string, options: CsvCliOptions): LoadedInput {
  const ignoreColumns = [...options.ignoreColumns];
  if (options.idColumn !== undefined && !ignoreColumns.includes(options.idColumn)) ignoreColumns.push(options.idColumn);
  let table: ReturnType<typeof readCsv>;
  try {
    table = readCsv(file, { ignoreColumns });
  } catch (error) {
    if (error instanceof LrpError && / is not a number$/.test(error.message)) {
      throw new LrpError(error.code, `${error.message}; drop non-feature columns with --ignore-columns`, error.details);
    }
    if (error instanceof LrpError && error.code === 'E_ARGUMENT' && /ignoreColumns names/.test(error.message)) {
      // Say it in the command line's words: the names came from --ignore-columns / --id-column.
      throw new LrpError('E_ARGUMENT', error.message.replace(/^readCsv: ignoreColumns names/, `${file}: --ignore-columns/--id-column name`), error.details);
    }
    throw error;
  }
  if (table.rows.length === 0) throw new LrpError('E_INPUT', `${file}: the CSV file has no data rows`, { file });
  const labels = options.idColumn === undefined ? undefined : table.ignored[options.idColumn];
  const features = table.columns.length;
  const data = new Float64Array(table.rows.length * features);
  table.rows.forEach((row, r) => data.set(row, r * features));
  return {
    file, kind: 'csv', data, shape: [table.rows.length, features], withoutBatchAxis: false,
    table: { names: table.columns, rows: table.rows, labels },
  };
}

/** Reads a .npy input (float32 or float64); its shape is checked against the model later. */
export function loadNpyInput(file: string): LoadedInput {
  const array = readNpy(file);
  if (array.dtype !== 'float32' && array.dtype !== 'float64') {
    throw new LrpError('E_INPUT', `${file}: the input must be float32 or float64, got ${array.dtype}`, { file });
  }
  return { file, kind: 'npy', data: array.data as Float32Array | Float64Array, shape: [...array.shape], withoutBatchAxis: false };
}

/** Decodes an image file and turns it into one sample `[1, C, H, W]` (or `[1, H, W, C]`). */
export async function loadImageInput(file: string, options: ImageToTensorOptions): Promise<LoadedInput> {
  const image = await loadImage(file);
  const tensor = imageToTensor(image, options);
  return { file, kind: 'image', data: tensor.data, shape: tensor.shape, withoutBatchAxis: false, image };
}

/** Reads any input file by its kind. */
export async function loadInput(file: string, imageOptions: ImageToTensorOptions, csv: CsvCliOptions): Promise<LoadedInput> {
  const kind = inputKind(file);
  if (kind === 'npy') return loadNpyInput(file);
  if (kind === 'image') return loadImageInput(file, imageOptions);
  if (kind === 'csv') return loadCsvInput(file, csv);
  throw new LrpError('E_INPUT', `${file}: not a .npy, .png, .jpg/.jpeg or .csv file`, { file });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks a loaded input against the model's per-sample input shape: `[n, ...sampleShape]`, or (a .npy) one sample
 * without the batch axis, which is then given one. Throws E_SHAPE naming the file, what it holds and what fits.
 */
export function fitToModel(input: LoadedInput, sampleShape: readonly number[]): LoadedInput {
  if (input.kind === 'npy' && sameShape(input.shape, sampleShape)) {
    return { ...input, shape: [1, ...sampleShape], withoutBatchAxis: true };
  }
  if (input.shape.length === sampleShape.length + 1 && input.shape[0]! >= 1 && sameShape(input.shape.slice(1), sampleShape)) return input;
  const what = input.kind === 'csv'
    ? `${input.shape[1]} feature columns (${input.table?.names.join(', ')})`
    : `shape ${formatShape(input.shape)}`;
  throw new LrpError('E_SHAPE', `${input.file}: has ${what}, but the model takes ${formatShape(['N', ...sampleShape])}` +
    (input.kind === 'csv' ? '; drop non-feature columns with --ignore-columns' : ''), { file: input.file });
}

/** Joins the samples of several inputs into one float32 batch. */
export function concatInputs(inputs: readonly LoadedInput[], sampleShape: readonly number[]): { data: Float32Array; shape: number[] } {
  const batch = inputs.reduce((n, input) => n + input.shape[0]!, 0);
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(batch * size);
  let offset = 0;
  for (const input of inputs) {
    data.set(input.data, offset);
    offset += input.data.length;
  }
  return { data, shape: [batch, ...sampleShape] };
}
