// Colormaps for heatmaps: zennit's built-in maps as colour stops, user maps, and the lookup from [0, 1] to RGB.
import { LrpError } from '../errors';

/** An RGB colour, each channel 0–255. */
export type Rgb = readonly [number, number, number];

/** One colour stop of a colormap: `color` at position `at` in [0, 1]; colours between stops are interpolated linearly. */
export interface ColorStop {
  /** Position in [0, 1]; stops must be given in ascending order. */
  at: number;
  /** The colour at that position, channels 0–255. */
  color: Rgb;
}

/** Names of the built-in colormaps (those of `zennit.image.CMAPS`). */
export type ColormapName =
  | 'bwr' | 'coldnhot' | 'seismic' | 'hot' | 'cold' | 'gray' | 'wred' | 'wblue' | 'france' | 'coolio' | 'coleus';

/** A colormap: a built-in name or the user's own colour stops (at least two, from 0 to 1). */
export type Colormap = ColormapName | readonly ColorStop[];

const stop = (at: number, hex: number): ColorStop => ({ at, color: [(hex >> 16) & 255, (hex >> 8) & 255, hex & 255] });

/**
 * The built-in colormaps, transcribed from zennit's colour-map source strings (`zennit/image.py`, e.g. bwr is
 * `'00f,80:fff,f00'`). zennit places stops at 8-bit indices 0–255, and unindexed stops evenly between their neighbours
 * (rounded down); we use those indices divided by 255 — except zennit's centre index `0x80`, which we put at exactly
 * 0.5 so that a relevance of zero under symmetric normalisation gets exactly the middle colour (white for bwr)
 * rather than zennit's slightly off-centre (253, 253, 255).
 */
export const COLORMAPS: Readonly<Record<ColormapName, readonly ColorStop[]>> = {
  // black to white
  gray: [stop(0, 0x000000), stop(1, 0xffffff)],
  // white to red
  wred: [stop(0, 0xffffff), stop(1, 0xff0000)],
  // white to blue
  wblue: [stop(0, 0xffffff), stop(1, 0x0000ff)],
  // black to red to yellow to white ('000,f00,ff0,fff': indices 0, 85, 170, 255)
  hot: [stop(0, 0x000000), stop(85 / 255, 0xff0000), stop(170 / 255, 0xffff00), stop(1, 0xffffff)],
  // black to blue to cyan ('000,00f,0ff': indices 0, 127, 255)
  cold: [stop(0, 0x000000), stop(127 / 255, 0x0000ff), stop(1, 0x00ffff)],
  // cold reversed, then hot, centred on black ('0ff,00f,80:000,f00,ff0,fff': indices 0, 64, 128, 170, 212, 255)
  coldnhot: [
    stop(0, 0x00ffff), stop(64 / 255, 0x0000ff), stop(0.5, 0x000000),
    stop(170 / 255, 0xff0000), stop(212 / 255, 0xffff00), stop(1, 0xffffff),
  ],
  // blue to white to red ('00f,80:fff,f00')
  bwr: [stop(0, 0x0000ff), stop(0.5, 0xffffff), stop(1, 0xff0000)],
  // the blue, white and red of the French flag ('0055a4,80:fff,ef4135')
  france: [stop(0, 0x0055a4), stop(0.5, 0xffffff), stop(1, 0xef4135)],
  // blue to grey to red with brightness 0xd0 ('0000d0,80:d0d0d0,d00000')
  seismic: [stop(0, 0x0000d0), stop(0.5, 0xd0d0d0), stop(1, 0xd00000)],
  // cyan to grey to magenta with brightness 0xd0
  coolio: [stop(0, 0x00d0d0), stop(0.5, 0xd0d0d0), stop(1, 0xd000d0)],
  // green to grey to magenta with brightness 0xd0
  coleus: [stop(0, 0x00d000), stop(0.5, 0xd0d0d0), stop(1, 0xd000d0)],
};

/** Every built-in colormap name. */
export const COLORMAP_NAMES = Object.keys(COLORMAPS) as ColormapName[];

/**
 * Returns the validated colour stops of `colormap` (a built-in name or user stops). User stops need at least two
 * entries, positions ascending within [0, 1], the first at 0 and the last at 1, and channels within 0–255.
 * Throws `E_ARGUMENT` naming what is wrong.
 */
export function colormapStops(colormap: Colormap): readonly ColorStop[] {
  if (typeof colormap === 'string') {
    const stops = (COLORMAPS as Record<string, readonly ColorStop[]>)[colormap];
    if (stops === undefined || !Object.prototype.hasOwnProperty.call(COLORMAPS, colormap)) {
      throw new LrpError('E_ARGUMENT', `colormap: unknown name '${colormap}'; expected one of ${COLORMAP_NAMES.join(', ')} or an array of colour stops`, { colormap });
    }
    return stops;
  }
  if (!Array.isArray(colormap) || colormap.length < 2) {
    throw new LrpError('E_ARGUMENT', 'colormap: expected a built-in name or an array of at least two colour stops { at, color: [r, g, b] }');
  }
  colormap.forEach((entry: ColorStop, index: number) => {
    const at = entry?.at;
    if (typeof at !== 'number' || !(at >= 0 && at <= 1)) {
      throw new LrpError('E_ARGUMENT', `colormap stop ${index}: 'at' must be a number in [0, 1], got ${String(at)}`);
    }
    if (index > 0 && at < colormap[index - 1]!.at) {
      throw new LrpError('E_ARGUMENT', `colormap stop ${index}: positions must ascend, but ${at} follows ${colormap[index - 1]!.at}`);
    }
    const color = entry.color;
    if (!Array.isArray(color) || color.length !== 3 || !color.every((c) => typeof c === 'number' && c >= 0 && c <= 255)) {
      throw new LrpError('E_ARGUMENT', `colormap stop ${index}: 'color' must be [r, g, b] with channels in 0–255, got ${JSON.stringify(color)}`);
    }
  });
  if (colormap[0]!.at !== 0 || colormap[colormap.length - 1]!.at !== 1) {
    throw new LrpError('E_ARGUMENT', `colormap: the first stop must be at 0 and the last at 1, got ${colormap[0]!.at} and ${colormap[colormap.length - 1]!.at}`);
  }
  return colormap;
}

/**
 * Maps `value` (clipped to [0, 1]) to a colour by linear interpolation between the stops, rounded to integers.
 * `stops` must come from {@link colormapStops}. Writes the RGB channels into `out` at `offset`.
 */
export function mapColor(stops: readonly ColorStop[], value: number, out: Uint8Array, offset: number): void {
  const x = value > 0 ? (value < 1 ? value : 1) : 0; // also maps NaN to 0
  let upper = 1;
  while (upper < stops.length - 1 && stops[upper]!.at < x) upper++;
  const low = stops[upper - 1]!;
  const high = stops[upper]!;
  const span = high.at - low.at;
  const t = span > 0 ? (x - low.at) / span : 1;
  for (let c = 0; c < 3; c++) {
    out[offset + c] = Math.round(low.color[c]! + (high.color[c]! - low.color[c]!) * t);
  }
}

/** The colour of `colormap` at `value` in [0, 1], e.g. `colorAt('bwr', 0.5)` is white. Throws `E_ARGUMENT` for a bad colormap. */
export function colorAt(colormap: Colormap, value: number): [number, number, number] {
  const out = new Uint8Array(3);
  mapColor(colormapStops(colormap), value, out, 0);
  return [out[0]!, out[1]!, out[2]!];
}
