// `lrp explain` in batch mode (--input-dir, --inputs, --output-dir) in-process with the real loader and engine, the
// `*`/`?` pattern matcher, and the progress bar (drawn only on a terminal). Needs the native addon.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { encodeNpy, readNpy, writeNpy } from '../../lib/io/npy';
import type { CliIo } from '../../lib/cli/command';
import { collectInputs, expandPattern, wildcardToRegExp } from '../../lib/cli/inputs';
import { runCli } from '../../lib/cli/run';
import { outputNames } from '../../lib/cli/batch';
import { values } from '../onnx/make-model';

const here = path.dirname(fileURLToPath(import.meta.url));
const CNN = path.join(here, '..', 'fixtures', 'refs', 'cnn', 'model.onnx');

async function lrp(argv: string[], extra: Partial<CliIo> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; }, ...extra });
  return { status, stdout, stderr };
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-cli-batch-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function grayPng(file: string, seed: number): void {
  const png = new PNG({ width: 16, height: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(values(256, seed).map((v) => Math.round((v + 1) * 127.5)));
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

/** 50 inputs, alternately a .npy sample and a 16×16 PNG, with a truncated PNG as input 25. */
function fiftyInputs(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < 50; i++) {
    const name = `in-${String(i).padStart(2, '0')}`;
    if (i % 2 === 0) {
      const file = path.join(dir, `${name}.npy`);
      writeNpy(file, { data: Float32Array.from(values(256, i + 10)), shape: [1, 1, 16, 16] });
      files.push(file);
    } else {
      const file = path.join(dir, `${name}.png`);
      grayPng(file, i + 10);
      if (i === 25) fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 40));
      files.push(file);
    }
  }
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an input');
  return files;
}

interface SummaryLine {
  file: string;
  target?: number;
  logit?: number;
  relevanceSum?: number;
  conservationError?: number;
  output?: string;
  heatmap?: string;
  error?: string;
  message?: string;
}

test('a batch of 50 inputs with a corrupt image in the middle: 49 outputs, 50 summary lines, one error, exit 1', async (t) => {
  const dir = tempDir(t);
  const inputs = path.join(dir, 'inputs');
  const files = fiftyInputs(inputs);
  const out = path.join(dir, 'out');
  const r = await lrp(['explain', CNN, '--input-dir', inputs, '--output-dir', out, '--batch-size', '8', '--heatmap']);
  t.is(r.status, 1);
  t.is(r.stderr.trimEnd().split('\n').length, 1, 'one line for the corrupt input and no progress bar off a terminal');
  t.regex(r.stderr, /^lrp: skipped .*in-25\.png: E_IO: .*corrupt or truncated PNG/);
  t.regex(r.stdout, /explained 49 of 50 inputs \(49 samples\), composite epsilon; 1 failed/);

  const lines = fs.readFileSync(path.join(out, 'summary.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SummaryLine);
  t.is(lines.length, 50);
  const failed = lines.filter((l) => l.error !== undefined);
  t.is(failed.length, 1);
  t.is(failed[0]!.error, 'E_IO');
  t.is(failed[0]!.file, files[25]);
  t.deepEqual(lines.map((l) => l.file).sort(), [...files].sort(), 'one line per input');

  const relevanceFiles = fs.readdirSync(out).filter((f) => f.endsWith('.relevance.npy'));
  t.is(relevanceFiles.length, 49);
  t.false(relevanceFiles.includes('in-25.relevance.npy'));
  t.is(fs.readdirSync(out).filter((f) => f.endsWith('.png')).length, 49);
  for (const line of lines.filter((l) => l.error === undefined)) {
    t.is(typeof line.target, 'number');
    t.true(Number.isFinite(line.conservationError) && Number.isFinite(line.relevanceSum), line.file);
    t.deepEqual(readNpy(line.output!).shape, [1, 1, 16, 16]);
  }
  const heatmap = PNG.sync.read(fs.readFileSync(path.join(out, 'in-01.png')));
  t.deepEqual([heatmap.width, heatmap.height], [16, 16]);

  // Each output equals explaining that input on its own, to float32 rounding: a batch of 4 or more may run its
  // convolutions on another kernel than one sample does (the direct one, summing in another order; ~1e-6 apart here).
  const single = path.join(dir, 'single.npy');
  const alone = await lrp(['explain', CNN, '-i', path.join(inputs, 'in-04.npy'), '-o', single]);
  t.is(alone.status, 0, alone.stderr);
  const a = readNpy(single).data as Float32Array, b = readNpy(path.join(out, 'in-04.relevance.npy')).data as Float32Array;
  t.true(a.every((v, i) => Math.abs(v - b[i]!) <= 1e-5 * (1 + Math.abs(v))));
});

test('--inputs with a pattern, a truncated .npy, --summary, --json and a fixed target', async (t) => {
  const dir = tempDir(t);
  const inputs = path.join(dir, 'data');
  fs.mkdirSync(inputs);
  for (let i = 0; i < 5; i++) writeNpy(path.join(inputs, `x${i}.npy`), { data: Float32Array.from(values(256, i)), shape: [1, 16, 16] });
  const bytes = encodeNpy({ data: Float32Array.from(values(256, 9)), shape: [1, 16, 16] });
  fs.writeFileSync(path.join(inputs, 'x2.npy'), bytes.subarray(0, bytes.length - 100));
  writeNpy(path.join(inputs, 'y0.npy'), { data: new Float32Array(256), shape: [1, 16, 16] });
  const summary = path.join(dir, 'summary.jsonl');
  const r = await lrp(['explain', CNN, '--inputs', path.join(inputs, 'x?.npy'), '--output-dir', path.join(dir, 'out'),
    '--summary', summary, '--target', '3', '--json']);
  t.is(r.status, 1);
  const report = JSON.parse(r.stdout);
  t.is(report.inputs, 5);
  t.is(report.explained, 4);
  t.is(report.failed[0].error, 'E_IO');
  t.regex(report.failed[0].file, /x2\.npy$/);
  const lines = fs.readFileSync(summary, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SummaryLine);
  t.is(lines.length, 5);
  t.true(lines.filter((l) => l.error === undefined).every((l) => l.target === 3));
  t.deepEqual(readNpy(path.join(dir, 'out', 'x0.relevance.npy')).shape, [1, 16, 16], 'a sample without the batch axis keeps it out');
});

test('batch mode usage errors', async (t) => {
  const dir = tempDir(t);
  const cases: [string[], RegExp][] = [
    [['--input-dir', dir], /missing required option --output-dir/],
    [['--inputs', 'a*.npy', '--output-dir', dir, '--heatmap', 'h.png'], /in batch mode --heatmap takes no file name/],
    [['--input-dir', dir, '--output-dir', dir, '--layers', dir], /--layers and --report explain one set of inputs/],
    [['--input-dir', dir, '--output-dir', dir, '--output', 'r.npy'], /--output names one file/],
    [['--input-dir', dir, '--output-dir', dir, '--target', 't.npy'], /--target FILE is not available in batch mode/],
    [['--input', 'x.npy', '-o', 'r.npy', '--batch-size', '4'], /--batch-size belongs to batch mode/],
    [['--input', 'x.npy', '--image', 'a.png'], /give one of --input, --image and --csv, not --input and --image/],
  ];
  for (const [argv, message] of cases) {
    const r = await lrp(['explain', CNN, ...argv]);
    t.is(r.status, 2, argv.join(' '));
    t.regex(r.stderr, message);
  }
  const empty = await lrp(['explain', CNN, '--input-dir', dir, '--output-dir', path.join(dir, 'out')]);
  t.is(empty.status, 1);
  t.regex(empty.stderr, /E_IO: no \.npy, image or CSV input files found in/);
  const none = await lrp(['explain', CNN, '--inputs', path.join(dir, '*.npy'), '--output-dir', path.join(dir, 'out')]);
  t.is(none.status, 1);
  t.regex(none.stderr, /E_IO: no \.npy, image or CSV file matches/);
});

test('the progress bar is drawn on a terminal only, and not with --quiet', async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 4; i++) writeNpy(path.join(dir, `x${i}.npy`), { data: Float32Array.from(values(256, i)), shape: [1, 1, 16, 16] });
  let drawn = '';
  const terminal = Object.assign(new (await import('node:stream')).Writable({
    write(chunk, _encoding, callback) { drawn += String(chunk); callback(); },
  }), { isTTY: true, columns: 80 });
  const argv = ['explain', CNN, '--input-dir', dir, '--output-dir', path.join(dir, 'out'), '--batch-size', '1'];
  const shown = await lrp(argv, { progressStream: terminal });
  t.is(shown.status, 0, shown.stderr);
  t.regex(drawn, /explaining \[.*\] \d\/4/);
  t.is(shown.stderr, '');

  drawn = '';
  const quiet = await lrp([...argv, '--quiet'], { progressStream: terminal });
  t.is(quiet.status, 0);
  t.is(drawn, '');
  const piped = await lrp(argv, { progressStream: Object.assign(terminal, { isTTY: false }) });
  t.is(piped.status, 0);
  t.is(drawn, '');
  t.is(piped.stderr, '');
});

test('patterns: * and ? within one path segment, hidden files left out, matches sorted', (t) => {
  t.true(wildcardToRegExp('x?.npy').test('x1.npy'));
  t.false(wildcardToRegExp('x?.npy').test('x12.npy'));
  t.true(wildcardToRegExp('*.n(p)y').test('a.n(p)y'), 'other characters are literal');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-glob-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['day-1', 'day-2', 'other']) {
    fs.mkdirSync(path.join(dir, sub));
    for (const name of ['b.npy', 'a.npy', '.hidden.npy', 'c.png']) fs.writeFileSync(path.join(dir, sub, name), '');
  }
  t.deepEqual(expandPattern(path.join(dir, 'day-?', '*.npy')),
    ['day-1/a.npy', 'day-1/b.npy', 'day-2/a.npy', 'day-2/b.npy'].map((f) => path.join(dir, f)));
  t.deepEqual(expandPattern(path.join(dir, 'other', '.*')), [path.join(dir, 'other', '.hidden.npy')]);
  t.deepEqual(expandPattern('no-wildcard.npy'), ['no-wildcard.npy']);
  t.deepEqual(collectInputs([path.join(dir, 'other', '*'), path.join(dir, 'other', 'a.npy')], []),
    ['a.npy', 'b.npy', 'c.png'].map((f) => path.join(dir, 'other', f)), 'no duplicates');
  t.deepEqual(outputNames(['a/x.npy', 'b/x.png', 'c/x.npy', 'y.npy']), ['x', 'x.png', 'x.npy', 'y']);
});
