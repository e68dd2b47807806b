// Tests of image decoding and image-to-tensor conversion: generated PNG/JPEG, fixtures, resizing and hostile bytes.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { isLrpError } from '../../lib/errors';
import {
  IMAGENET_MEAN, IMAGENET_STD, decodeImage, imageToTensor, loadImage, resizeBilinear, resizeImage,
} from '../../lib/io/image';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => path.join(here, '..', 'fixtures', 'images', name);

function expectCode(t: ExecutionContext, fn: () => unknown, code: string, pattern?: RegExp): void {
  const error = t.throws(fn);
  t.true(isLrpError(error), `expected an LrpError, got ${String(error)}`);
  t.is((error as { code?: string }).code, code);
  if (pattern) t.regex(error!.message, pattern);
}

/** PNG bytes of `width × height` RGBA pixels written with the given colour type (0 gray, 2 RGB, 6 RGBA). */
function encodePng(width: number, height: number, rgba: number[], colorType: 0 | 2 | 6): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return new Uint8Array(PNG.sync.write(png, { colorType, inputColorType: 6 }));
}

const rgbaPixels = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255, 10, 20, 30, 0]; // 2 × 2

test('decodes RGB, RGBA and gray PNGs into their own channel counts', (t) => {
  // pngjs blends translucent pixels onto white when it writes RGB, so encode opaque ones
  const opaque = rgbaPixels.map((v, i) => (i % 4 === 3 ? 255 : v));
  const rgb = decodeImage(encodePng(2, 2, opaque, 2));
  t.like(rgb, { width: 2, height: 2, channels: 3 });
  t.deepEqual([...rgb.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);

  const rgba = decodeImage(encodePng(2, 2, rgbaPixels, 6));
  t.is(rgba.channels, 4);
  t.deepEqual([...rgba.data], rgbaPixels);

  const grayPixels = [7, 7, 7, 255, 200, 200, 200, 255, 0, 0, 0, 255, 99, 99, 99, 255];
  const gray = decodeImage(encodePng(2, 2, grayPixels, 0));
  t.is(gray.channels, 1);
  t.deepEqual([...gray.data], [7, 200, 0, 99]);
});

test('decodes palette PNGs, tRNS transparency and 16-bit gray from independently written fixtures', async (t) => {
  const palette = await loadImage(fixture('palette_3x2.png'));
  t.like(palette, { width: 3, height: 2, channels: 3 });
  t.deepEqual([...palette.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0]);

  const transparent = await loadImage(fixture('palette_trns_3x2.png'));
  t.is(transparent.channels, 4);
  t.deepEqual([...transparent.data.subarray(16, 20)], [0, 0, 0, 0]); // the black pixel (1, 1)
  t.deepEqual([...transparent.data.subarray(0, 4)], [255, 0, 0, 255]);

  const gray16 = await loadImage(fixture('gray16_2x2.png'));
  t.like(gray16, { width: 2, height: 2, channels: 1 });
  t.deepEqual([...gray16.data], [0, 255, 128, 1]);
});

test('decodes JPEG (colour and gray), close to the encoded pixels', async (t) => {
  const width = 16, height = 8;
  const rgba = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([200, 100, 50, 255], p * 4);
  const bytes = jpeg.encode({ width, height, data: rgba }, 100).data;
  const image = await loadImage(new Uint8Array(bytes));
  t.like(image, { width, height, channels: 3 });
  for (let i = 0; i < image.data.length; i += 3) {
    t.true(Math.abs(image.data[i]! - 200) <= 2 && Math.abs(image.data[i + 1]! - 100) <= 2 && Math.abs(image.data[i + 2]! - 50) <= 2,
      `pixel ${i / 3}: ${[...image.data.subarray(i, i + 3)]}`);
  }

  // jpeg-js writes colour only, so the gray JPEG is written by hand below.
  const gray = decodeImage(new Uint8Array(jpegWithOneComponent()));
  t.like(gray, { width: 8, height: 8, channels: 1 });
  t.is(gray.data.length, 8 * 8);
  t.true(gray.data.every((v) => v === 128), 'a block with DC 0 decodes to mid-grey');
});

/** A tiny baseline gray JPEG (8 × 8, mid-grey), written byte by byte: SOI, DQT, SOF0 (1 component), DHT, SOS, EOI. */
function jpegWithOneComponent(): number[] {
  const dqt = [0xff, 0xdb, 0x00, 0x43, 0x00, ...new Array<number>(64).fill(1)];
  const sof = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00];
  // DC table 0: one code of length 1 for category 0; AC table 0: one code of length 1 for EOB (0x00)
  const dhtDc = [0xff, 0xc4, 0x00, 0x14, 0x00, 1, ...new Array<number>(15).fill(0), 0x00];
  const dhtAc = [0xff, 0xc4, 0x00, 0x14, 0x10, 1, ...new Array<number>(15).fill(0), 0x00];
  const sos = [0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00];
  // one block: DC category 0 (code '0'), EOB (code '0'), padded with ones: 0b00111111
  return [0xff, 0xd8, ...dqt, ...sof, ...dhtDc, ...dhtAc, ...sos, 0x3f, 0xff, 0xd9];
}

test('loadImage reads files and names them in errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-image-'));
  try {
    const file = path.join(dir, 'small.png');
    fs.writeFileSync(file, encodePng(2, 2, rgbaPixels, 2));
    t.like(await loadImage(file), { width: 2, height: 2, channels: 3 });

    const missing = path.join(dir, 'missing.png');
    const error = await t.throwsAsync(loadImage(missing));
    t.is((error as { code?: string }).code, 'E_IO');
    t.true(error!.message.includes(missing));

    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'hello, not an image');
    const wrong = await t.throwsAsync(loadImage(text));
    t.is((wrong as { code?: string }).code, 'E_IO');
    t.regex(wrong!.message, /notes\.png: not a PNG or JPEG/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt and truncated bytes give E_IO, never a crash', (t) => {
  const png = encodePng(4, 4, new Array<number>(64).fill(90), 2);
  const jpg = new Uint8Array(jpeg.encode({ width: 16, height: 16, data: Buffer.alloc(16 * 16 * 4, 77) }, 90).data);
  expectCode(t, () => decodeImage(new Uint8Array(0)), 'E_IO', /magic/);
  expectCode(t, () => decodeImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'E_IO', /magic/);
  for (const cut of [8, 20, 30, png.length - 20, png.length - 5]) {
    expectCode(t, () => decodeImage(png.subarray(0, cut)), 'E_IO', /PNG/);
  }
  const flipped = png.slice();
  flipped[png.length - 20] ^= 0xff; // inside IDAT: the CRC or the deflate stream no longer checks out
  expectCode(t, () => decodeImage(flipped), 'E_IO', /PNG/);
  for (const cut of [3, 10, 100, jpg.length - 40, jpg.length - 2]) {
    expectCode(t, () => decodeImage(jpg.subarray(0, cut)), 'E_IO', /JPEG/);
  }
  // random garbage after a valid magic number
  let seed = 1;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 255;
  for (let trial = 0; trial < 50; trial++) {
    const bytes = new Uint8Array(200).map(random);
    bytes.set(trial % 2 === 0 ? png.subarray(0, 33) : jpg.subarray(0, 3));
    const error = t.throws(() => decodeImage(bytes));
    t.true(isLrpError(error) && ['E_IO', 'E_TOO_LARGE'].includes(error.code), `trial ${trial}: ${String(error)}`);
  }
});

test('absurd declared dimensions are refused before decoding', (t) => {
  const png = encodePng(1, 1, [0, 0, 0, 255], 2);
  const huge = png.slice();
  new DataView(huge.buffer).setUint32(16, 100_000);
  new DataView(huge.buffer).setUint32(20, 100_000);
  expectCode(t, () => decodeImage(huge), 'E_TOO_LARGE', /100000 × 100000 exceeds maxPixels/);

  const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(256, 5) }, 90).data);
  const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
  jpg.set([0xff, 0xff, 0xff, 0xff], sof + 5); // height and width 65535
  expectCode(t, () => decodeImage(jpg), 'E_TOO_LARGE', /65535 × 65535/);

  expectCode(t, () => decodeImage(encodePng(10, 10, new Array<number>(400).fill(1), 2), { maxPixels: 99 }), 'E_TOO_LARGE');
  expectCode(t, () => decodeImage(png, { maxPixels: 0 }), 'E_ARGUMENT', /maxPixels/);
});

test('bilinear resize follows PyTorch (align_corners=false)', (t) => {
  // torch.nn.functional.interpolate(tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode='bilinear', align_corners=False)
  t.deepEqual([...resizeBilinear([0, 1, 2, 3], 2, 2, 1, 4, 4)], [
    0, 0.25, 0.75, 1,
    0.5, 0.75, 1.25, 1.5,
    1.5, 1.75, 2.25, 2.5,
    2, 2.25, 2.75, 3,
  ]);
  // downscaling 4 → 2 samples at source positions 0.5 and 2.5
  t.deepEqual([...resizeBilinear([0, 1, 2, 3], 4, 1, 1, 2, 1)], [0.5, 2.5]);
  // channels are interleaved and resized independently
  t.deepEqual([...resizeBilinear([0, 10, 1, 20], 2, 1, 2, 4, 1)], [0, 10, 0.25, 12.5, 0.75, 17.5, 1, 20]);
  const resized = resizeImage({ width: 2, height: 1, data: new Uint8Array([0, 255]) }, 4, 1);
  t.deepEqual([...resized.data], [0, 64, 191, 255]);
});

test('a constant image stays constant when resized to any size', (t) => {
  const image = { width: 7, height: 5, data: new Uint8Array(7 * 5 * 3).fill(51) };
  for (const size of [1, 3, 224, [5, 11] as [number, number]]) {
    const tensor = imageToTensor(image, { size });
    for (const value of tensor.data) t.true(Math.abs(value - 0.2) < 1e-6, `size ${JSON.stringify(size)}: ${value}`);
  }
});

test('a known pixel gives the known normalised tensor value in NCHW and NHWC', (t) => {
  const image = { width: 2, height: 1, data: new Uint8Array([255, 0, 128, 0, 0, 0]) };
  const nchw = imageToTensor(image, { mean: IMAGENET_MEAN, std: IMAGENET_STD });
  t.deepEqual(nchw.shape, [1, 3, 1, 2]);
  const expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225];
  expected.forEach((value, c) => t.true(Math.abs(nchw.data[c * 2]! - value) < 1e-6, `channel ${c}`));
  t.true(Math.abs(nchw.data[1]! - (0 - 0.485) / 0.229) < 1e-6);

  const nhwc = imageToTensor(image, { mean: IMAGENET_MEAN, std: IMAGENET_STD, layout: 'nhwc' });
  t.deepEqual(nhwc.shape, [1, 1, 2, 3]);
  expected.forEach((value, c) => t.true(Math.abs(nhwc.data[c]! - value) < 1e-6, `channel ${c}`));

  const raw = imageToTensor(image, { scale: 1 });
  t.deepEqual([...raw.data], [255, 0, 0, 0, 128, 0]);
});

test('channels: 1 uses ITU-R 601 luma; gray images repeat into 3 channels; RGBA drops alpha', (t) => {
  const rgb = { width: 1, height: 1, data: new Uint8Array([255, 128, 0]) };
  const luma = imageToTensor(rgb, { channels: 1, scale: 1 });
  t.deepEqual(luma.shape, [1, 1, 1, 1]);
  t.true(Math.abs(luma.data[0]! - (0.299 * 255 + 0.587 * 128)) < 1e-4);

  const gray = { width: 2, height: 1, data: new Uint8Array([10, 20]) };
  t.deepEqual([...imageToTensor(gray, { scale: 1 }).data], [10, 20, 10, 20, 10, 20]);
  t.deepEqual([...imageToTensor(gray, { scale: 1, channels: 1 }).data], [10, 20]);

  const rgba = { width: 1, height: 1, channels: 4 as const, data: new Uint8Array([1, 2, 3, 0]) };
  t.deepEqual([...imageToTensor(rgba, { scale: 1 }).data], [1, 2, 3]);
});

test('a batch of images becomes [N, C, H, W]; bad options and mismatched sizes are refused', (t) => {
  const a = { width: 2, height: 2, data: new Uint8Array(12).fill(0) };
  const b = { width: 3, height: 1, data: new Uint8Array(9).fill(255) };
  const batch = imageToTensor([a, b], { size: [2, 2] });
  t.deepEqual(batch.shape, [2, 3, 2, 2]);
  t.deepEqual([...batch.data.subarray(0, 12)], new Array(12).fill(0));
  t.deepEqual([...batch.data.subarray(12)], new Array(12).fill(1));

  expectCode(t, () => imageToTensor([a, b]), 'E_SHAPE', /image 1 is 3 × 1.*pass 'size'/);
  expectCode(t, () => imageToTensor(a, { mean: [0.5, 0.5] }), 'E_ARGUMENT', /'mean'.*1 or 3/);
  expectCode(t, () => imageToTensor(a, { std: [1, 0, 1] }), 'E_ARGUMENT', /'std'/);
  expectCode(t, () => imageToTensor(a, { size: 0 }), 'E_ARGUMENT', /'size'/);
  expectCode(t, () => imageToTensor(a, { layout: 'chw' as 'nchw' }), 'E_ARGUMENT', /layout/);
  expectCode(t, () => imageToTensor(a, { channels: 2 as 1 }), 'E_ARGUMENT', /channels/);
  expectCode(t, () => imageToTensor([]), 'E_ARGUMENT');
  expectCode(t, () => imageToTensor({ width: 2, height: 2, data: new Uint8Array(7) }), 'E_SHAPE', /7 bytes/);
  // a mean of one value applies to every channel
  t.deepEqual([...imageToTensor(b, { mean: [0.5], std: [0.5], size: [1, 1] }).data], [1, 1, 1]);
});
