// Tests of heatmap rendering and colormaps: decoded PNG pixels, normalisations, grids, overlays and bad input.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { PNG } from 'pngjs';
import { isLrpError } from '../../lib/errors';
import { COLORMAPS, COLORMAP_NAMES, colorAt, colormapStops, type ColorStop } from '../../lib/io/colormaps';
import { renderHeatmap, renderHeatmapRgba, type HeatmapOptions, type RelevanceMap } from '../../lib/io/heatmap';

interface Decoded { width: number; height: number; pixel: (x: number, y: number) => number[] }

function render(relevance: RelevanceMap, options?: HeatmapOptions): Decoded {
  const png = PNG.sync.read(Buffer.from(renderHeatmap(relevance, options)));
  return {
    width: png.width,
    height: png.height,
    pixel: (x, y) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4)],
  };
}

function expectCode(t: ExecutionContext, fn: () => unknown, code: string, pattern?: RegExp): void {
  const error = t.throws(fn);
  t.true(isLrpError(error), `expected an LrpError, got ${String(error)}`);
  t.is((error as { code?: string }).code, code);
  if (pattern) t.regex(error!.message, pattern);
}

const WHITE = [255, 255, 255, 255], RED = [255, 0, 0, 255], BLUE = [0, 0, 255, 255];

test('symmetric bwr: zero is white, the most positive pixel red, the most negative blue', (t) => {
  const image = render({ data: new Float32Array([0, 2, -2, 1, -1, 0]), shape: [2, 3] });
  t.is(image.width, 3);
  t.is(image.height, 2);
  t.deepEqual(image.pixel(0, 0), WHITE);
  t.deepEqual(image.pixel(1, 0), RED);
  t.deepEqual(image.pixel(2, 0), BLUE);
  // half of the maximum sits half-way between white and red (position 0.75)
  t.deepEqual(image.pixel(0, 1), [255, 128, 128, 255]);
  t.deepEqual(image.pixel(1, 1), [128, 128, 255, 255]);
});

test('symmetric scale is set by max |R|: a weaker negative side does not reach the bottom colour', (t) => {
  const image = render({ data: new Float64Array([4, -1]), shape: [1, 2] });
  t.deepEqual(image.pixel(0, 0), RED);
  t.deepEqual(image.pixel(1, 0), colorAt('bwr', 0.5 - 0.5 / 4).concat(255));
});

test('an all-zero relevance map is drawn in the middle colour without dividing by zero', (t) => {
  const image = render({ data: new Float32Array(6), shape: [2, 3] });
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) t.deepEqual(image.pixel(x, y), WHITE);
  const coldnhot = render({ data: new Float32Array(4), shape: [2, 2] }, { colormap: 'coldnhot' });
  t.deepEqual(coldnhot.pixel(1, 1), [0, 0, 0, 255]);
  const minmax = render({ data: new Float32Array([3, 3]), shape: [1, 2] }, { normalization: 'minmax' });
  t.deepEqual(minmax.pixel(0, 0), WHITE);
  const absolute = render({ data: new Float32Array(2), shape: [1, 2] }, { normalization: 'absolute', colormap: 'wred' });
  t.deepEqual(absolute.pixel(0, 0), WHITE); // |0| maps to the bottom colour, white for wred
});

test('absolute normalisation maps |R| / max|R|: zero to the bottom colour, both signs alike', (t) => {
  const image = render({ data: new Float32Array([0, -4, 4, 2]), shape: [2, 2] }, { normalization: 'absolute', colormap: 'gray' });
  t.deepEqual(image.pixel(0, 0), [0, 0, 0, 255]);
  t.deepEqual(image.pixel(1, 0), [255, 255, 255, 255]);
  t.deepEqual(image.pixel(0, 1), [255, 255, 255, 255]);
  t.deepEqual(image.pixel(1, 1), [128, 128, 128, 255]);
});

test('minmax normalisation maps the minimum to the bottom and the maximum to the top colour', (t) => {
  const image = render({ data: new Float32Array([1, 2, 3, 5]), shape: [2, 2] }, { normalization: 'minmax', colormap: 'gray' });
  t.deepEqual(image.pixel(0, 0), [0, 0, 0, 255]);
  t.deepEqual(image.pixel(1, 0), [64, 64, 64, 255]); // (2 − 1) / 4 · 255 = 63.75
  t.deepEqual(image.pixel(0, 1), [128, 128, 128, 255]);
  t.deepEqual(image.pixel(1, 1), [255, 255, 255, 255]);
});

test('[C, H, W] relevance is summed over channels', (t) => {
  // channel sums: [1 + 1, −1 − 3, 0 + 0] = [2, −4, 0]
  const image = render({ data: new Float32Array([1, -1, 0, 1, -3, 0]), shape: [2, 1, 3] });
  t.deepEqual(image.pixel(1, 0), BLUE);
  t.deepEqual(image.pixel(2, 0), WHITE);
  t.deepEqual(image.pixel(0, 0), [255, 128, 128, 255]);
});

test('[N, C, H, W] draws the chosen sample, default 0', (t) => {
  const data = new Float32Array([1, -1, /* sample 1: */ -1, 1]);
  t.deepEqual(render({ data, shape: [2, 1, 1, 2] }).pixel(0, 0), RED);
  t.deepEqual(render({ data, shape: [2, 1, 1, 2] }, { sample: 1 }).pixel(0, 0), BLUE);
  expectCode(t, () => renderHeatmap({ data, shape: [2, 1, 1, 2] }, { sample: 2 }), 'E_ARGUMENT', /'sample'.*\[0, 1\]/);
});

test('grid lays out every sample row by row, each normalised on its own; empty cells are transparent', (t) => {
  const n = 5, h = 2, w = 3;
  const data = new Float32Array(n * h * w);
  for (let s = 0; s < n; s++) data[s * h * w] = s + 1; // pixel (0, 0) of every sample is its maximum
  const image = render({ data, shape: [n, 1, h, w] }, { grid: true });
  t.is(image.width, 3 * w); // ceil(sqrt(5)) = 3 columns
  t.is(image.height, 2 * h); // 2 rows
  for (let s = 0; s < n; s++) {
    const x = (s % 3) * w, y = Math.floor(s / 3) * h;
    t.deepEqual(image.pixel(x, y), RED, `sample ${s}`);
    t.deepEqual(image.pixel(x + 1, y + 1), WHITE, `sample ${s}`);
  }
  t.deepEqual(image.pixel(2 * w, h), [0, 0, 0, 0]);

  const narrow = render({ data, shape: [n, 1, h, w] }, { grid: true, gridColumns: 2, upscale: 2 });
  t.is(narrow.width, 2 * w * 2);
  t.is(narrow.height, 3 * h * 2);
  expectCode(t, () => renderHeatmap({ data, shape: [n, 1, h, w] }, { grid: true, gridColumns: 0 }), 'E_ARGUMENT', /gridColumns/);
  expectCode(t, () => renderHeatmap({ data, shape: [n, 1, h, w] }, { grid: true, sample: 1 }), 'E_ARGUMENT');
});

test('upscale magnifies every relevance pixel to an integer block (nearest neighbour)', (t) => {
  const image = render({ data: new Float32Array([1, -1, 0, 0]), shape: [2, 2] }, { upscale: 3 });
  t.is(image.width, 6);
  t.is(image.height, 6);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 3; x++) {
      t.deepEqual(image.pixel(x, y), RED);
      t.deepEqual(image.pixel(x + 3, y), BLUE);
      t.deepEqual(image.pixel(x, y + 3), WHITE);
    }
  }
  expectCode(t, () => renderHeatmap({ data: new Float32Array(1), shape: [1, 1] }, { upscale: 1.5 }), 'E_ARGUMENT', /upscale/);
});

test('overlay blends alpha · heatmap + (1 − alpha) · image', (t) => {
  const relevance: RelevanceMap = { data: new Float32Array([1, -1, 0, 0]), shape: [2, 2] };
  const rgb = { width: 2, height: 2, data: new Uint8Array(12).fill(100) };
  const blended = render(relevance, { overlay: { image: rgb, alpha: 0.25 } });
  // red: 0.25 · [255, 0, 0] + 0.75 · 100 = [138.75, 75, 75]
  t.deepEqual(blended.pixel(0, 0), [139, 75, 75, 255]);
  t.deepEqual(blended.pixel(1, 0), [75, 75, 139, 255]);
  t.deepEqual(blended.pixel(0, 1), [139, 139, 139, 255]);

  // a gray image, the default alpha of 0.5, and RGBA whose alpha channel is ignored
  const gray = { width: 2, height: 2, data: new Uint8Array([0, 0, 0, 0]) };
  t.deepEqual(render(relevance, { overlay: { image: gray } }).pixel(0, 0), [128, 0, 0, 255]);
  const rgba = { width: 2, height: 2, channels: 4 as const, data: new Uint8Array(16).fill(200) };
  t.deepEqual(render(relevance, { overlay: { image: rgba, alpha: 0 } }).pixel(1, 0), [200, 200, 200, 255]);

  // an image of another size is resized to the output (here 2× upscaled) size; a constant one stays constant
  const large = { width: 7, height: 5, data: new Uint8Array(35).fill(40) };
  const upscaled = render(relevance, { upscale: 2, overlay: { image: large, alpha: 0.5 } });
  t.is(upscaled.width, 4);
  t.deepEqual(upscaled.pixel(3, 1), [20, 20, 148, 255]); // 0.5 · [0, 0, 255] + 0.5 · 40 = [20, 20, 147.5]

  expectCode(t, () => renderHeatmap(relevance, { overlay: { image: { width: 2, height: 2, data: new Uint8Array(5) } } }), 'E_SHAPE', /5 bytes/);
  expectCode(t, () => renderHeatmap(relevance, { overlay: { image: rgb, alpha: 2 } }), 'E_ARGUMENT', /alpha/);
});

test('grid overlays take one image per sample', (t) => {
  const relevance: RelevanceMap = { data: new Float32Array([0, 0]), shape: [2, 1, 1, 1] };
  const images = [0, 200].map((v) => ({ width: 1, height: 1, data: new Uint8Array([v]) }));
  const image = render(relevance, { grid: true, gridColumns: 2, overlay: { image: images, alpha: 0.5 } });
  t.deepEqual(image.pixel(0, 0), [128, 128, 128, 255]); // 0.5 · 255 + 0.5 · 0 = 127.5
  t.deepEqual(image.pixel(1, 0), [228, 228, 228, 255]); // 0.5 · 255 + 0.5 · 200 = 227.5
  expectCode(t, () => renderHeatmap(relevance, { grid: true, overlay: { image: [images[0]!, images[0]!, images[0]!] } }), 'E_SHAPE', /3 images/);
});

test('renderHeatmapRgba returns the pixels that renderHeatmap encodes', (t) => {
  const relevance: RelevanceMap = { data: new Float32Array([3, -1, 0.5, 0]), shape: [1, 1, 2, 2] };
  const pixels = renderHeatmapRgba(relevance, { colormap: 'coldnhot' });
  t.is(pixels.width, 2);
  t.is(pixels.height, 2);
  t.is(pixels.channels, 4);
  t.deepEqual([...PNG.sync.read(Buffer.from(renderHeatmap(relevance, { colormap: 'coldnhot' }))).data], [...pixels.data]);
});

test('built-in colormaps follow zennit: end and centre colours', (t) => {
  t.deepEqual(COLORMAP_NAMES.slice().sort(), ['bwr', 'cold', 'coldnhot', 'coleus', 'coolio', 'france', 'gray', 'hot', 'seismic', 'wblue', 'wred']);
  const expected: Record<string, [number[], number[], number[]]> = {
    bwr: [[0, 0, 255], [255, 255, 255], [255, 0, 0]],
    coldnhot: [[0, 255, 255], [0, 0, 0], [255, 255, 255]],
    seismic: [[0, 0, 0xd0], [0xd0, 0xd0, 0xd0], [0xd0, 0, 0]],
    gray: [[0, 0, 0], [128, 128, 128], [255, 255, 255]],
    wred: [[255, 255, 255], [255, 128, 128], [255, 0, 0]],
    wblue: [[255, 255, 255], [128, 128, 255], [0, 0, 255]],
  };
  for (const [name, [bottom, middle, top]] of Object.entries(expected)) {
    t.deepEqual(colorAt(name as 'bwr', 0), bottom, name);
    t.deepEqual(colorAt(name as 'bwr', 0.5), middle, name);
    t.deepEqual(colorAt(name as 'bwr', 1), top, name);
  }
  t.deepEqual(colorAt('hot', 85 / 255), [255, 0, 0]);
  t.deepEqual(colorAt('hot', 170 / 255), [255, 255, 0]);
  t.deepEqual(colorAt('cold', 1), [0, 255, 255]);
  t.deepEqual(colorAt('coldnhot', 64 / 255), [0, 0, 255]);
  for (const name of COLORMAP_NAMES) t.is(colormapStops(name), COLORMAPS[name]);
});

test('user colormaps are colour stops; bad ones are refused with E_ARGUMENT', (t) => {
  const stops: ColorStop[] = [{ at: 0, color: [0, 255, 0] }, { at: 0.5, color: [10, 20, 30] }, { at: 1, color: [255, 0, 255] }];
  const image = render({ data: new Float32Array([-1, 0, 1]), shape: [1, 3] }, { colormap: stops });
  t.deepEqual(image.pixel(0, 0), [0, 255, 0, 255]);
  t.deepEqual(image.pixel(1, 0), [10, 20, 30, 255]);
  t.deepEqual(image.pixel(2, 0), [255, 0, 255, 255]);

  const relevance: RelevanceMap = { data: new Float32Array(1), shape: [1, 1] };
  expectCode(t, () => renderHeatmap(relevance, { colormap: 'viridis' as 'bwr' }), 'E_ARGUMENT', /unknown name 'viridis'.*bwr/);
  expectCode(t, () => renderHeatmap(relevance, { colormap: [{ at: 0, color: [0, 0, 0] }] }), 'E_ARGUMENT', /at least two/);
  expectCode(t, () => renderHeatmap(relevance, { colormap: [{ at: 0, color: [0, 0, 0] }, { at: 0.9, color: [1, 1, 1] }] }), 'E_ARGUMENT', /last at 1/);
  expectCode(t, () => renderHeatmap(relevance, { colormap: [{ at: 0.6, color: [0, 0, 0] }, { at: 0.5, color: [1, 1, 1] }] }), 'E_ARGUMENT', /ascend/);
  expectCode(t, () => renderHeatmap(relevance, { colormap: [{ at: 0, color: [0, 0, 300] }, { at: 1, color: [1, 1, 1] }] }), 'E_ARGUMENT', /0–255/);
  expectCode(t, () => renderHeatmap(relevance, { colormap: 'toString' as 'bwr' }), 'E_ARGUMENT', /unknown name/);
});

test('bad shapes, data and options are refused with stable codes', (t) => {
  expectCode(t, () => renderHeatmap({ data: new Float32Array(5), shape: [2, 3] }), 'E_SHAPE', /needs 6 values, data has 5/);
  expectCode(t, () => renderHeatmap({ data: new Float32Array(4), shape: [4] }), 'E_SHAPE', /\[H, W\]/);
  expectCode(t, () => renderHeatmap({ data: new Float32Array(2), shape: [1, 1, 1, 1, 2] }), 'E_SHAPE');
  expectCode(t, () => renderHeatmap({ data: new Float32Array(0), shape: [0, 3] }), 'E_SHAPE', /positive integers/);
  expectCode(t, () => renderHeatmap({ data: new Float32Array([1, NaN]), shape: [1, 2] }), 'E_NON_FINITE', /pixel 1/);
  expectCode(t, () => renderHeatmap({ data: [1, 2] as unknown as Float32Array, shape: [1, 2] }), 'E_ARGUMENT');
  expectCode(t, () => renderHeatmap({ data: new Float32Array(1), shape: [1, 1] }, { normalization: 'log' as 'minmax' }), 'E_ARGUMENT', /normalization/);
  expectCode(t, () => renderHeatmap({ data: new Float32Array(1), shape: [1, 1] }, { upscale: 2 ** 15, grid: true, gridColumns: 2 ** 10 }), 'E_TOO_LARGE');
});
