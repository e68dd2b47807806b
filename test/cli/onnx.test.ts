// `lrp info` and `lrp explain` in-process with the real ONNX loader on tiny generated models: a dropped Softmax, an
// unsupported operator, and symbolic height/width taken from the input .npy. Needs the native addon.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readNpy, writeNpy } from '../../lib/io/npy';
import { runCli } from '../../lib/cli/run';
import { attr, floatTensor, makeModel, node, valueInfo } from '../onnx/make-model';

async function lrp(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } });
  return { status, stdout, stderr };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-cli-onnx-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

function save(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** x [N, 4] → Gemm(3) → Softmax. */
const softmaxModel = (): Uint8Array => makeModel({
  input: ['N', 4],
  output: 'p',
  nodes: [
    node('Gemm', ['x', 'w', 'b'], ['z'], [attr.int('transB', 1)], 'fc'),
    node('Softmax', ['z'], ['p'], [attr.int('axis', 1)], 'softmax'),
  ],
  initializers: [floatTensor('w', [3, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1]), floatTensor('b', [3], [0, 0, 0])],
});

test('info on a model with a trailing Softmax says the logits are explained', async (t) => {
  const model = save('softmax.onnx', softmaxModel());
  const r = await lrp(['info', model]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /producer lrp-node-test/);
  t.regex(r.stdout, /inputs: {2}x \[N, 4\]/);
  t.regex(r.stdout, /fc\s+dense\s+\[4\]\s+\[3\]\s+epsilon/);
  t.regex(r.stdout, /dropped Softmax 'softmax': .*; the logits before it are explained/);
});

test('explain on a model with a trailing Softmax explains the logit', async (t) => {
  const model = save('softmax2.onnx', softmaxModel());
  const input = path.join(dir, 'x4.npy');
  writeNpy(input, { data: new Float32Array([1, 2, 3, 4]), shape: [4] });
  const output = path.join(dir, 'r4.npy');
  const r = await lrp(['explain', model, '--input', input, '--output', output, '--json', '--epsilon', '0']);
  t.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.is(report.samples[0].target, 2);
  t.is(report.samples[0].logit, 7);
  t.true(Math.abs(report.samples[0].relevanceSum - 7) < 1e-5);
  const relevance = readNpy(output);
  t.deepEqual(relevance.shape, [4]);
  t.deepEqual([...relevance.data], [0, 0, 3, 4]);
});

test('info lists unsupported operators and exits 1', async (t) => {
  const model = save('unsupported.onnx', makeModel({
    input: ['N', 4],
    nodes: [node('Gemm', ['x', 'w', 'b'], ['z'], [attr.int('transB', 1)], 'fc'), node('Hardmax', ['z'], ['y'], [], 'weird')],
    initializers: [floatTensor('w', [3, 4], new Array(12).fill(0.5)), floatTensor('b', [3], [0, 0, 0])],
  }));
  const r = await lrp(['info', model]);
  t.is(r.status, 1);
  t.regex(r.stdout, /unsupported operators:\n {2}Hardmax 'weird'/);
  t.regex(r.stderr, /^lrp: E_UNSUPPORTED_OP: .*unsupported\.onnx: 1 unsupported operator: Hardmax 'weird'\n$/);
  const explain = await lrp(['explain', model, '--input', path.join(dir, 'none.npy'), '--output', path.join(dir, 'r.npy')]);
  t.is(explain.status, 1);
});

test('explain takes open height and width from the input .npy', async (t) => {
  const model = save('symbolic.onnx', makeModel({
    inputs: [valueInfo('x', ['N', 1, 'H', 'W'])],
    output: 'y',
    nodes: [
      node('Conv', ['x', 'cw', 'cb'], ['c'], [attr.ints('kernel_shape', [1, 1])], 'conv'),
      node('Relu', ['c'], ['r'], [], 'relu'),
      node('GlobalAveragePool', ['r'], ['g'], [], 'pool'),
      node('Flatten', ['g'], ['f'], [attr.int('axis', 1)], 'flatten'),
      node('Gemm', ['f', 'w', 'b'], ['y'], [attr.int('transB', 1)], 'fc'),
    ],
    initializers: [
      floatTensor('cw', [2, 1, 1, 1], [1, -1]), floatTensor('cb', [2], [0, 0]),
      floatTensor('w', [2, 2], [1, 0, 0, 1]), floatTensor('b', [2], [0, 0]),
    ],
  }));
  const input = path.join(dir, 'x-5x3.npy');
  writeNpy(input, { data: Float64Array.from({ length: 2 * 15 }, (_, i) => (i % 7) / 7), shape: [2, 1, 5, 3] });
  const output = path.join(dir, 'r-5x3.npy');
  const r = await lrp(['explain', model, '-i', input, '-o', output, '-t', '0']);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(readNpy(output).shape, [2, 1, 5, 3]);
  t.regex(r.stdout, /2 samples/);
  const info = await lrp(['info', model, '--input-shape', '1,4,4']);
  t.is(info.status, 0, info.stderr);
  t.regex(info.stdout, /conv\s+conv2d\s+\[1, 4, 4\]\s+\[2, 4, 4\]/);
});
