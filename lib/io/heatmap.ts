// Relevance heatmaps: normalise a relevance map, colour it with a colormap, optionally overlay and grid it, write PNG.
// PNGs are encoded with pngjs: pure JavaScript with no native dependency, so it works in Electron and on every
// platform without a rebuild, and it is small and well kept.
import { PNG } from 'pngjs';
import { LrpError } from '../errors';
import { colormapStops, mapColor, type Colormap } from './colormaps';
import { checkImage, resizeImage, type Image, type ImageLike } from './image';

/** A relevance tensor to draw: `[H, W]`, `[C, H, W]` (channels are summed) or `[N, C, H, W]`. */
export interface RelevanceMap {
  /** The relevance values, row-major (C order), e.g. {@link ExplainResult.relevance}. */
  data: Float32Array | Float64Array;
  /** `[H, W]`, `[C, H, W]` or `[N, C, H, W]`; `data.length` equals their product. */
  shape: readonly number[];
}

/**
 * How relevance becomes a colormap position in [0, 1], per sample:
 * - `'symmetric'` (default): `0.5 + 0.5 · R / max|R|`, so zero gets the middle colour, the most positive pixel the
 *   top end and the most negative the bottom end (when it is as strong as the most positive);
 * - `'absolute'`: `|R| / max|R|`, zero gets the bottom colour;
 * - `'minmax'`: `(R − min) / (max − min)`, the smallest value gets the bottom colour and the largest the top.
 *
 * An all-zero (or constant, for minmax) map divides by nothing: it is drawn all in the colour of zero relevance,
 * the middle colour (the bottom one for `'absolute'`).
 */
export type HeatmapNormalization = 'symmetric' | 'absolute' | 'minmax';

/** The input image under a heatmap, see {@link HeatmapOptions.overlay}. */
export interface HeatmapOverlay {
  /**
   * The image (gray, RGB or RGBA; alpha is ignored), or in grid mode one image per sample. It is resized bilinearly
   * to the heatmap's output size when its size differs.
   */
  image: ImageLike | readonly ImageLike[];
  /** Weight of the heatmap: `out = alpha · heatmap + (1 − alpha) · image`, default 0.5. */
  alpha?: number;
}

/** Options of {@link renderHeatmap} and {@link renderHeatmapRgba}. */
export interface HeatmapOptions {
  /** A built-in colormap name or colour stops (default `'bwr'`, blue–white–red). */
  colormap?: Colormap;
  /** See {@link HeatmapNormalization}; default `'symmetric'`. */
  normalization?: HeatmapNormalization;
  /** Which sample of an `[N, C, H, W]` map to draw (default 0). Not with `grid`. */
  sample?: number;
  /**
   * Draw every sample of an `[N, C, H, W]` map in a grid, each normalised on its own, row by row. Cells without a
   * sample are transparent.
   */
  grid?: boolean;
  /** Number of grid columns; default `ceil(sqrt(N))`. */
  gridColumns?: number;
  /** Integer nearest-neighbour magnification of every relevance pixel (default 1). */
  upscale?: number;
  /** Blend the heatmap onto the input image. */
  overlay?: HeatmapOverlay;
}

/** RGBA pixels, 4 bytes each, row by row; alpha is 255 except in empty grid cells. */
export interface RgbaImage extends Image {
  channels: 4;
}

const MAX_OUTPUT_PIXELS = 2 ** 28;

/**
 * Draws a relevance map as a heatmap and returns it as PNG bytes (RGB, or RGBA when a grid has empty cells). See
 * {@link renderHeatmapRgba} for the options; throws `E_SHAPE` for a shape it cannot draw, `E_ARGUMENT` for bad options.
 *
 * @example
 * const { relevance } = await model.explain(input, { target: 3 });
 * fs.writeFileSync('heatmap.png', renderHeatmap(relevance, { colormap: 'bwr' }));
 */
export function renderHeatmap(relevance: RelevanceMap, options: HeatmapOptions = {}): Uint8Array {
  const image = renderHeatmapRgba(relevance, options);
  let opaque = true;
  for (let i = 3; i < image.data.length && opaque; i += 4) opaque = image.data[i] === 255;
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const encoded = PNG.sync.write(png, { colorType: opaque ? 2 : 6, inputColorType: 6 });
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/**
 * Draws a relevance map as RGBA pixels: channels summed, each sample normalised (see {@link HeatmapNormalization}),
 * coloured with the colormap, magnified by `upscale`, blended onto `overlay.image`, and for `grid` laid out
 * row by row. Throws `E_SHAPE` for a shape it cannot draw or an overlay of the wrong kind, `E_ARGUMENT` for bad
 * options, `E_NON_FINITE` for NaN or infinite relevance.
 */
export function renderHeatmapRgba(relevance: RelevanceMap, options: HeatmapOptions = {}): RgbaImage {
  if (typeof relevance !== 'object' || relevance === null ||
      !(relevance.data instanceof Float32Array || relevance.data instanceof Float64Array) || !Array.isArray(relevance.shape)) {
    throw new LrpError('E_ARGUMENT', 'renderHeatmap: expected relevance { data: Float32Array | Float64Array, shape: number[] }');
  }
  const { data, shape } = relevance;
  if (!shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new LrpError('E_SHAPE', `renderHeatmap: shape [${shape.join(', ')}] must consist of positive integers`);
  }
  if (shape.length < 2 || shape.length > 4) {
    throw new LrpError('E_SHAPE', `renderHeatmap: shape [${shape.join(', ')}] is not [H, W], [C, H, W] or [N, C, H, W]`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new LrpError('E_SHAPE', `renderHeatmap: shape [${shape.join(', ')}] needs ${size} values, data has ${data.length}`);
  }
  const [batch, channels, height, width] = shape.length === 4 ? shape as [number, number, number, number]
    : shape.length === 3 ? [1, shape[0]!, shape[1]!, shape[2]!] : [1, 1, shape[0]!, shape[1]!];

  const stops = colormapStops(options.colormap ?? 'bwr');
  const normalization = options.normalization ?? 'symmetric';
  if (normalization !== 'symmetric' && normalization !== 'absolute' && normalization !== 'minmax') {
    throw new LrpError('E_ARGUMENT', `renderHeatmap: 'normalization' must be 'symmetric', 'absolute' or 'minmax', got ${String(normalization)}`);
  }
  const upscale = options.upscale ?? 1;
  if (!(Number.isSafeInteger(upscale) && upscale >= 1)) {
    throw new LrpError('E_ARGUMENT', `renderHeatmap: 'upscale' must be a positive integer, got ${String(upscale)}`);
  }
  const grid = options.grid ?? false;
  let samples: number[];
  let columns = 1;
  if (grid) {
    if (options.sample !== undefined) throw new LrpError('E_ARGUMENT', "renderHeatmap: give either 'sample' or 'grid', not both");
    samples = Array.from({ length: batch }, (_, n) => n);
    columns = options.gridColumns ?? Math.ceil(Math.sqrt(batch));
    if (!(Number.isSafeInteger(columns) && columns >= 1)) {
      throw new LrpError('E_ARGUMENT', `renderHeatmap: 'gridColumns' must be a positive integer, got ${String(options.gridColumns)}`);
    }
  } else {
    if (options.gridColumns !== undefined) throw new LrpError('E_ARGUMENT', "renderHeatmap: 'gridColumns' needs 'grid: true'");
    const sample = options.sample ?? 0;
    if (!(Number.isSafeInteger(sample) && sample >= 0 && sample < batch)) {
      throw new LrpError('E_ARGUMENT', `renderHeatmap: 'sample' must be an integer in [0, ${batch - 1}] for shape [${shape.join(', ')}], got ${String(sample)}`);
    }
    samples = [sample];
  }
  const rows = Math.ceil(samples.length / columns);
  const cellWidth = width * upscale, cellHeight = height * upscale;
  const outWidth = cellWidth * columns, outHeight = cellHeight * rows;
  if (outWidth * outHeight > MAX_OUTPUT_PIXELS) {
    throw new LrpError('E_TOO_LARGE', `renderHeatmap: the image would be ${outWidth} × ${outHeight} pixels, more than ${MAX_OUTPUT_PIXELS}`);
  }

  const overlays = overlayImages(options.overlay, samples, batch);
  const alpha = options.overlay?.alpha ?? 0.5;
  if (options.overlay !== undefined && !(typeof alpha === 'number' && alpha >= 0 && alpha <= 1)) {
    throw new LrpError('E_ARGUMENT', `renderHeatmap: 'overlay.alpha' must be a number in [0, 1], got ${String(alpha)}`);
  }

  const out = new Uint8Array(outWidth * outHeight * 4); // empty grid cells stay transparent
  const plane = height * width;
  const color = new Uint8Array(3);
  samples.forEach((n, cell) => {
    const positions = normalize(sumChannels(data, n, channels, plane), normalization, n);
    const background = overlays[cell] === undefined ? undefined : resizeImage(overlays[cell]!, cellWidth, cellHeight);
    const originX = (cell % columns) * cellWidth, originY = Math.floor(cell / columns) * cellHeight;
    for (let y = 0; y < cellHeight; y++) {
      for (let x = 0; x < cellWidth; x++) {
        mapColor(stops, positions[Math.floor(y / upscale) * width + Math.floor(x / upscale)]!, color, 0);
        const o = ((originY + y) * outWidth + originX + x) * 4;
        if (background === undefined) {
          out[o] = color[0]!; out[o + 1] = color[1]!; out[o + 2] = color[2]!;
        } else {
          const stride = background.channels, i = (y * cellWidth + x) * stride;
          for (let c = 0; c < 3; c++) {
            const under = background.data[stride === 1 ? i : i + c]!;
            out[o + c] = Math.round(alpha * color[c]! + (1 - alpha) * under);
          }
        }
        out[o + 3] = 255;
      }
    }
  });
  return { width: outWidth, height: outHeight, channels: 4, data: out };
}

/** The overlay image of each drawn sample (or none), validated. */
function overlayImages(overlay: HeatmapOverlay | undefined, samples: number[], batch: number): (Image | undefined)[] {
  if (overlay === undefined) return samples.map(() => undefined);
  if (typeof overlay !== 'object' || overlay === null || overlay.image === undefined) {
    throw new LrpError('E_ARGUMENT', "renderHeatmap: 'overlay' must be { image, alpha? }");
  }
  if (!Array.isArray(overlay.image)) {
    const image = checkImage(overlay.image as ImageLike, 'overlay.image');
    return samples.map(() => image);
  }
  const images = overlay.image as readonly ImageLike[];
  if (images.length !== 1 && images.length !== batch) {
    throw new LrpError('E_SHAPE', `renderHeatmap: 'overlay.image' has ${images.length} images; expected one, or one per sample (${batch})`);
  }
  return samples.map((n) => checkImage(images.length === 1 ? images[0]! : images[n]!, `overlay.image[${n}]`));
}

/** Sample `n`'s relevance summed over its channels. */
function sumChannels(data: Float32Array | Float64Array, n: number, channels: number, plane: number): Float64Array {
  const summed = new Float64Array(plane);
  const base = n * channels * plane;
  for (let c = 0; c < channels; c++) {
    const offset = base + c * plane;
    for (let p = 0; p < plane; p++) summed[p]! += data[offset + p]!;
  }
  return summed;
}

/** Colormap positions in [0, 1] per {@link HeatmapNormalization}, without dividing by zero. */
function normalize(values: Float64Array, normalization: HeatmapNormalization, n: number): Float64Array {
  let min = Infinity, max = -Infinity;
  for (let p = 0; p < values.length; p++) {
    const v = values[p]!;
    if (!Number.isFinite(v)) {
      throw new LrpError('E_NON_FINITE', `renderHeatmap: sample ${n} has a non-finite relevance (${v}) at pixel ${p}`, { sample: n, pixel: p });
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const maxAbs = Math.max(Math.abs(min), Math.abs(max));
  const out = new Float64Array(values.length);
  for (let p = 0; p < values.length; p++) {
    const v = values[p]!;
    if (normalization === 'symmetric') out[p] = maxAbs > 0 ? 0.5 + 0.5 * v / maxAbs : 0.5;
    else if (normalization === 'absolute') out[p] = maxAbs > 0 ? Math.abs(v) / maxAbs : 0;
    else out[p] = max > min ? (v - min) / (max - min) : 0.5;
  }
  return out;
}
