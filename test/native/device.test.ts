// Device selection: 'cpu' and 'auto' run here (no CUDA build, no GPU); 'cuda' fails with E_DEVICE saying what is
// missing, never falling back silently.
import test from 'ava';
import { join } from 'node:path';
import { dense, isLrpError, loadOnnx, relu, sequential } from '../../lib/index';
import { runCli } from '../../lib/cli/run';

const weights = { data: Float32Array.from([1, -2, 0.5, 3, -1, 2]), shape: [2, 3] };
const layers = () => [dense({ weight: weights, bias: [0.1, -0.2] }), relu()];

test('device cpu (the default) and auto run on the CPU backend here', async (t) => {
  const cpu = sequential({ inputShape: [3] }, layers());
  t.is(cpu.backend, 'cpu');
  const auto = sequential({ inputShape: [3], device: 'auto' }, layers());
  t.is(auto.backend, 'cpu');
  const input = Float32Array.from([1, 2, 3]);
  t.deepEqual((await auto.explain(input)).relevance, (await cpu.explain(input)).relevance);
});

test("device 'cuda' without a CUDA build fails with E_DEVICE naming what is missing", (t) => {
  const error = t.throws(() => sequential({ inputShape: [3], device: 'cuda' }, layers()));
  t.true(isLrpError(error));
  t.is((error as { code: string }).code, 'E_DEVICE');
  t.regex(error!.message, /built without CUDA|no NVIDIA driver|no CUDA device/);
});

test('an unknown device is an argument error', (t) => {
  const error = t.throws(() => sequential({ inputShape: [3], device: 'gpu' as never }, layers()));
  t.is((error as { code: string }).code, 'E_ARGUMENT');
});

test("loadOnnx and `lrp explain --device` pass the device on", async (t) => {
  const file = join(__dirname, '..', 'fixtures', 'refs', 'mlp', 'model.onnx');
  const error = await t.throwsAsync(loadOnnx(file, { device: 'cuda' }));
  t.is((error as { code: string }).code, 'E_DEVICE');
  let stderr = '';
  const status = await runCli(['explain', file, '--input', join(__dirname, '..', 'fixtures', 'refs', 'mlp', 'input.npy'),
    '--output', '/dev/null', '--device', 'cuda'], { stdout: () => {}, stderr: (s: string) => { stderr += s; } });
  t.is(status, 1);
  t.regex(stderr, /E_DEVICE/);
  const usage = await runCli(['explain', file, '--input', 'x.npy', '--output', 'y.npy', '--device', 'tpu'],
    { stdout: () => {}, stderr: () => {} });
  t.is(usage, 2);
});
