// Numeric tables from CSV files (tabular model inputs), parsed with csv-parse.
import * as fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LrpError } from '../errors';

/** Options of {@link readCsv} and {@link parseCsv}. */
export interface CsvOptions {
  /** Whether the first record names the columns (default true). Without a header, columns are named '0', '1', …. */
  header?: boolean;
  /** Field delimiter (default ','). */
  delimiter?: string;
  /** Columns to drop before the numbers are read, by name (e.g. an id or label column). Unknown names throw `E_ARGUMENT`. */
  ignoreColumns?: readonly string[];
}

/** A numeric table: the kept column names and one array of numbers per data row. */
export interface CsvTable {
  /** Names of the kept columns, in file order (`ignoreColumns` removed). */
  columns: string[];
  /** One array per data row, with one number per entry of `columns`. */
  rows: number[][];
  /** The text of each `ignoreColumns` column, one entry per data row (e.g. row ids to label a report with). */
  ignored: Record<string, string[]>;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Reads a CSV file of numbers, see {@link parseCsv}. Throws `E_IO` naming the file when it cannot be read. */
export function readCsv(path: string, options: CsvOptions = {}): CsvTable {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new LrpError('E_IO', `${path}: cannot read CSV file (${(error as Error).message})`, { file: path });
  }
  return parseCsv(text, options, path);
}

/**
 * Parses CSV text whose cells (apart from `ignoreColumns`) are all decimal numbers (`12`, `-0.5`, `1e-3`); cells
 * are trimmed, empty lines and a byte-order mark are skipped. Throws `E_IO` for malformed CSV, rows of the wrong
 * length, or a cell that is not a number (naming its line in the file, its 1-based data row and its column);
 * `E_ARGUMENT` for bad options. `source` names the text in messages.
 *
 * @example
 * const table = parseCsv('id,income,debt\n7,52000,1200\n', { ignoreColumns: ['id'] });
 * // { columns: ['income', 'debt'], rows: [[52000, 1200]], ignored: { id: ['7'] } }
 */
export function parseCsv(text: string, options: CsvOptions = {}, source = 'CSV'): CsvTable {
  const header = options.header ?? true;
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length === 0 || /["\r\n]/.test(delimiter)) {
    throw new LrpError('E_ARGUMENT', `readCsv: 'delimiter' must be a non-empty string without quotes or line breaks, got ${JSON.stringify(delimiter)}`);
  }
  const ignore = options.ignoreColumns ?? [];
  if (!Array.isArray(ignore) || !ignore.every((name) => typeof name === 'string')) {
    throw new LrpError('E_ARGUMENT', "readCsv: 'ignoreColumns' must be an array of column names");
  }

  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { delimiter, bom: true, trim: true, skip_empty_lines: true, relax_column_count: false, info: true }) as unknown as typeof records;
  } catch (error) {
    throw new LrpError('E_IO', `${source}: malformed CSV (${(error as Error).message})`, { file: source });
  }
  if (records.length === 0) return { columns: [], rows: [], ignored: {} };

  const width = records[0]!.record.length;
  const names = header ? records[0]!.record : Array.from({ length: width }, (_, i) => String(i));
  const unknown = ignore.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new LrpError('E_ARGUMENT', `readCsv: ignoreColumns names ${unknown.map((n) => `'${n}'`).join(', ')}, which ${source} does not have; its columns are ${names.join(', ')}`);
  }
  const kept = names.map((_, i) => i).filter((i) => !ignore.includes(names[i]!));
  const firstData = header ? 1 : 0;
  const rows = records.slice(firstData).map(({ record, info }, r) => kept.map((i) => {
    const cell = record[i]!;
    if (!NUMBER.test(cell)) {
      throw new LrpError('E_IO', `${source}: line ${info.lines} (data row ${r + 1}), column '${names[i]}': ${JSON.stringify(cell)} is not a number`, {
        file: source, line: info.lines, row: r + 1, column: names[i],
      });
    }
    return Number(cell);
  }));
  const ignored: Record<string, string[]> = {};
  for (const name of ignore) {
    const i = names.indexOf(name);
    ignored[name] = records.slice(firstData).map(({ record }) => record[i] ?? '');
  }
  return { columns: kept.map((i) => names[i]!), rows, ignored };
}
