// End-to-end tests of the `lrp` executable: exit statuses of the real process, and `lrp explain` on every golden
// case of test/fixtures/refs (zennit 0.5.1 references) with the metric and tolerance of /work/shared/refs/check.mjs.
// The golden checks need the native engine and the ONNX loader; they run against dist/cli/main.js when it is built
// (`npm run build:ts`), else against lib/cli/main.ts through tsx.
import test from 'ava';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../../lib/io/npy';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..', '..');
const refs = path.join(here, '..', 'fixtures', 'refs');
const built = path.join(root, 'dist', 'cli', 'main.js');
const entry = fs.existsSync(built) ? [built] : ['--import', 'tsx', path.join(root, 'lib', 'cli', 'main.ts')];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

// The engine uses every core per call; a few processes at a time keep the machine responsive.
let running = 0;
const waiting: (() => void)[] = [];
const MAX_PROCESSES = Math.max(2, Math.min(4, os.cpus().length));

async function lrp(argv: string[]): Promise<Run> {
  if (running >= MAX_PROCESSES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await new Promise<Run>((resolve) => {
      execFile(process.execPath, [...entry, ...argv], { cwd: root, timeout: 120_000 }, (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ status, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-golden-'));
test.after.always(() => fs.rmSync(work, { recursive: true, force: true }));

test('the executable starts with a node shebang', (t) => {
  t.true(fs.readFileSync(path.join(root, 'lib', 'cli', 'main.ts'), 'utf8').startsWith('#!/usr/bin/env node\n'));
  if (fs.existsSync(built)) t.true(fs.readFileSync(built, 'utf8').startsWith('#!/usr/bin/env node\n'));
});

test('the process exits 0 on --version, 2 on a usage error, 1 on other errors, one line on stderr', async (t) => {
  const version = await lrp(['--version']);
  t.is(version.status, 0);
  t.regex(version.stdout, /^\d+\.\d+\.\d+/);
  const usage = await lrp(['explain', 'm.onnx', '--input', 'x.npy', '--output', 'r.npy', '--nope']);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /^lrp: E_USAGE: unknown option '--nope'/);
  t.is(usage.stderr.trimEnd().split('\n').length, 1);
  const io = await lrp(['explain', path.join(refs, 'mlp', 'model.onnx'), '--input', path.join(work, 'none.npy'), '--output', path.join(work, 'r.npy')]);
  t.is(io.status, 1);
  t.regex(io.stderr, /^lrp: E_IO: .*none\.npy/);
  t.is(io.stderr.trimEnd().split('\n').length, 1);
});

/** check.mjs's metric: the worst over samples of max|R - R_ref| / max|R_ref|. */
function relativeError(out: { data: ArrayLike<number | bigint>; shape: number[] }, ref: { data: ArrayLike<number | bigint>; shape: number[] }): number {
  const n = ref.shape[0];
  const per = ref.data.length / n;
  let worst = 0;
  for (let s = 0; s < n; s++) {
    let diff = 0;
    let scale = 0;
    for (let i = s * per; i < (s + 1) * per; i++) {
      const d = Math.abs(Number(out.data[i]) - Number(ref.data[i]));
      if (!(d <= diff)) diff = d;
      scale = Math.max(scale, Math.abs(Number(ref.data[i])));
    }
    if (Number.isNaN(diff)) return NaN;
    worst = Math.max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

interface Attribution {
  composite: string;
  params: Record<string, number>;
  relevance: string;
  tolerance: number;
}
interface GoldenCase {
  name: string;
  model: string;
  input: string;
  target: string;
  attributions: Attribution[];
}

const cases = JSON.parse(fs.readFileSync(path.join(refs, 'cases.json'), 'utf8')) as GoldenCase[];
for (const c of cases) {
  for (const a of c.attributions) {
    test(`golden ${c.name} ${a.composite} within ${a.tolerance.toExponential(2)}`, async (t) => {
      const output = path.join(work, `${c.name}__${a.composite}.npy`);
      const params = Object.entries(a.params).flatMap(([key, value]) => [`--${key}`, String(value)]);
      const r = await lrp(['explain', path.join(refs, c.model), '--input', path.join(refs, c.input), '--target', path.join(refs, c.target),
        '--composite', a.composite, ...params, '--output', output]);
      t.is(r.status, 0, r.stderr);
      if (r.status !== 0) return;
      const out = readNpy(output);
      const ref = readNpy(path.join(refs, a.relevance));
      t.is(out.dtype, 'float32');
      t.deepEqual(out.shape, ref.shape);
      const error = relativeError(out, ref);
      t.log(`err=${error.toExponential(2)}`);
      t.true(error <= a.tolerance, `relative error ${error} > tolerance ${a.tolerance}`);
    });
  }
}

test('explain: one float64 sample without the batch axis and a class index matches the golden for that sample', async (t) => {
  const c = cases.find((x) => x.name === 'mlp')!;
  const a = c.attributions.find((x) => x.composite === 'epsilon')!;
  const input = readNpy(path.join(refs, c.input));
  const target = Number(readNpy(path.join(refs, c.target)).data[0]);
  const per = input.data.length / input.shape[0];
  const single = path.join(work, 'single.npy');
  writeNpy(single, { data: Float64Array.from(input.data.subarray(0, per) as Float32Array), shape: input.shape.slice(1) });
  const output = path.join(work, 'single-out.npy');
  const params = Object.entries(a.params).flatMap(([key, value]) => [`--${key}`, String(value)]);
  const r = await lrp(['explain', path.join(refs, c.model), '-i', single, '-o', output, '-t', String(target), '-c', 'epsilon', ...params, '--json']);
  t.is(r.status, 0, r.stderr);
  if (r.status !== 0) return;
  const out = readNpy(output);
  t.deepEqual(out.shape, input.shape.slice(1));
  const ref = readNpy(path.join(refs, a.relevance));
  const error = relativeError({ data: out.data, shape: [1, ...out.shape] }, { data: ref.data.subarray(0, per) as Float64Array, shape: [1, per] });
  t.true(error <= a.tolerance, `relative error ${error}`);
  const report = JSON.parse(r.stdout) as { samples: { target: number; relevanceSum: number; logit: number }[] };
  t.is(report.samples.length, 1);
  t.is(report.samples[0].target, target);
  let sum = 0;
  for (const v of out.data as Float32Array) sum += v;
  t.true(Math.abs(sum - report.samples[0].relevanceSum) <= 1e-4 * Math.max(1, Math.abs(sum)));
  const logits = readNpy(path.join(refs, 'mlp', 'logits.npy'));
  t.true(Math.abs(report.samples[0].logit - Number(logits.data[target])) < 1e-4);
});

test('info lists every layer of a golden model with its rule, and exits 0', async (t) => {
  const r = await lrp(['info', path.join(refs, 'resblock', 'model.onnx'), '--composite', 'epsilon-plus-flat', '--json']);
  t.is(r.status, 0, r.stderr);
  if (r.status !== 0) return;
  const report = JSON.parse(r.stdout) as { layers: { type: string; rule: string }[]; unsupported: unknown[] };
  t.deepEqual(report.unsupported, []);
  const types = report.layers.map((l) => l.type);
  t.true(types.includes('conv2d') && types.includes('dense') && types.includes('add'), types.join(', '));
  t.true(report.layers.every((l) => typeof l.rule === 'string' && l.rule.length > 0));
  const text = await lrp(['info', path.join(refs, 'cnn', 'model.onnx')]);
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout, /layers \(composite epsilon\):/);
});
