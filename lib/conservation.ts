// checkConservation: the per-sample conservation report of an explanation, optionally strict.
import { LrpError } from './errors';
import type { ConservationReport, ExplainResult } from './model/model';

/** Options of {@link checkConservation}. */
export interface ConservationOptions {
  /** Largest accepted `|input − output| / |output|` per sample (default 1e-5). */
  tolerance?: number;
  /** Throw `E_CONSERVATION` when a sample exceeds the tolerance (default false). */
  strict?: boolean;
}

/** A sample's conservation report with the verdict. */
export interface ConservationCheck extends ConservationReport {
  /** Whether `relativeError` is within the tolerance. */
  ok: boolean;
}

/**
 * Checks that each sample's input relevance sums to its explained output. Rules with biases or stabilizers absorb
 * some relevance by design; `absorbedByLayer` says where it went.
 */
export function checkConservation(result: Pick<ExplainResult, 'conservation'>, options: ConservationOptions = {}): ConservationCheck[] {
  const tolerance = options.tolerance ?? 1e-5;
  if (!(tolerance >= 0)) throw new LrpError('E_ARGUMENT', `tolerance must be ≥ 0, got ${tolerance}`);
  const checks = result.conservation.map((c) => ({ ...c, ok: c.relativeError <= tolerance }));
  const bad = checks.filter((c) => !c.ok);
  if (options.strict && bad.length > 0) {
    const worst = bad.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
    const where = worst.absorbedByLayer.slice().sort((a, b) => Math.abs(b.amount) - Math.abs(a.amount)).slice(0, 3)
      .map((l) => `${l.name} ${l.amount.toPrecision(3)}`).join(', ');
    throw new LrpError('E_CONSERVATION',
      `${bad.length} of ${checks.length} samples are not conserved within ${tolerance}: sample ${worst.sample} has output ` +
      `${worst.outputRelevance.toPrecision(6)} but input ${worst.inputRelevance.toPrecision(6)} (relative error ` +
      `${worst.relativeError.toExponential(2)}); largest absorbers: ${where || 'none'}`, { samples: bad.map((c) => c.sample) });
  }
  return checks;
}
