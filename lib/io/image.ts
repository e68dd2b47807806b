// Images in and out of tensors: PNG/JPEG decoding, bilinear resizing and conversion to normalised NCHW/NHWC input.
import * as fs from 'node:fs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { LrpError } from '../errors';

/** 8-bit pixels, row-major and interleaved: 1 channel (gray), 3 (RGB) or 4 (RGBA). */
export interface Image {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  /** `width × height × channels` bytes, row by row, channels interleaved. */
  data: Uint8Array;
}

/**
 * An image as callers may hand it in: like {@link Image}, but `channels` may be left out, in which case it follows
 * from `data.length / (width × height)`.
 */
export interface ImageLike {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA); default `data.length / (width × height)`. */
  channels?: 1 | 3 | 4;
  /** `width × height × channels` bytes, row by row, channels interleaved (e.g. a canvas `ImageData.data`). */
  data: Uint8Array | Uint8ClampedArray;
}

/** Options of {@link loadImage} and {@link decodeImage}. */
export interface LoadImageOptions {
  /**
   * Largest accepted `width × height` as declared in the file header (default 2^26, about 67 megapixels). Larger
   * images are refused with `E_TOO_LARGE` before anything is decoded.
   */
  maxPixels?: number;
}

/** Options of {@link imageToTensor}. */
export interface ImageToTensorOptions {
  /** Output size: `n` for n × n, or `[height, width]`. Default: the images' own size (then they must all agree). */
  size?: number | readonly [number, number];
  /** Per-channel mean subtracted after dividing by `scale` (one value per output channel, or one for all). Default 0. */
  mean?: readonly number[];
  /** Per-channel standard deviation divided by after subtracting `mean` (same length rules). Default 1. */
  std?: readonly number[];
  /** `'nchw'` (default, PyTorch) or `'nhwc'` (TensorFlow). */
  layout?: 'nchw' | 'nhwc';
  /** 3 (default): RGB, gray images are repeated; 1: ITU-R 601 luma `0.299 R + 0.587 G + 0.114 B`. */
  channels?: 1 | 3;
  /** Pixel values are divided by this first (default 255, giving [0, 1] as torchvision's `ToTensor`). */
  scale?: number;
}

/** A dense float tensor as lrp-node's models accept it. */
export interface ImageTensor {
  /** The normalised pixel values, row-major in the order of `shape`. */
  data: Float32Array;
  /** `[N, C, H, W]` or `[N, H, W, C]` per the `layout` option. */
  shape: number[];
}

/** The ImageNet channel means used by torchvision's pretrained models (RGB, for values in [0, 1]). */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** The ImageNet channel standard deviations used by torchvision's pretrained models (RGB, for values in [0, 1]). */
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

const DEFAULT_MAX_PIXELS = 2 ** 26;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Reads a PNG or JPEG file (or decodes its bytes), recognised by its magic bytes. See {@link decodeImage}.
 * Rejects with `E_IO` (naming the file) when it cannot be read or is corrupt, `E_TOO_LARGE` for absurd dimensions.
 */
export async function loadImage(pathOrBytes: string | Uint8Array, options: LoadImageOptions = {}): Promise<Image> {
  if (typeof pathOrBytes !== 'string') return decodeImage(pathOrBytes, options);
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(pathOrBytes);
  } catch (error) {
    throw new LrpError('E_IO', `${pathOrBytes}: cannot read image file (${(error as Error).message})`, { file: pathOrBytes });
  }
  return decodeImage(bytes, options, pathOrBytes);
}

/**
 * Decodes PNG (via pngjs) or JPEG (via jpeg-js) bytes into 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA: any PNG
 * with transparency) channels; 16-bit PNGs are scaled to 8 bits. Declared dimensions are checked against
 * `maxPixels` before decoding (`E_TOO_LARGE`); anything unrecognised, corrupt or truncated throws `E_IO`.
 * `source` names the bytes in messages.
 */
export function decodeImage(bytes: Uint8Array, options: LoadImageOptions = {}, source = 'image'): Image {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isSafeInteger(maxPixels) && maxPixels > 0)) {
    throw new LrpError('E_ARGUMENT', `maxPixels must be a positive integer, got ${String(maxPixels)}`);
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new LrpError('E_ARGUMENT', `${source}: expected a file path or a Uint8Array of PNG/JPEG bytes`);
  }
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return decodePng(bytes, maxPixels, source);
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return decodeJpeg(bytes, maxPixels, source);
  throw new LrpError('E_IO', `${source}: not a PNG or JPEG file (unrecognised magic bytes)`, { file: source });
}

function checkDimensions(width: number, height: number, maxPixels: number, source: string): void {
  if (width <= 0 || height <= 0) {
    throw new LrpError('E_IO', `${source}: corrupt image header (declared size ${width} × ${height})`, { file: source });
  }
  if (width * height > maxPixels) {
    throw new LrpError('E_TOO_LARGE', `${source}: declared size ${width} × ${height} exceeds maxPixels (${maxPixels})`, { file: source, width, height });
  }
}

function decodePng(bytes: Uint8Array, maxPixels: number, source: string): Image {
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new LrpError('E_IO', `${source}: corrupt PNG (no IHDR header)`, { file: source });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkDimensions(view.getUint32(16), view.getUint32(20), maxPixels, source);
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new LrpError('E_IO', `${source}: corrupt or truncated PNG (${(error as Error).message})`, { file: source });
  }
  const { width, height } = png;
  const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
  if (rgba.length !== width * height * 4) {
    throw new LrpError('E_IO', `${source}: corrupt PNG (decoded ${rgba.length} bytes for ${width} × ${height})`, { file: source });
  }
  if (png.alpha) return { width, height, channels: 4, data: rgba.slice() };
  return png.color ? dropChannels(rgba, width, height, 3) : dropChannels(rgba, width, height, 1);
}

/** Keeps the first `channels` of each RGBA pixel. */
function dropChannels(rgba: Uint8Array, width: number, height: number, channels: 1 | 3): Image {
  const pixels = width * height;
  const data = new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + c]!;
  }
  return { width, height, channels, data };
}

/** Finds the JPEG frame header (SOFn) and returns its declared size and component count. */
function jpegFrame(bytes: Uint8Array, source: string): { width: number; height: number; components: number } {
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) break;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) { offset++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { offset += 2; continue; } // no length field
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (offset + 10 > bytes.length) break;
      return {
        height: (bytes[offset + 5]! << 8) | bytes[offset + 6]!,
        width: (bytes[offset + 7]! << 8) | bytes[offset + 8]!,
        components: bytes[offset + 9]!,
      };
    }
    if (marker === 0xda || marker === 0xd9 || length < 2) break; // scan data or end before any frame header
    offset += 2 + length;
  }
  throw new LrpError('E_IO', `${source}: corrupt or truncated JPEG (no frame header)`, { file: source });
}

function decodeJpeg(bytes: Uint8Array, maxPixels: number, source: string): Image {
  const frame = jpegFrame(bytes, source);
  checkDimensions(frame.width, frame.height, maxPixels, source);
  if (frame.components !== 1 && frame.components !== 3) {
    throw new LrpError('E_IO', `${source}: unsupported JPEG with ${frame.components} components (expected gray or colour)`, { file: source });
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false, // truncated files must fail, not decode to a half-grey picture
      maxResolutionInMP: Math.ceil(maxPixels / 1e6),
      maxMemoryUsageInMB: 4096,
    });
  } catch (error) {
    throw new LrpError('E_IO', `${source}: corrupt or truncated JPEG (${(error as Error).message})`, { file: source });
  }
  const { width, height, data } = decoded;
  if (data.length !== width * height * 3) {
    throw new LrpError('E_IO', `${source}: corrupt JPEG (decoded ${data.length} bytes for ${width} × ${height})`, { file: source });
  }
  if (frame.components === 3) return { width, height, channels: 3, data };
  const gray = new Uint8Array(width * height);
  for (let p = 0; p < gray.length; p++) gray[p] = data[p * 3]!;
  return { width, height, channels: 1, data: gray };
}

/** Validates an {@link ImageLike} and returns it with its channel count. Throws `E_SHAPE`/`E_ARGUMENT`. */
export function checkImage(image: ImageLike, what = 'image'): Image {
  if (typeof image !== 'object' || image === null || !(image.data instanceof Uint8Array || image.data instanceof Uint8ClampedArray)) {
    throw new LrpError('E_ARGUMENT', `${what}: expected { width, height, data: Uint8Array, channels? }`);
  }
  const { width, height } = image;
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) {
    throw new LrpError('E_SHAPE', `${what}: width and height must be positive integers, got ${String(width)} × ${String(height)}`);
  }
  const channels = image.channels ?? image.data.length / (width * height);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new LrpError('E_SHAPE', `${what}: ${image.data.length} bytes for ${width} × ${height} pixels is not 1 (gray), 3 (RGB) or 4 (RGBA) channels`);
  }
  if (image.data.length !== width * height * channels) {
    throw new LrpError('E_SHAPE', `${what}: expected ${width * height * channels} bytes for ${width} × ${height} × ${channels}, got ${image.data.length}`);
  }
  const data = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.length);
  return { width, height, channels, data };
}

/**
 * Bilinear resize of interleaved pixels (`height × width × channels`, any number type) to `outHeight × outWidth`,
 * with PyTorch's `F.interpolate(mode='bilinear', align_corners=False, antialias=False)` convention, which torchvision's
 * tensor `Resize` follows: output pixel centres map to `source = (out + 0.5) · in / out − 0.5`, clamped at the
 * borders. There is no antialiasing, so strong downscaling aliases as it does in PyTorch without `antialias`.
 */
export function resizeBilinear(
  source: ArrayLike<number>, width: number, height: number, channels: number, outWidth: number, outHeight: number,
): Float32Array {
  const out = new Float32Array(outWidth * outHeight * channels);
  const xs = axisWeights(width, outWidth);
  const ys = axisWeights(height, outHeight);
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = ys.low[oy]!, y1 = ys.high[oy]!, wy = ys.weight[oy]!;
    for (let ox = 0; ox < outWidth; ox++) {
      const x0 = xs.low[ox]!, x1 = xs.high[ox]!, wx = xs.weight[ox]!;
      const o = (oy * outWidth + ox) * channels;
      const a = (y0 * width + x0) * channels, b = (y0 * width + x1) * channels;
      const c = (y1 * width + x0) * channels, d = (y1 * width + x1) * channels;
      for (let k = 0; k < channels; k++) {
        const top = source[a + k]! + (source[b + k]! - source[a + k]!) * wx;
        const bottom = source[c + k]! + (source[d + k]! - source[c + k]!) * wx;
        out[o + k] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

/** For each output index: the two source indices and the weight of the second (align_corners=false). */
function axisWeights(inSize: number, outSize: number): { low: Int32Array; high: Int32Array; weight: Float64Array } {
  const low = new Int32Array(outSize), high = new Int32Array(outSize), weight = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    low[o] = i0;
    high[o] = Math.min(i0 + 1, inSize - 1);
    weight[o] = s - i0;
  }
  return { low, high, weight };
}

/** Resizes an image bilinearly (see {@link resizeBilinear}) to `width × height`, keeping its channels; values are rounded. */
export function resizeImage(image: ImageLike, width: number, height: number): Image {
  const checked = checkImage(image);
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) {
    throw new LrpError('E_ARGUMENT', `resizeImage: width and height must be positive integers, got ${width} × ${height}`);
  }
  if (checked.width === width && checked.height === height) return checked;
  const resized = resizeBilinear(checked.data, checked.width, checked.height, checked.channels, width, height);
  const data = new Uint8Array(resized.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(resized[i]!);
  return { width, height, channels: checked.channels, data };
}

function perChannel(values: readonly number[] | undefined, fallback: number, channels: number, name: string): number[] {
  if (values === undefined) return new Array<number>(channels).fill(fallback);
  if (!Array.isArray(values) || (values.length !== channels && values.length !== 1) || !values.every(Number.isFinite)) {
    throw new LrpError('E_ARGUMENT', `imageToTensor: '${name}' must be ${channels === 1 ? '1 finite number' : `1 or ${channels} finite numbers`} (one per channel), got ${JSON.stringify(values)}`);
  }
  return values.length === channels ? [...values] : new Array<number>(channels).fill(values[0]!);
}

/**
 * Turns one or more images into a float tensor for a model: pixels divided by `scale` (default 255), converted to
 * `channels` (RGB, or ITU-R 601 luma for 1; alpha is dropped), resized bilinearly to `size` (see
 * {@link resizeBilinear}; unlike torchvision's `Resize(int)`, a single number means a square, not the shorter edge),
 * then normalised per channel as `(v − mean) / std`. Returns `[N, C, H, W]` (or `[N, H, W, C]`). Throws
 * `E_ARGUMENT` for bad options, `E_SHAPE` for malformed images or, without `size`, images of different sizes.
 *
 * @example
 * const image = await loadImage('cat.jpg');
 * const input = imageToTensor(image, { size: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD });
 * // input.shape: [1, 3, 224, 224]
 */
export function imageToTensor(images: ImageLike | readonly ImageLike[], options: ImageToTensorOptions = {}): ImageTensor {
  const list = (Array.isArray(images) ? images : [images]).map((image, n) => checkImage(image, `image ${n}`));
  if (list.length === 0) throw new LrpError('E_ARGUMENT', 'imageToTensor: expected at least one image');
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new LrpError('E_ARGUMENT', `imageToTensor: 'channels' must be 1 or 3, got ${String(channels)}`);
  const layout = options.layout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc') throw new LrpError('E_ARGUMENT', `imageToTensor: 'layout' must be 'nchw' or 'nhwc', got ${String(layout)}`);
  const scale = options.scale ?? 255;
  if (!(Number.isFinite(scale) && scale > 0)) throw new LrpError('E_ARGUMENT', `imageToTensor: 'scale' must be a positive number, got ${String(scale)}`);
  const mean = perChannel(options.mean, 0, channels, 'mean');
  const std = perChannel(options.std, 1, channels, 'std');
  if (std.some((s) => s === 0)) throw new LrpError('E_ARGUMENT', `imageToTensor: 'std' must not contain 0, got ${JSON.stringify(options.std)}`);

  let outHeight: number, outWidth: number;
  if (options.size === undefined) {
    [outHeight, outWidth] = [list[0]!.height, list[0]!.width];
    const other = list.findIndex((image) => image.width !== outWidth || image.height !== outHeight);
    if (other >= 0) {
      throw new LrpError('E_SHAPE', `imageToTensor: image ${other} is ${list[other]!.width} × ${list[other]!.height} but image 0 is ${outWidth} × ${outHeight}; pass 'size' to resize them`);
    }
  } else {
    [outHeight, outWidth] = typeof options.size === 'number' ? [options.size, options.size] : [options.size[0], options.size[1]];
    if (!(Number.isSafeInteger(outHeight) && outHeight > 0 && Number.isSafeInteger(outWidth) && outWidth > 0)) {
      throw new LrpError('E_ARGUMENT', `imageToTensor: 'size' must be a positive integer or [height, width], got ${JSON.stringify(options.size)}`);
    }
  }

  const plane = outHeight * outWidth;
  const data = new Float32Array(list.length * plane * channels);
  list.forEach((image, n) => {
    const floats = toChannels(image, channels, scale);
    const resized = image.width === outWidth && image.height === outHeight
      ? floats
      : resizeBilinear(floats, image.width, image.height, channels, outWidth, outHeight);
    const base = n * plane * channels;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) {
        const value = (resized[p * channels + c]! - mean[c]!) / std[c]!;
        data[layout === 'nchw' ? base + c * plane + p : base + p * channels + c] = value;
      }
    }
  });
  const shape = layout === 'nchw' ? [list.length, channels, outHeight, outWidth] : [list.length, outHeight, outWidth, channels];
  return { data, shape };
}

/** Interleaved floats with `channels` channels (luma for 1, RGB for 3), each value divided by `scale`. */
function toChannels(image: Image, channels: 1 | 3, scale: number): Float32Array {
  const pixels = image.width * image.height;
  const out = new Float32Array(pixels * channels);
  const src = image.data, stride = image.channels;
  for (let p = 0; p < pixels; p++) {
    const i = p * stride;
    const r = src[i]!, g = stride === 1 ? r : src[i + 1]!, b = stride === 1 ? r : src[i + 2]!;
    if (channels === 1) {
      out[p] = (stride === 1 ? r : 0.299 * r + 0.587 * g + 0.114 * b) / scale;
    } else {
      out[p * 3] = r / scale;
      out[p * 3 + 1] = g / scale;
      out[p * 3 + 2] = b / scale;
    }
  }
  return out;
}
