// Hostile and broken ONNX files: every failure is an LrpError with a stable code, never a crash or a hang.
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';
import { isLrpError } from '../../lib/errors';
import { inspectOnnx, loadOnnxGraph } from '../../lib/onnx/index';
import { attr, floatTensor, makeModel, node, seeded } from './make-model';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const cnn = fs.readFileSync(path.join(FIXTURES, 'cnn.onnx'));

/** Runs the loader and inspectOnnx; returns the error code, or 'ok'. Any non-LrpError fails the test. */
async function outcome(bytes: Uint8Array): Promise<string> {
  let code = 'ok';
  try {
    loadOnnxGraph(bytes);
  } catch (error) {
    if (!isLrpError(error)) throw new Error(`non-LrpError thrown: ${String(error)}`);
    code = error.code;
  }
  try {
    await inspectOnnx(bytes);
  } catch (error) {
    if (!isLrpError(error)) throw new Error(`inspectOnnx threw a non-LrpError: ${String(error)}`);
  }
  return code;
}

const ALLOWED = ['ok', 'E_MODEL', 'E_TOO_LARGE', 'E_UNSUPPORTED_OP', 'E_SHAPE'];

test('truncated at seeded random points: E_MODEL (or a still-valid prefix), never another error', async (t) => {
  const random = seeded(42);
  const points = [0, 1, 2, 10, cnn.length - 1, ...Array.from({ length: 60 }, () => Math.floor(random() * cnn.length))];
  for (const n of points) {
    const code = await outcome(cnn.subarray(0, n));
    t.true(ALLOWED.includes(code), `truncated at ${n}: ${code}`);
    if (n < cnn.length * 0.9) t.not(code, 'ok', `truncated at ${n} loaded`);
  }
});

test('flipped bytes: only LrpErrors', async (t) => {
  const random = seeded(7);
  for (let trial = 0; trial < 80; trial++) {
    const bytes = Uint8Array.from(cnn);
    for (let k = 0; k < 1 + trial % 4; k++) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
    t.true(ALLOWED.includes(await outcome(bytes)));
  }
});

test('random bytes and other file formats are E_MODEL', async (t) => {
  const random = seeded(99);
  for (let trial = 0; trial < 40; trial++) {
    const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 2000) }, () => Math.floor(random() * 256));
    t.true(ALLOWED.includes(await outcome(bytes)));
  }
  t.is(await outcome(new Uint8Array(0)), 'E_MODEL');
  t.is(await outcome(Buffer.from('\x93NUMPY\x01\x00v\x00{"descr": "<f4"}')), 'E_MODEL');
  t.is(await outcome(Buffer.from('PK\x03\x04 not an onnx file at all')), 'E_MODEL');
  // Deeply nested protobuf groups must not overflow the stack into a non-LrpError.
  t.is(await outcome(Buffer.alloc(200000, 0x0b)), 'E_MODEL');
});

test('a tensor declaring 2^40 elements is E_TOO_LARGE before anything is allocated', async (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('MatMul', ['x', 'W'], ['y'], [], 'mm')],
    initializers: [{ name: 'W', dims: [2 ** 20, 2 ** 20], dataType: 1, rawData: new Uint8Array(16) }],
  });
  t.is(await outcome(bytes), 'E_TOO_LARGE');
  const small = makeModel({
    input: ['N', 2],
    nodes: [node('MatMul', ['x', 'W'], ['y'], [], 'mm')],
    initializers: [floatTensor('W', [2, 3], [1, 2, 3, 4, 5, 6])],
  });
  t.is((t.throws(() => loadOnnxGraph(small, { maxTensorElements: 4 })) as { code?: string }).code, 'E_TOO_LARGE');
});

test('negative dimensions and data that does not match the shape are E_MODEL', async (t) => {
  const make = (tensor: object): Uint8Array => makeModel({
    input: ['N', 2], nodes: [node('MatMul', ['x', 'W'], ['y'], [], 'mm')], initializers: [tensor],
  });
  t.is(await outcome(make({ name: 'W', dims: [-2, 3], dataType: 1, rawData: new Uint8Array(24) })), 'E_MODEL');
  t.is(await outcome(make({ name: 'W', dims: [2, 3], dataType: 1, rawData: new Uint8Array(20) })), 'E_MODEL');
  t.is(await outcome(make({ name: 'W', dims: [2, 3], dataType: 1, floatData: [1, 2] })), 'E_MODEL');
  t.is(await outcome(make({ name: 'W', dims: [2, 3], dataType: 8, stringData: [] })), 'E_MODEL');
});

test('external data is E_MODEL with a hint to re-export', (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('MatMul', ['x', 'W'], ['y'], [], 'mm')],
    initializers: [{ name: 'W', dims: [2, 3], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'weights.bin' }] }],
  });
  const error = t.throws(() => loadOnnxGraph(bytes));
  t.is((error as { code?: string }).code, 'E_MODEL');
  t.regex(error!.message, /external data is not supported; re-export with the weights inside the file/);
});

test('a dangling input or missing initializer is E_MODEL naming it', (t) => {
  const bytes = makeModel({ input: ['N', 2], nodes: [node('Gemm', ['x', 'missing_weight'], ['y'], [attr.int('transB', 1)], 'fc')] });
  const error = t.throws(() => loadOnnxGraph(bytes));
  t.is((error as { code?: string }).code, 'E_MODEL');
  t.regex(error!.message, /missing_weight/);
  const noOutput = makeModel({ input: ['N', 2], output: 'nowhere', nodes: [node('Relu', ['x'], ['y'], [], 'relu')] });
  t.is((t.throws(() => loadOnnxGraph(noOutput)) as { code?: string }).code, 'E_MODEL');
});

test('a cycle and malformed attributes are E_MODEL', (t) => {
  const cycle = makeModel({ input: ['N', 2], nodes: [node('Relu', ['x', 'b'], ['a'], [], 'r1'), node('Relu', ['a'], ['b'], [], 'r2'), node('Tanh', ['b'], ['y'], [], 't')] });
  t.is((t.throws(() => loadOnnxGraph(cycle)) as { code?: string }).code, 'E_MODEL');
  const badKernel = makeModel({
    input: ['N', 1, 4, 4],
    nodes: [node('MaxPool', ['x'], ['y'], [attr.ints('kernel_shape', [0, 2])], 'pool')],
  });
  t.true(['E_MODEL', 'E_SHAPE'].includes((t.throws(() => loadOnnxGraph(badKernel)) as { code?: string }).code!));
});
