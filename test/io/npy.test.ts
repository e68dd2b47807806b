// Tests of the .npy reader and writer: numpy-written fixtures, golden references, round trips and hostile bytes.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLrpError } from '../../lib/errors';
import { encodeNpy, parseNpy, readNpy, writeNpy, type NpyArray } from '../../lib/io/npy';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => path.join(here, '..', 'fixtures', 'npy', name);

function expectIoError(t: import('ava').ExecutionContext, fn: () => unknown, pattern: RegExp): void {
  const error = t.throws(fn);
  t.true(isLrpError(error), `expected an LrpError, got ${String(error)}`);
  t.is((error as { code?: string }).code, 'E_IO');
  t.regex(error!.message, pattern);
}

test('reads numpy float32, float64, int32 and int64 arrays', (t) => {
  const f4 = readNpy(fixture('f4_2x3.npy'));
  t.is(f4.dtype, 'float32');
  t.true(f4.data instanceof Float32Array);
  t.deepEqual(f4.shape, [2, 3]);
  t.deepEqual([...f4.data], [-1, -0.5, 0, 0.5, 1, 1.5]);

  const f8 = readNpy(fixture('f8_4.npy'));
  t.is(f8.dtype, 'float64');
  t.true(f8.data instanceof Float64Array);
  t.deepEqual([...f8.data], [0, 1 / 3, 2 / 3, 1]);

  const i4 = readNpy(fixture('i4_3.npy'));
  t.is(i4.dtype, 'int32');
  t.deepEqual([...i4.data], [-2, 0, 7]);

  const i8 = readNpy(fixture('i8_5.npy'));
  t.is(i8.dtype, 'int64');
  t.true(i8.data instanceof BigInt64Array);
  t.deepEqual([...i8.data], [0n, 1n, -1n, 2n ** 40n, -(2n ** 40n)]);
});

test('reads scalars, empty arrays, 4-d arrays and format versions 2.0 and 3.0', (t) => {
  const scalar = readNpy(fixture('f4_scalar.npy'));
  t.deepEqual(scalar.shape, []);
  t.deepEqual([...scalar.data], [2.5]);
  const empty = readNpy(fixture('f4_0x3.npy'));
  t.deepEqual(empty.shape, [0, 3]);
  t.is(empty.data.length, 0);
  const four = readNpy(fixture('f4_2x1x2x2.npy'));
  t.deepEqual(four.shape, [2, 1, 2, 2]);
  t.deepEqual([...four.data], [0, 1, 2, 3, 4, 5, 6, 7]);
  for (const name of ['f4_v2.npy', 'f4_v3.npy']) {
    const a = readNpy(fixture(name));
    t.deepEqual(a.shape, [3], name);
    t.deepEqual([...a.data], [0, 1, 2], name);
  }
});

test('reads the golden reference files (int64 targets, float32 inputs, float64 relevances)', (t) => {
  const target = readNpy(fixture('golden_mlp_target_i8.npy'));
  t.is(target.dtype, 'int64');
  t.deepEqual(target.shape, [6]);
  t.deepEqual([...target.data].map(Number), [1, 4, 2, 4, 0, 2]);

  const input = readNpy(fixture('golden_cnn_input_f4.npy'));
  t.is(input.dtype, 'float32');
  t.deepEqual(input.shape, [4, 1, 16, 16]);
  t.is(input.data[0], Math.fround(0.004368554335087538));
  t.is(input.data[input.data.length - 1], Math.fround(0.3313617408275604));

  const relevance = readNpy(fixture('golden_cnn_rel_epsilon_f8.npy'));
  t.is(relevance.dtype, 'float64');
  t.deepEqual(relevance.shape, [4, 1, 16, 16]);
  t.is(relevance.data[0], -0.0007558868525557465);
  t.is(relevance.data[relevance.data.length - 1], -0.030846033505876877);
  let sum = 0;
  for (const v of relevance.data as Float64Array) sum += v;
  t.true(Math.abs(sum - 6.175685087494298) < 1e-12);
});

test('encodeNpy writes exactly the bytes numpy.save writes', (t) => {
  for (const name of ['f4_2x3.npy', 'f8_4.npy', 'i4_3.npy', 'i8_5.npy', 'f4_scalar.npy', 'f4_0x3.npy', 'f4_2x1x2x2.npy',
    'golden_mlp_target_i8.npy', 'golden_cnn_input_f4.npy', 'golden_cnn_rel_epsilon_f8.npy']) {
    const bytes = fs.readFileSync(fixture(name));
    const encoded = encodeNpy(parseNpy(bytes, name));
    t.deepEqual(Buffer.from(encoded), bytes, name);
  }
});

test('the header of a written file is padded to a multiple of 64 bytes, version 1.0', (t) => {
  for (const shape of [[], [1], [7], [3, 5], [2, 3, 4, 5], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]) {
    const size = shape.reduce((a, b) => a * b, 1);
    const bytes = encodeNpy({ data: new Float32Array(size), shape });
    t.is(bytes[6], 1);
    t.is(bytes[7], 0);
    const headerBytes = bytes[8] | (bytes[9] << 8);
    t.is((10 + headerBytes) % 64, 0, `shape [${shape.join(', ')}]`);
    t.is(bytes[10 + headerBytes - 1], 0x0a);
    t.is(bytes.length, 10 + headerBytes + size * 4);
  }
});

test('round-trips every dtype and shape through writeNpy and readNpy', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-npy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const arrays: NpyArray[] = [
    { data: Float32Array.from([1.5, -2.25, 3e-8, Infinity, -0]), shape: [5], dtype: 'float32' },
    { data: Float64Array.from({ length: 24 }, (_, i) => Math.sin(i) * 1e300), shape: [2, 3, 4], dtype: 'float64' },
    { data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 5]), shape: [2, 2], dtype: 'int32' },
    { data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2, 1], dtype: 'int64' },
    { data: new Float32Array([42]), shape: [], dtype: 'float32' },
    { data: new Float64Array(0), shape: [3, 0], dtype: 'float64' },
  ];
  arrays.forEach((array, i) => {
    const file = path.join(dir, `a${i}.npy`);
    writeNpy(file, array);
    const back = readNpy(file);
    t.deepEqual(back, array, `array ${i}`);
    t.deepEqual(parseNpy(encodeNpy(array)), array, `array ${i} in memory`);
  });
  const nan = readNpy(encodeNpy({ data: new Float32Array([NaN]), shape: [1] }));
  t.true(Number.isNaN(nan.data[0] as number));
});

test('reads data from an unaligned view into an aligned copy', (t) => {
  const bytes = fs.readFileSync(fixture('f8_4.npy'));
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const a = parseNpy(shifted.subarray(3));
  t.deepEqual([...a.data], [0, 1 / 3, 2 / 3, 1]);
});

test('rejects big-endian, Fortran order, object, structured and other dtypes, naming the file', (t) => {
  const cases: [string, RegExp][] = [
    ['bad_big_endian.npy', /bad_big_endian\.npy: big-endian dtype '>f4'/],
    ['bad_fortran.npy', /bad_fortran\.npy: Fortran-ordered/],
    ['bad_object.npy', /bad_object\.npy: object arrays/],
    ['bad_structured.npy', /structured or unknown dtype/],
    ['bad_uint8.npy', /dtype '\|u1' is not supported.*<f4, <f8, <i4 and <i8/],
    ['bad_bool.npy', /dtype '\|b1' is not supported/],
    ['bad_complex.npy', /dtype '<c8' is not supported/],
  ];
  for (const [name, pattern] of cases) expectIoError(t, () => readNpy(fixture(name)), pattern);
});

test('rejects a missing file, a non-npy file and unknown versions with E_IO', (t) => {
  expectIoError(t, () => readNpy(fixture('does-not-exist.npy')), /does-not-exist\.npy: cannot read/);
  expectIoError(t, () => parseNpy(new TextEncoder().encode('hello world, not numpy'), 'x.txt'), /x\.txt: not a \.npy file/);
  const bytes = new Uint8Array(fs.readFileSync(fixture('f4_2x3.npy')));
  bytes[6] = 4;
  expectIoError(t, () => parseNpy(bytes), /version 4\.0/);
});

/** A version 1.0 file with the given header dict text and `dataBytes` zero bytes of data. */
function handMade(dict: string, dataBytes: number): Uint8Array {
  const header = `${dict}\n`;
  const out = new Uint8Array(10 + header.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

test('rejects absurd shapes, truncated data and trailing bytes', (t) => {
  expectIoError(t, () => parseNpy(handMade('{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (-1, 3), }', 0), 'neg.npy'),
    /neg\.npy: shape \(-1, 3\) has an invalid dimension -1/);
  expectIoError(t, () => parseNpy(handMade('{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (65536, 65536), }', 0)),
    /more than 2147483647 elements/);
  expectIoError(t, () => parseNpy(handMade('{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (99999999999999999999999999,), }', 0)),
    /invalid dimension|more than/);
  expectIoError(t, () => parseNpy(handMade('{\'descr\': \'<f8\', \'fortran_order\': False, \'shape\': (2, 3), }', 47), 't.npy'),
    /t\.npy: truncated data: shape \(2, 3\) of float64 needs 48 bytes, the file has 47/);
  expectIoError(t, () => parseNpy(handMade('{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2,), }', 12)),
    /4 unexpected bytes after the data/);
  // A well-formed file still works through the hand-made path.
  t.deepEqual(parseNpy(handMade('{"descr": "<i4", "fortran_order": False, "shape": (2,)}', 8)).shape, [2]);
});

test('rejects malformed headers', (t) => {
  const bad = [
    '{\'descr\': \'<f4\', \'fortran_order\': False}',
    '{\'descr\': \'<f4\', \'fortran_order\': 0, \'shape\': (2,), }',
    '{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': [2], }',
    '{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2.5,), }',
    '{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2,), \'extra\': 1}',
    '{\'descr\': \'<f4\', \'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2,)}',
    '{\'descr\': \'<f4\' \'fortran_order\': False, \'shape\': (2,)}',
    '{\'descr: \'<f4\', \'fortran_order\': False, \'shape\': (2,)}',
    '\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2,)',
    '{\'descr\': \'<f4\', \'fortran_order\': False, \'shape\': (2,)} trailing',
    '{',
    '',
  ];
  for (const dict of bad) expectIoError(t, () => parseNpy(handMade(dict, 8)), /\S/);
});

test('never crashes on truncated or mutated bytes: every failure is an E_IO LrpError', (t) => {
  const originals = ['f4_2x3.npy', 'i8_5.npy', 'f4_v3.npy', 'bad_object.npy'].map((n) => new Uint8Array(fs.readFileSync(fixture(n))));
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  let failures = 0;
  const attempt = (bytes: Uint8Array): void => {
    try {
      const a = parseNpy(bytes, 'fuzz.npy');
      const count = a.shape.reduce((x, y) => x * y, 1);
      if (a.data.length !== count) t.fail(`data length ${a.data.length} != shape product ${count}`);
    } catch (error) {
      failures++;
      if (!isLrpError(error) || error.code !== 'E_IO') t.fail(`unexpected error for mutated input: ${String(error)}`);
    }
  };
  for (const original of originals) {
    for (let length = 0; length < original.length; length++) attempt(original.subarray(0, length));
    for (let round = 0; round < 2000; round++) {
      const bytes = new Uint8Array(original);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        // Mostly the header, where the parser lives.
        const at = random() < 0.8 ? Math.floor(random() * Math.min(bytes.length, 128)) : Math.floor(random() * bytes.length);
        bytes[at] = Math.floor(random() * 256);
      }
      attempt(bytes);
    }
  }
  t.true(failures > 0);
});

test('encodeNpy checks its argument', (t) => {
  const code = (fn: () => unknown): string | undefined => (t.throws(fn) as { code?: string }).code;
  t.is(code(() => encodeNpy({ data: new Float32Array(5), shape: [2, 3] })), 'E_SHAPE');
  t.is(code(() => encodeNpy({ data: new Float32Array(6), shape: [2, -3] })), 'E_SHAPE');
  t.is(code(() => encodeNpy({ data: [1, 2] as unknown as Float32Array, shape: [2] })), 'E_ARGUMENT');
  t.is(code(() => encodeNpy({ data: new Float32Array(2), shape: [2], dtype: 'float64' })), 'E_ARGUMENT');
  t.is(code(() => writeNpy(path.join(os.tmpdir(), 'no-such-dir-lrp', 'x', 'y.npy'), { data: new Float32Array(1), shape: [1] })), 'E_IO');
});
