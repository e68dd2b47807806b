// Feature rankings for tabular models: which named inputs spoke for and against a prediction, and a text report.
import { LrpError } from '../errors';

/** Options of {@link rankFeatures}. */
export interface RankFeaturesOptions {
  /** Keep at most this many features on each side (default: all). */
  top?: number;
  /** The input row that was explained, reported next to each feature's relevance. */
  values?: ArrayLike<number>;
}

/** One feature in a {@link FeatureRanking}. */
export interface RankedFeature {
  /** The feature's name, from the `names` given to {@link rankFeatures}. */
  name: string;
  /** The feature's input value, when {@link RankFeaturesOptions.values} was given. */
  value?: number;
  /** The feature's relevance (never 0: features without relevance are left out). */
  relevance: number;
}

/** Features with positive relevance (evidence for the explained output) and negative (against), strongest first. */
export interface FeatureRanking {
  /** Features with relevance > 0 (evidence for the output), largest first, at most `top`. */
  positive: RankedFeature[];
  /** Features with relevance < 0 (evidence against), most negative first, at most `top`. */
  negative: RankedFeature[];
}

/** Options of {@link formatFeatureReport}. */
export interface FeatureReportOptions {
  /** Significant digits of relevances and values (default 3). */
  digits?: number;
}

/**
 * Splits one row of relevance into the features that raised the explained output (positive relevance) and those
 * that lowered it (negative), each sorted by magnitude, strongest first; features with zero relevance are left out.
 * Throws `E_SHAPE` when `names` (or `values`) do not match the relevance's length, `E_ARGUMENT` for a bad `top`,
 * `E_NON_FINITE` for NaN or infinite relevance.
 *
 * @example
 * const ranking = rankFeatures(relevance, ['income', 'missed payments'], { values: row, top: 5 });
 * console.log(formatFeatureReport(ranking));
 */
export function rankFeatures(
  relevance: Float32Array | Float64Array | readonly number[], names: readonly string[], options: RankFeaturesOptions = {},
): FeatureRanking {
  if (names.length !== relevance.length) {
    throw new LrpError('E_SHAPE', `rankFeatures: ${names.length} names for ${relevance.length} relevance values; expected one name per feature`);
  }
  const { values } = options;
  if (values !== undefined && values.length !== relevance.length) {
    throw new LrpError('E_SHAPE', `rankFeatures: ${values.length} values for ${relevance.length} relevance values; expected the explained input row`);
  }
  const top = options.top ?? Infinity;
  if (!(top === Infinity || (Number.isSafeInteger(top) && top >= 0))) {
    throw new LrpError('E_ARGUMENT', `rankFeatures: 'top' must be a non-negative integer, got ${String(top)}`);
  }
  const features: RankedFeature[] = [];
  for (let i = 0; i < relevance.length; i++) {
    const r = relevance[i]!;
    if (!Number.isFinite(r)) {
      throw new LrpError('E_NON_FINITE', `rankFeatures: feature '${names[i]}' has a non-finite relevance (${r})`, { feature: names[i] });
    }
    if (r === 0) continue;
    features.push(values === undefined ? { name: names[i]!, relevance: r } : { name: names[i]!, value: values[i]!, relevance: r });
  }
  const byMagnitude = (a: RankedFeature, b: RankedFeature): number => Math.abs(b.relevance) - Math.abs(a.relevance);
  return {
    positive: features.filter((f) => f.relevance > 0).sort(byMagnitude).slice(0, top),
    negative: features.filter((f) => f.relevance < 0).sort(byMagnitude).slice(0, top),
  };
}

/**
 * Formats a {@link FeatureRanking} as a plain-text report, one feature per line with its signed relevance and, when
 * known, its input value:
 * ```
 * For (positive relevance):
 *   income           +2.3   (value 52000)
 * Against (negative relevance):
 *   missed payments  -4.1   (value 3)
 * ```
 */
export function formatFeatureReport(ranking: FeatureRanking, options: FeatureReportOptions = {}): string {
  const digits = options.digits ?? 3;
  if (!(Number.isSafeInteger(digits) && digits >= 1 && digits <= 21)) {
    throw new LrpError('E_ARGUMENT', `formatFeatureReport: 'digits' must be an integer in [1, 21], got ${String(digits)}`);
  }
  const format = (x: number): string => String(Number(x.toPrecision(digits)));
  const all = [...ranking.positive, ...ranking.negative];
  const nameWidth = Math.max(0, ...all.map((f) => f.name.length));
  const relevanceWidth = Math.max(0, ...all.map((f) => format(Math.abs(f.relevance)).length + 1));
  const line = (f: RankedFeature): string => {
    const signed = (f.relevance > 0 ? '+' : '-') + format(Math.abs(f.relevance));
    const value = f.value === undefined ? '' : `   (value ${format(f.value)})`;
    return `  ${f.name.padEnd(nameWidth)}  ${signed.padStart(relevanceWidth)}${value}`.trimEnd();
  };
  const section = (title: string, features: RankedFeature[]): string[] =>
    [title, ...(features.length === 0 ? ['  (none)'] : features.map(line))];
  return [
    ...section('For (positive relevance):', ranking.positive),
    ...section('Against (negative relevance):', ranking.negative),
  ].join('\n') + '\n';
}
