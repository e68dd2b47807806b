// Tests of the `lrp` command line run in-process: help, version, usage errors, and explain/info against a stand-in
// ONNX loader and model (so they need neither the native engine nor a real model).
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpy, readNpy, writeNpy } from '../../lib/io/npy';
import type { CliContext } from '../../lib/cli/command';
import type { OnnxModule } from '../../lib/cli/load-model';
import { packageVersion, runCli } from '../../lib/cli/run';
import type { Composite } from '../../lib/rules/composites';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODEL = path.join(here, '..', 'fixtures', 'refs', 'mlp', 'model.onnx');

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

async function lrp(argv: string[], context?: CliContext): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } }, context);
  return { status, stdout, stderr };
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface ExplainCall {
  input: { data: Float32Array | Float64Array; shape: number[] };
  options: { composite: Composite; target: unknown; threads?: number };
}

/** A stand-in for the ONNX loader whose model doubles the input as its relevance and records every call. */
function fakeOnnx(setup: {
  inputShape: number[];
  classes: number;
  declaredInput?: (number | string)[];
  dropped?: { name: string; opType: string; reason: string }[];
  unsupported?: { name: string; opType: string; reason: string }[];
}) {
  const explainCalls: ExplainCall[] = [];
  const loadOptions: unknown[] = [];
  let disposed = 0;
  const size = setup.inputShape.reduce((a, b) => a * b, 1);
  const classes = setup.classes;
  const model = {
    inputShape: setup.inputShape,
    outputShape: [classes],
    async explain(input: ExplainCall['input'], options: ExplainCall['options']) {
      explainCalls.push({ input, options });
      const batch = input.shape[0];
      const relevance = Float32Array.from(input.data, (v) => v * 2);
      const logits = Float32Array.from({ length: batch * classes }, (_, i) => Math.floor(i / classes) + (i % classes) / 10);
      const targets = new Int32Array(batch);
      const target = options.target as unknown;
      for (let s = 0; s < batch; s++) {
        if (target === 'argmax') targets[s] = classes - 1;
        else if (typeof target === 'number') targets[s] = target;
        else {
          const t = target as { data: ArrayLike<number | bigint>; shape: number[] };
          targets[s] = t.shape.length === 1 ? Number(t.data[s]) : -1;
        }
      }
      const conservation = Array.from({ length: batch }, (_, s) => {
        let inputRelevance = 0;
        for (let i = s * size; i < (s + 1) * size; i++) inputRelevance += relevance[i];
        return { sample: s, outputRelevance: 1, inputRelevance, absorbed: 1 - inputRelevance, absorbedByLayer: [],
          relativeError: Math.abs(inputRelevance - 1) };
      });
      return { relevance, shape: [batch, ...setup.inputShape], logits, logitsShape: [batch, classes], targets, layers: [],
        conservation, composite: options.composite.name };
    },
    describe(composite: Composite) {
      return [
        { index: 0, name: '/0/Gemm', type: 'dense', inputs: ['input'], inputShapes: [setup.inputShape], outputShape: [8], parameters: 9,
          rule: `rule-of-${composite.name}`, ruleSpec: {} },
        { index: 1, name: '/1/Conv', type: 'conv2d', inputs: ['/0/Gemm'], inputShapes: [[8]], outputShape: [classes], parameters: 9,
          rule: 'epsilon(ε=1e-6)', ruleSpec: {}, mergedBatchNorm: '/2/BatchNorm' },
      ];
    },
    dispose() { disposed++; },
  };
  const summary = {
    irVersion: 8, opset: 13, producer: 'pytorch 1.13',
    inputs: [{ name: 'input', shape: setup.declaredInput ?? ['batch', ...setup.inputShape] }],
    outputs: [{ name: 'logits', shape: ['batch', classes] }],
    nodes: [], unsupported: setup.unsupported ?? [], dropped: setup.dropped ?? [],
  };
  const onnx = {
    async loadOnnx(_bytes: Uint8Array, options?: unknown) { loadOptions.push(options); return model; },
    async inspectOnnx() { return summary; },
  };
  const context: CliContext = { importOnnx: async () => onnx as unknown as OnnxModule };
  return { context, explainCalls, loadOptions, disposed: () => disposed };
}

const noOnnx: CliContext = { importOnnx: async () => { throw new Error('the ONNX loader must not be loaded here'); } };

test('--help and -h print help on stdout and exit 0, for lrp and every command', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await lrp(argv, noOnnx);
    t.is(r.status, 0);
    t.regex(r.stdout, /Usage: lrp <command>/);
    t.regex(r.stdout, /explain .*\n.*info/);
    t.is(r.stderr, '');
  }
  for (const argv of [['explain', '--help'], ['explain', '-h'], ['help', 'explain'], ['explain', 'model.onnx', '--bogus', '--help']]) {
    const r = await lrp(argv, noOnnx);
    if (argv.includes('--bogus')) {
      t.is(r.status, 2, 'an unknown option is reported even next to --help');
      continue;
    }
    t.is(r.status, 0, argv.join(' '));
    t.regex(r.stdout, /Usage: lrp explain MODEL\.onnx --input X\.npy --output R\.npy/);
    t.regex(r.stdout, /epsilon-gamma-box/);
  }
  for (const argv of [['info', '--help'], ['info', '-h'], ['help', 'info']]) {
    const r = await lrp(argv, noOnnx);
    t.is(r.status, 0);
    t.regex(r.stdout, /Usage: lrp info MODEL\.onnx/);
  }
});

test('--version prints the package version', async (t) => {
  const version = JSON.parse(fs.readFileSync(path.join(here, '..', '..', 'package.json'), 'utf8')).version as string;
  t.is(packageVersion(), version);
  const r = await lrp(['--version'], noOnnx);
  t.is(r.status, 0);
  t.is(r.stdout, `${version}\n`);
});

test('usage errors exit 2 with one line on stderr naming E_USAGE', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /Usage: lrp <command>/],
    [['frobnicate'], /^lrp: E_USAGE: unknown command 'frobnicate'; commands: explain, info/],
    [['--frobnicate'], /^lrp: E_USAGE: unknown option '--frobnicate'/],
    [['explain', MODEL, '--input', 'x.npy', '--output', 'r.npy', '--bogus'], /^lrp: E_USAGE: unknown option '--bogus' for 'lrp explain'; see 'lrp explain --help'/],
    [['explain', '--input', 'x.npy', '--output', 'r.npy'], /missing MODEL\.onnx/],
    [['explain', MODEL, 'extra', '--input', 'x.npy', '--output', 'r.npy'], /unexpected argument 'extra'/],
    [['explain', MODEL, '--output', 'r.npy'], /missing required option --input/],
    [['explain', MODEL, '--input', 'x.npy'], /missing required option --output/],
    [['explain', MODEL, '--input', 'x.npy', '--output'], /option '--output' needs a value/],
    [['explain', MODEL, '--input', 'x.npy', '--output', 'r.npy', '--json=yes'], /option '--json' takes no value/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--epsilon', 'abc'], /--epsilon expects a number, got 'abc'/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--epsilon', '1e-2x'], /--epsilon expects a number/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--gamma', 'Infinity'], /--gamma expects a number/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--threads', '0'], /--threads expects an integer in 1…1024, got '0'/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--threads', '2.5'], /--threads expects an integer/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--target', '-1'], /--target expects argmax, a class index/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--target', '1.5'], /--target expects argmax, a class index/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--composite', 'nope'], /--composite nope: unknown composite 'nope'; known: epsilon, epsilon-plus/],
    [['explain', MODEL, '-i', 'x.npy', '-o', 'r.npy', '--composite', 'epsilon-gamma-box'], /epsilon-gamma-box.*give --low and --high/],
    [['info'], /missing MODEL\.onnx/],
    [['info', MODEL, '--input-shape', '3,a'], /--input-shape expects positive integers/],
    [['info', MODEL, '--output', 'r.npy'], /unknown option '--output' for 'lrp info'/],
    [['help', 'nope'], /unknown command 'nope'/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await lrp(argv, noOnnx);
    t.is(r.status, 2, argv.join(' '));
    t.regex(r.stderr, pattern, argv.join(' '));
    if (argv.length > 0) {
      t.is(r.stderr.trimEnd().split('\n').length, 1, `one line for ${argv.join(' ')}`);
      t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
    }
    t.is(r.stdout, '');
  }
});

test('other errors exit 1 with one line naming the code; --verbose adds the stack trace', async (t) => {
  const dir = tempDir(t);
  const missing = path.join(dir, 'nope.npy');
  const r = await lrp(['explain', MODEL, '--input', missing, '--output', path.join(dir, 'r.npy')], noOnnx);
  t.is(r.status, 1);
  t.regex(r.stderr, /^lrp: E_IO: .*nope\.npy: cannot read/);
  t.is(r.stderr.trimEnd().split('\n').length, 1);

  const verbose = await lrp(['explain', MODEL, '--input', missing, '--output', path.join(dir, 'r.npy'), '--verbose'], noOnnx);
  t.is(verbose.status, 1);
  t.regex(verbose.stderr, /^lrp: E_IO: /);
  t.regex(verbose.stderr, /\n\s+at /);

  const ints = path.join(dir, 'ints.npy');
  writeNpy(ints, { data: new Int32Array(20), shape: [1, 20] });
  const fake = fakeOnnx({ inputShape: [20], classes: 5 });
  const wrongType = await lrp(['explain', MODEL, '--input', ints, '--output', path.join(dir, 'r.npy')], fake.context);
  t.is(wrongType.status, 1);
  t.regex(wrongType.stderr, /^lrp: E_INPUT: .*ints\.npy: the input must be float32 or float64, got int32/);

  const noModel = await lrp(['info', path.join(dir, 'none.onnx')], noOnnx);
  t.is(noModel.status, 1);
  t.regex(noModel.stderr, /^lrp: E_IO: .*none\.onnx: cannot read the model/);

  const broken: CliContext = { importOnnx: async () => { throw new TypeError('boom'); } };
  const internal = await lrp(['info', MODEL], broken);
  t.is(internal.status, 1);
  t.is(internal.stderr, 'lrp: internal error: boom (run with --verbose for the stack trace)\n');
});

test('explain writes the relevance of a batch as float32 with the input shape and prints a summary', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  const output = path.join(dir, 'r.npy');
  const data = Float64Array.from({ length: 3 * 4 }, (_, i) => i / 8);
  writeNpy(input, { data, shape: [3, 4] });
  const fake = fakeOnnx({ inputShape: [4], classes: 3 });
  const r = await lrp(['explain', MODEL, '--input', input, '--output', output, '--composite', 'epsilon_plus_flat',
    '--epsilon', '0.01', '--stabilizer', '1e-6', '--threads', '2'], fake.context);
  t.is(r.stderr, '');
  t.is(r.status, 0);
  const written = readNpy(output);
  t.is(written.dtype, 'float32');
  t.deepEqual(written.shape, [3, 4]);
  t.deepEqual([...written.data], [...data].map((v) => v * 2));
  t.is(fake.explainCalls.length, 1);
  const call = fake.explainCalls[0];
  t.deepEqual(call.input.shape, [3, 4]);
  t.is(call.options.composite.name, 'epsilon-plus-flat');
  t.is(call.options.target, 'argmax');
  t.is(call.options.threads, 2);
  t.is(fake.disposed(), 1);
  t.deepEqual(fake.loadOptions, [undefined], 'no inputShape for a model with fixed per-sample dimensions');
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0], /model\.onnx: 3 samples, composite epsilon-plus-flat \(epsilon=0\.01, stabilizer=1e-6\)/);
  t.regex(lines[1], /^sample\s+target\s+logit\s+relevance sum\s+conservation error$/);
  t.regex(lines[2], /^0\s+2\s+0\.2\s+1\.5\s+0\.5$/);
  t.regex(lines[4], /^2\s+2\s+2\.2\s+/);
  t.regex(lines[5], /wrote float32 \[3, 4\] to .*r\.npy/);
});

test('explain --json prints one JSON document', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  writeNpy(input, { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] });
  const fake = fakeOnnx({ inputShape: [2], classes: 2 });
  const r = await lrp(['explain', MODEL, '-i', input, '-o', path.join(dir, 'r.npy'), '--target', '0', '--json',
    '--composite', 'epsilon-gamma-box', '--low', '-1', '--high', '1'], fake.context);
  t.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.is(report.command, 'explain');
  t.is(report.composite, 'epsilon-gamma-box');
  t.deepEqual(report.params, { low: -1, high: 1 });
  t.deepEqual(report.shape, [2, 2]);
  t.is(report.samples.length, 2);
  t.deepEqual(report.samples[1], { sample: 1, target: 0, logit: 1, outputRelevance: 1, relevanceSum: 14, relativeError: 13, logits: [1, 1.100000023841858] });
  t.is(fake.explainCalls[0].options.target, 0);
});

test('negative option values: --low -1, --low=-1, --high -.5, -c with a value', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  writeNpy(input, { data: new Float32Array([1, 2]), shape: [1, 2] });
  for (const argv of [['--low', '-1', '--high', '-.5'], ['--low=-1', '--high=-0.5'], ['--low', '-1e0', '--high', '-5e-1']]) {
    const fake = fakeOnnx({ inputShape: [2], classes: 2 });
    const r = await lrp(['explain', MODEL, '-i', input, '-o', path.join(dir, 'r.npy'), '-c', 'epsilon-gamma-box', ...argv], fake.context);
    t.is(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
    const rule = fake.explainCalls[0].options.composite.first?.rule as unknown as { low: unknown; high: unknown };
    t.deepEqual([rule.low, rule.high], [-1, -0.5], argv.join(' '));
  }
});

test('a single sample without the batch axis is explained as a batch of one and written with its own shape', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  const output = path.join(dir, 'r.npy');
  writeNpy(input, { data: Float32Array.from({ length: 12 }, (_, i) => i), shape: [3, 2, 2] });
  const fake = fakeOnnx({ inputShape: [3, 2, 2], classes: 4 });
  const r = await lrp(['explain', MODEL, '-i', input, '-o', output], fake.context);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(fake.explainCalls[0].input.shape, [1, 3, 2, 2]);
  const written = readNpy(output);
  t.deepEqual(written.shape, [3, 2, 2]);
  t.is(written.data[11], 22);
});

test('targets: a class index, an int64 .npy, a float output-relevance .npy, and their shape checks', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  writeNpy(input, { data: new Float32Array(6), shape: [2, 3] });
  const run = async (target: string, single = false) => {
    const fake = fakeOnnx({ inputShape: [3], classes: 4 });
    const file = single ? path.join(dir, 'one.npy') : input;
    if (single) writeNpy(file, { data: new Float32Array(3), shape: [3] });
    const r = await lrp(['explain', MODEL, '-i', file, '-o', path.join(dir, 'r.npy'), '--target', target, '--json'], fake.context);
    return { r, target: fake.explainCalls[0]?.options.target as { data: ArrayLike<unknown>; shape: number[] } | number | string };
  };
  let out = await run('3');
  t.is(out.target, 3);
  out = await run('argmax');
  t.is(out.target, 'argmax');

  const i64 = path.join(dir, 't64.npy');
  writeNpy(i64, { data: BigInt64Array.from([1n, 2n]), shape: [2] });
  out = await run(i64);
  t.is(out.r.status, 0, out.r.stderr);
  t.deepEqual((out.target as { shape: number[] }).shape, [2]);
  t.deepEqual(JSON.parse(out.r.stdout).samples.map((s: { target: number }) => s.target), [1, 2]);

  const relevance = path.join(dir, 'rel.npy');
  writeNpy(relevance, { data: new Float64Array(8).fill(0.5), shape: [2, 4] });
  out = await run(relevance);
  t.is(out.r.status, 0, out.r.stderr);
  t.deepEqual((out.target as { shape: number[] }).shape, [2, 4]);
  t.deepEqual(JSON.parse(out.r.stdout).samples.map((s: { target: unknown; logit: unknown }) => [s.target, s.logit]), [[null, null], [null, null]]);

  const scalar = path.join(dir, 'scalar.npy');
  writeNpy(scalar, { data: new Int32Array([2]), shape: [] });
  out = await run(scalar, true);
  t.is(out.r.status, 0, out.r.stderr);
  t.deepEqual((out.target as { shape: number[] }).shape, [1]);
  const vector = path.join(dir, 'vector.npy');
  writeNpy(vector, { data: new Float32Array(4), shape: [4] });
  out = await run(vector, true);
  t.is(out.r.status, 0, out.r.stderr);
  t.deepEqual((out.target as { shape: number[] }).shape, [1, 4]);

  out = await run(vector);
  t.is(out.r.status, 1);
  t.regex(out.r.stderr, /^lrp: E_TARGET: .*vector\.npy: a float32 target is the output relevance and must have shape \[N, classes\]/);
  const matrix = path.join(dir, 'matrix.npy');
  writeNpy(matrix, { data: new Int32Array(4), shape: [2, 2] });
  out = await run(matrix);
  t.is(out.r.status, 1);
  t.regex(out.r.stderr, /E_TARGET: .*class targets must have shape \[N\], got \[2, 2\]/);
  out = await run(path.join(dir, 'missing-target.npy'));
  t.is(out.r.status, 1);
  t.regex(out.r.stderr, /E_IO: .*missing-target\.npy/);
});

test('explain passes the input shape to the loader when the model file leaves per-sample dimensions open', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  writeNpy(input, { data: new Float32Array(2 * 3 * 4 * 5), shape: [2, 3, 4, 5] });
  const fake = fakeOnnx({ inputShape: [3, 4, 5], classes: 2, declaredInput: ['N', 3, 'H', 'W'] });
  const r = await lrp(['explain', MODEL, '-i', input, '-o', path.join(dir, 'r.npy')], fake.context);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(fake.loadOptions, [{ inputShape: [3, 4, 5] }]);
});

test('an output file that cannot be written is E_IO, exit 1', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'x.npy');
  fs.writeFileSync(input, encodeNpy({ data: new Float32Array(2), shape: [1, 2] }));
  const fake = fakeOnnx({ inputShape: [2], classes: 2 });
  const r = await lrp(['explain', MODEL, '-i', input, '-o', path.join(dir, 'no', 'such', 'dir', 'r.npy')], fake.context);
  t.is(r.status, 1);
  t.regex(r.stderr, /^lrp: E_IO: .*r\.npy: cannot write/);
  t.is(fake.disposed(), 1, 'the model is disposed after an error too');
});

test('info lists inputs, outputs, layers with their rules, and the dropped Softmax', async (t) => {
  const fake = fakeOnnx({ inputShape: [20], classes: 5, dropped: [{ name: '/Softmax', opType: 'Softmax', reason: 'trailing Softmax' }] });
  const r = await lrp(['info', MODEL, '--composite', 'zplus'], fake.context);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /model\.onnx: ONNX IR 8, opset 13, producer pytorch 1\.13/);
  t.regex(r.stdout, /inputs: {2}input \[batch, 20\]/);
  t.regex(r.stdout, /outputs: logits \[batch, 5\]/);
  t.regex(r.stdout, /layers \(composite zplus\):/);
  t.regex(r.stdout, /index\s+name\s+type\s+input shape\s+output shape\s+rule/);
  t.regex(r.stdout, /0\s+\/0\/Gemm\s+dense\s+\[20\]\s+\[8\]\s+rule-of-zplus/);
  t.regex(r.stdout, /1\s+\/1\/Conv\s+conv2d\s+\[8\]\s+\[5\]\s+epsilon\(ε=1e-6\)\s+merged BatchNorm '\/2\/BatchNorm'/);
  t.regex(r.stdout, /dropped Softmax '\/Softmax': trailing Softmax; the logits before it are explained/);
  t.is(fake.disposed(), 1);

  const json = await lrp(['info', MODEL, '--json'], fake.context);
  t.is(json.status, 0);
  const report = JSON.parse(json.stdout);
  t.is(report.composite, 'epsilon');
  t.is(report.layers.length, 2);
  t.deepEqual(report.layers[1], { index: 1, name: '/1/Conv', type: 'conv2d', inputShapes: [[8]], outputShape: [5], rule: 'epsilon(ε=1e-6)', mergedBatchNorm: '/2/BatchNorm' });
  t.is(report.dropped[0].opType, 'Softmax');
});

test('info lists unsupported operators and exits 1', async (t) => {
  const fake = fakeOnnx({ inputShape: [20], classes: 5, unsupported: [{ name: '/lstm/LSTM', opType: 'LSTM', reason: 'recurrent layers are not supported' }, { name: '/If', opType: 'If', reason: '' }] });
  const r = await lrp(['info', MODEL], fake.context);
  t.is(r.status, 1);
  t.regex(r.stdout, /unsupported operators:\n {2}LSTM '\/lstm\/LSTM': recurrent layers are not supported\n {2}If '\/If'\n/);
  t.is(r.stderr, `lrp: E_UNSUPPORTED_OP: ${MODEL}: 2 unsupported operators: LSTM '/lstm/LSTM', If '/If'\n`);
  t.deepEqual(fake.loadOptions, [], 'the model is not loaded');
  const json = await lrp(['info', MODEL, '--json'], fake.context);
  t.is(json.status, 1);
  t.is(JSON.parse(json.stdout).unsupported.length, 2);
});
