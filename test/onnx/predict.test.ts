// Loaded ONNX models run through the native addon reproduce the torch logits of the golden references.
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';
import { loadOnnx } from '../../lib/onnx/index';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'onnx');
const CASES = ['mlp', 'cnn', 'cnn-bn-avg', 'resblock'];

/** Minimal little-endian float32 .npy reader (the test's own, so it does not depend on lib/io). */
function readFloat32Npy(file: string): { data: Float32Array; shape: number[] } {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes[6] === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const offset = bytes[6] === 1 ? 10 : 12;
  const header = bytes.subarray(offset, offset + headerLength).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${file}: expected float32, header ${header}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)![1]).split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const start = offset + headerLength;
  const data = new Float32Array(bytes.length - start >> 2);
  new Uint8Array(data.buffer).set(bytes.subarray(start, start + data.length * 4));
  return { data, shape };
}

const addonBuilt = fs.existsSync(path.join(ROOT, 'build', 'Release', 'lrp.node'));
const register = addonBuilt ? test : test.skip;
if (!addonBuilt) console.log('predict.test: build/Release/lrp.node is missing (run `npm run build:native`); skipping the logits comparison');

for (const name of CASES) {
  register(`${name}: loadOnnx(...).predict reproduces the reference logits`, async (t) => {
    t.timeout(60_000);
    const input = readFloat32Npy(path.join(FIXTURES, `${name}.input.npy`));
    const expected = readFloat32Npy(path.join(FIXTURES, `${name}.logits.npy`));
    const model = await loadOnnx(path.join(FIXTURES, `${name}.onnx`));
    try {
      t.is(model.name, name);
      const { logits, shape } = await model.predict(input);
      t.deepEqual(shape, expected.shape);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - expected.data[i]) / (1 + Math.abs(expected.data[i])));
      t.true(worst < 1e-4, `max relative logit difference ${worst}`);
    } finally {
      model.dispose();
    }
  });
}
