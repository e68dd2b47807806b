// `lrp explain` in-process with the real ONNX loader and engine: --image, --csv, --heatmap, --layers and --report,
// on the golden CNN (16×16 gray inputs) and a tiny dense model with known weights. Needs the native addon.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { imageToTensor, loadImage } from '../../lib/io/image';
import { readNpy, writeNpy } from '../../lib/io/npy';
import { runCli } from '../../lib/cli/run';
import { loadOnnx } from '../../lib/onnx/index';
import { floatTensor, makeModel, node, values } from '../onnx/make-model';

const here = path.dirname(fileURLToPath(import.meta.url));
const CNN = path.join(here, '..', 'fixtures', 'refs', 'cnn', 'model.onnx');

async function lrp(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } });
  return { status, stdout, stderr };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-cli-inputs-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => path.join(dir, name);

/** A gray PNG of `width × height` with a deterministic pattern. */
function grayPng(name: string, width: number, height: number, seed: number): string {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const pixels = values(width * height, seed).map((v) => Math.round((v + 1) * 127.5));
  png.data = Buffer.from(pixels);
  const out = file(name);
  fs.writeFileSync(out, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  return out;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('--image equals explaining the tensor of imageToTensor, with size and channels taken from the model', async (t) => {
  const a = grayPng('a.png', 20, 20, 1);
  const b = grayPng('b.png', 16, 16, 2);
  const r = await lrp(['explain', CNN, '--image', a, b, '--mean', '0.5', '--std', '0.25', '-o', file('img-r.npy'), '--json']);
  t.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.deepEqual(report.samples.map((s: { file: string }) => s.file), [a, b]);

  const tensor = imageToTensor([await loadImage(a), await loadImage(b)], { size: 16, channels: 1, mean: [0.5], std: [0.25] });
  t.deepEqual(tensor.shape, [2, 1, 16, 16]);
  writeNpy(file('img-x.npy'), tensor);
  const direct = await lrp(['explain', CNN, '--input', file('img-x.npy'), '-o', file('img-r2.npy')]);
  t.is(direct.status, 0, direct.stderr);
  const viaImage = readNpy(file('img-r.npy'));
  const viaTensor = readNpy(file('img-r2.npy'));
  t.deepEqual(viaImage.shape, [2, 1, 16, 16]);
  t.is(maxDifference(viaImage.data as Float32Array, viaTensor.data as Float32Array), 0);
});

test('--heatmap writes a PNG of the input size times --upscale, a grid for a batch, and an overlay for images', async (t) => {
  const input = file('hm-x.npy');
  writeNpy(input, { data: Float32Array.from(values(2 * 256, 3)), shape: [2, 1, 16, 16] });
  const r = await lrp(['explain', CNN, '-i', input, '-o', file('hm-r.npy'), '--heatmap', file('grid.png'), '--upscale', '2',
    '--colormap', 'coldnhot', '--normalize', 'absolute']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /wrote heatmap .*grid\.png/);
  const grid = PNG.sync.read(fs.readFileSync(file('grid.png')));
  t.is(grid.width, 64, 'two columns of 16 × 2 pixels');
  t.is(grid.height, 32);

  const one = file('hm-one.npy');
  writeNpy(one, { data: Float32Array.from(values(256, 4)), shape: [1, 16, 16] });
  const single = await lrp(['explain', CNN, '-i', one, '-o', file('hm-one-r.npy'), '--heatmap', file('one.png')]);
  t.is(single.status, 0, single.stderr);
  const png = PNG.sync.read(fs.readFileSync(file('one.png')));
  t.deepEqual([png.width, png.height], [16, 16]);

  const image = grayPng('overlay.png', 16, 16, 5);
  const overlay = await lrp(['explain', CNN, '--image', image, '--heatmap', file('overlay-hm.png'), '--overlay', '--overlay-alpha', '0.3']);
  t.is(overlay.status, 0, overlay.stderr);
  t.false(fs.existsSync(file('overlay-r.npy')), 'no .npy without --output');
  const blended = PNG.sync.read(fs.readFileSync(file('overlay-hm.png')));
  t.deepEqual([blended.width, blended.height], [16, 16]);

  const notDrawable = await lrp(['explain', CNN, '-i', one, '-o', file('x.npy'), '--heatmap']);
  t.is(notDrawable.status, 2);
  t.regex(notDrawable.stderr, /--heatmap needs a file name/);
  const badMap = await lrp(['explain', CNN, '-i', one, '-o', file('x.npy'), '--heatmap', file('x.png'), '--colormap', 'rainbow']);
  t.is(badMap.status, 2);
  t.regex(badMap.stderr, /--colormap expects one of .*bwr.*, got 'rainbow'/);
  const overlayNpy = await lrp(['explain', CNN, '-i', one, '-o', file('x.npy'), '--heatmap', file('x.png'), '--overlay']);
  t.is(overlayNpy.status, 2);
  t.regex(overlayNpy.stderr, /--overlay blends the heatmap onto input images/);
});

/** x [N, 3] → Gemm → 2 logits; class 0 weighs income +1.5, debt −2, missed payments +0.25 (no bias). */
function creditModel(): string {
  const out = file('credit.onnx');
  fs.writeFileSync(out, makeModel({
    input: ['N', 3],
    nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], [{ name: 'transB', type: 2, i: 1 }], 'score')],
    initializers: [floatTensor('w', [2, 3], [1.5, -2, 0.25, 0, 0, 0]), floatTensor('b', [2], [0, 0])],
  }));
  return out;
}

test('--csv ranks the named features of each row, for and against, with --id-column labels and --top', async (t) => {
  const model = creditModel();
  const csv = file('applicants.csv');
  fs.writeFileSync(csv, 'id,name,income,debt,missed_payments\n7,ann,2,1,4\n8,bob,4,0.5,-8\n');
  const r = await lrp(['explain', model, '--csv', csv, '--ignore-columns', 'name', '--id-column', 'id', '--target', '0']);
  t.is(r.status, 0, r.stderr);
  // row 0: R = w ⊙ x = [3, -2, 1]; row 1: [6, -1, -2]
  t.regex(r.stdout, /^sample\s+id\s+target\s+logit/m);
  t.regex(r.stdout, /row 0 \(id 7\): target 0, logit 2\nFor \(positive relevance\):\n {2}income\s+\+3\s+\(value 2\)\n {2}missed_payments\s+\+1\s+\(value 4\)\nAgainst \(negative relevance\):\n {2}debt\s+-2\s+\(value 1\)/);
  t.regex(r.stdout, /row 1 \(id 8\): target 0, logit 3\nFor \(positive relevance\):\n {2}income\s+\+6 .*\nAgainst \(negative relevance\):\n {2}missed_payments\s+-2 .*\n {2}debt\s+-1 /);

  const json = await lrp(['explain', model, '--csv', csv, '--ignore-columns', 'name', '--id-column', 'id', '--target', '0',
    '--top', '1', '--json', '-o', file('credit-r.npy')]);
  t.is(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.is(report.samples[1].id, '8');
  t.deepEqual(report.samples[1].features.positive.map((f: { name: string }) => f.name), ['income']);
  const against = report.samples[1].features.negative;
  t.deepEqual(against.map((f: { name: string }) => f.name), ['missed_payments']);
  t.true(Math.abs(against[0].relevance + 2) < 1e-5);
  t.deepEqual(readNpy(file('credit-r.npy')).shape, [2, 3]);

  const wrongColumns = await lrp(['explain', model, '--csv', csv, '--ignore-columns', 'name']);
  t.is(wrongColumns.status, 1);
  t.regex(wrongColumns.stderr, /E_SHAPE: .*applicants\.csv: has 4 feature columns \(id, income, debt, missed_payments\).*--ignore-columns/);
  const text = await lrp(['explain', model, '--csv', csv]);
  t.is(text.status, 1);
  t.regex(text.stderr, /E_IO: .*column 'name': "ann" is not a number; drop non-feature columns with --ignore-columns/);
});

test('--layers writes one .npy per layer with its output shape; --report lists every layer', async (t) => {
  const input = file('layers-x.npy');
  writeNpy(input, { data: Float32Array.from(values(2 * 256, 6)), shape: [2, 1, 16, 16] });
  const layersDir = file('layers');
  const r = await lrp(['explain', CNN, '-i', input, '-o', file('layers-r.npy'), '--layers', layersDir, '--report', '-c', 'epsilon-plus-flat']);
  t.is(r.status, 0, r.stderr);
  const model = await loadOnnx(fs.readFileSync(CNN));
  const layers = model.layers;
  model.dispose();
  const written = fs.readdirSync(layersDir).sort((x, y) => parseInt(x, 10) - parseInt(y, 10));
  t.deepEqual(written, layers.map((l) => `${l.index}-${l.name.replace(/^\//, '').replace(/\//g, '_')}.npy`));
  layers.forEach((layer, i) => {
    const array = readNpy(path.join(layersDir, written[i]!));
    t.deepEqual(array.shape, [2, ...layer.outputShape], layer.name);
  });
  // The last layer's relevance is the output relevance: the target logit in its class, zero elsewhere.
  const last = readNpy(path.join(layersDir, written[written.length - 1]!));
  t.is(last.data.filter((v) => v !== 0).length, 2);

  t.regex(r.stdout, /relevance per layer \(sums over 2 samples\)/);
  t.regex(r.stdout, /index\s+layer\s+type\s+rule\s+relevance in\s+out\s+absorbed\s+positive \/ negative/);
  t.regex(r.stdout, /\n-\s+input\s+input\s+/);
  for (const layer of layers) t.regex(r.stdout, new RegExp(`\\n${layer.index}\\s+${layer.name.replace(/\//g, '\\/')}\\s+${layer.type}\\s+`));
  t.regex(r.stdout, /wrote 10 layer relevance files to .*layers/);

  const json = await lrp(['explain', CNN, '-i', input, '-o', file('layers-r.npy'), '--report', '--json']);
  t.is(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.is(report.layers.length, layers.length + 1);
  t.is(report.layers[0].name, 'input');
  const top = report.layers[report.layers.length - 1];
  t.is(top.name, '/9/Gemm');
  t.is(top.relevanceIn.length, 2);
  t.true(Math.abs(top.relevanceIn[0] - report.samples[0].logit) < 1e-4);
  t.true(Math.abs(top.positive[0] + top.negative[0] - top.relevanceIn[0]) < 1e-4);

  const single = file('layers-one.npy');
  writeNpy(single, { data: Float32Array.from(values(256, 7)), shape: [1, 16, 16] });
  const oneDir = file('layers-one');
  const one = await lrp(['explain', CNN, '-i', single, '-o', file('layers-one-r.npy'), '--layers', oneDir]);
  t.is(one.status, 0, one.stderr);
  t.deepEqual(readNpy(path.join(oneDir, '0-0_Conv.npy')).shape, [8, 16, 16], 'one sample without the batch axis keeps it out');
});
