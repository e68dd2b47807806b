// Tests of the CSV reader and of feature rankings and their text report.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLrpError } from '../../lib/errors';
import { parseCsv, readCsv } from '../../lib/io/csv';
import { formatFeatureReport, rankFeatures } from '../../lib/io/features';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => path.join(here, '..', 'fixtures', 'csv', name);

function expectCode(t: ExecutionContext, fn: () => unknown, code: string, pattern?: RegExp): void {
  const error = t.throws(fn);
  t.true(isLrpError(error), `expected an LrpError, got ${String(error)}`);
  t.is((error as { code?: string }).code, code);
  if (pattern) t.regex(error!.message, pattern);
}

test('reads a numeric CSV with a header, dropping ignored columns and empty lines', (t) => {
  const table = readCsv(fixture('credit.csv'), { ignoreColumns: ['id'] });
  t.deepEqual(table.columns, ['income', 'debt', 'missed_payments', 'age']);
  t.deepEqual(table.rows, [[52000, 1200, 0, 34], [31000, 8800, 3, 51], [75000, 0, 1, 29]]);
  t.deepEqual(Object.keys(table.ignored), ['id']);
  t.deepEqual(table.ignored.id, ['101', '102', '103']);
  t.deepEqual(readCsv(fixture('credit.csv')).columns, ['id', 'income', 'debt', 'missed_payments', 'age']);
});

test('reads text without a header, other delimiters, signs, exponents, spaces and a byte-order mark', (t) => {
  const table = parseCsv('\uFEFF1; -2.5 ;+3e2\n.5;4.;-1E-3\n', { header: false, delimiter: ';' });
  t.deepEqual(table.columns, ['0', '1', '2']);
  t.deepEqual(table.rows, [[1, -2.5, 300], [0.5, 4, -0.001]]);
  t.deepEqual(parseCsv('a,"b"\n"1",2\n'), { columns: ['a', 'b'], rows: [[1, 2]], ignored: {} });
  t.deepEqual(parseCsv(''), { columns: [], rows: [], ignored: {} });
  t.deepEqual(parseCsv('x,y\n'), { columns: ['x', 'y'], rows: [], ignored: {} });
  t.deepEqual(parseCsv('0,1\n5,6\n', { header: false, ignoreColumns: ['0'] }), { columns: ['1'], rows: [[1], [6]], ignored: { 0: ['0', '5'] } });
});

test('a non-numeric cell is E_IO naming its line, row and column', (t) => {
  expectCode(t, () => readCsv(fixture('semicolon_bad.csv'), { delimiter: ';' }), 'E_IO', /semicolon_bad\.csv: line 2 \(data row 1\), column 'debt': "x" is not a number/);
  expectCode(t, () => parseCsv('a,b\n1,2\n\n3,\n'), 'E_IO', /line 4 \(data row 2\), column 'b': "" is not a number/);
  for (const cell of ['NaN', 'Infinity', '0x10', '1,5', '1e', '--1', 'one']) {
    expectCode(t, () => parseCsv(`a\n"${cell}"\n`), 'E_IO', /is not a number/);
  }
  const error = t.throws(() => parseCsv('a,b\n1,two\n'));
  t.like((error as { details?: unknown }).details, { line: 2, row: 1, column: 'b' });
});

test('malformed CSV, missing files and bad options are refused', (t) => {
  expectCode(t, () => parseCsv('a,b\n1,2,3\n'), 'E_IO', /malformed CSV/);
  expectCode(t, () => parseCsv('a,b\n"1,2\n'), 'E_IO', /malformed CSV/);
  expectCode(t, () => readCsv(fixture('missing.csv')), 'E_IO', /missing\.csv: cannot read/);
  expectCode(t, () => parseCsv('a,b\n1,2\n', { ignoreColumns: ['id'] }), 'E_ARGUMENT', /'id'.*columns are a, b/);
  expectCode(t, () => parseCsv('a\n1\n', { delimiter: '' }), 'E_ARGUMENT', /delimiter/);
});

test('rankFeatures splits relevance by sign and sorts each side by magnitude', (t) => {
  const names = ['income', 'debt', 'missed payments', 'age', 'tenure'];
  const relevance = new Float32Array([2.5, -0.5, -4, 0, 1]);
  const ranking = rankFeatures(relevance, names, { values: [52000, 1200, 3, 34, 7] });
  t.deepEqual(ranking.positive, [
    { name: 'income', value: 52000, relevance: 2.5 },
    { name: 'tenure', value: 7, relevance: 1 },
  ]);
  t.deepEqual(ranking.negative, [
    { name: 'missed payments', value: 3, relevance: -4 },
    { name: 'debt', value: 1200, relevance: -0.5 },
  ]);
  const top = rankFeatures(relevance, names, { top: 1 });
  t.deepEqual(top, {
    positive: [{ name: 'income', relevance: 2.5 }],
    negative: [{ name: 'missed payments', relevance: -4 }],
  });
  t.deepEqual(rankFeatures([0, 0], ['a', 'b']), { positive: [], negative: [] });

  expectCode(t, () => rankFeatures(relevance, names.slice(1)), 'E_SHAPE', /4 names for 5/);
  expectCode(t, () => rankFeatures(relevance, names, { values: [1] }), 'E_SHAPE', /1 values for 5/);
  expectCode(t, () => rankFeatures(relevance, names, { top: -1 }), 'E_ARGUMENT', /top/);
  expectCode(t, () => rankFeatures([NaN], ['a']), 'E_NON_FINITE', /'a'/);
});

test('formatFeatureReport writes one aligned line per feature', (t) => {
  const ranking = rankFeatures(
    new Float64Array([2.3456, -4.1, 0.000123456]), ['income', 'missed payments', 'age'], { values: [52000, 3, 34.25] },
  );
  t.is(formatFeatureReport(ranking), [
    'For (positive relevance):',
    '  income               +2.35   (value 52000)',
    '  age              +0.000123   (value 34.3)',
    'Against (negative relevance):',
    '  missed payments       -4.1   (value 3)',
    '',
  ].join('\n'));
  t.is(formatFeatureReport({ positive: [], negative: [{ name: 'x', relevance: -1 }] }, { digits: 2 }), [
    'For (positive relevance):',
    '  (none)',
    'Against (negative relevance):',
    '  x  -1',
    '',
  ].join('\n'));
  expectCode(t, () => formatFeatureReport({ positive: [], negative: [] }, { digits: 0 }), 'E_ARGUMENT', /digits/);
});
