// `lrp explain --heatmap`: the heatmap options of the command line, and drawing a batch's relevance to a PNG file.
import * as fs from 'node:fs';
import { LrpError } from '../errors';
import { COLORMAP_NAMES, type ColormapName } from '../io/colormaps';
import { type HeatmapNormalization, type HeatmapOptions, type RelevanceMap, renderHeatmap } from '../io/heatmap';
import type { Image } from '../io/image';
import { type ParsedCommandLine, parseIntegerOption, parseNumberOption, usageError } from './args';
import { formatShape } from './format';

/** The heatmap options as given on the command line. */
export interface HeatmapCliOptions {
  colormap: ColormapName;
  normalization: HeatmapNormalization;
  upscale: number;
  /** Blend onto the input image (only for image inputs). */
  overlay: boolean;
  alpha: number;
}

/** Reads --colormap, --normalize, --upscale, --overlay and --overlay-alpha (usage errors name what is accepted). */
export function parseHeatmapOptions(values: ParsedCommandLine['values'], command = 'explain'): HeatmapCliOptions {
  const colormap = (values.colormap ?? 'bwr') as string;
  if (!(COLORMAP_NAMES as string[]).includes(colormap)) {
    throw usageError(`--colormap expects one of ${COLORMAP_NAMES.join(', ')}, got '${colormap}'`, command);
  }
  const normalization = (values.normalize ?? 'symmetric') as string;
  if (normalization !== 'symmetric' && normalization !== 'absolute' && normalization !== 'minmax') {
    throw usageError(`--normalize expects symmetric, absolute or minmax, got '${normalization}'`, command);
  }
  const upscale = parseIntegerOption(values, 'upscale', command, 64) ?? 1;
  const alpha = parseNumberOption(values, 'overlay-alpha', command) ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw usageError(`--overlay-alpha expects a number in 0…1, got '${String(values['overlay-alpha'])}'`, command);
  const overlay = values.overlay === true || values['overlay-alpha'] !== undefined;
  return { colormap: colormap as ColormapName, normalization, upscale, overlay, alpha };
}

/**
 * The relevance of a batch `[N, ...sampleShape]` as a map renderHeatmap draws: `[N, C, H, W]` from `[C, H, W]`
 * samples (or `[H, W, C]` ones with the nhwc layout, transposed), `[N, 1, H, W]` from `[H, W]` samples. Other shapes
 * (a vector of features) cannot be drawn: E_SHAPE.
 */
export function relevanceMap(relevance: Float32Array, shape: readonly number[], layout: 'nchw' | 'nhwc'): RelevanceMap {
  const [batch, ...sample] = shape;
  if (sample.length === 2) return { data: relevance, shape: [batch!, 1, sample[0]!, sample[1]!] };
  if (sample.length !== 3) {
    throw new LrpError('E_SHAPE', `--heatmap draws inputs of shape [C, H, W] or [H, W]; this model's input is ${formatShape(sample)}`);
  }
  if (layout === 'nchw') return { data: relevance, shape: [batch!, sample[0]!, sample[1]!, sample[2]!] };
  const [height, width, channels] = sample as [number, number, number];
  const plane = height * width;
  const data = new Float32Array(relevance.length);
  for (let n = 0; n < batch!; n++) {
    const base = n * plane * channels;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) data[base + c * plane + p] = relevance[base + p * channels + c]!;
    }
  }
  return { data, shape: [batch!, channels, height, width] };
}

/**
 * Draws the relevance of a batch into a PNG file: one sample as it is, several in a grid; blended onto `images` (one
 * per sample) when the options ask for an overlay. E_IO when the file cannot be written.
 */
export function writeHeatmap(
  file: string, relevance: Float32Array, shape: readonly number[], layout: 'nchw' | 'nhwc', options: HeatmapCliOptions,
  images?: readonly Image[],
): void {
  const map = relevanceMap(relevance, shape, layout);
  const heatmapOptions: HeatmapOptions = {
    colormap: options.colormap, normalization: options.normalization, upscale: options.upscale,
    ...(map.shape[0]! > 1 ? { grid: true } : {}),
    ...(options.overlay && images !== undefined ? { overlay: { image: images.length === 1 ? images[0]! : images, alpha: options.alpha } } : {}),
  };
  const png = renderHeatmap(map, heatmapOptions);
  try {
    fs.writeFileSync(file, png);
  } catch (error) {
    throw new LrpError('E_IO', `${file}: cannot write the heatmap (${(error as Error).message})`, { file });
  }
}
