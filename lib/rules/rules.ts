// Rule descriptions: which LRP rule a layer uses and its parameters (plain data; the native engine runs them).
import { LrpError } from '../errors';
import { type Tensor, type TensorLike, toTensor } from '../model/tensor';

/** Options every rule with a bias accepts. */
export interface BiasOptions {
  /** Treat the layer's bias as zero in the rule (relevance is then not absorbed by the bias). Default false. */
  ignoreBias?: boolean;
}

/** Options every stabilised rule accepts. */
export interface StabilizerOptions {
  /** Added to denominators with the sign of the denominator (`+` at zero), default 1e-6 (zennit's default). */
  stabilizer?: number;
}

/** LRP-0: `R_in = a ⊙ Wᵀ (R / stab(z))`. */
export interface Lrp0Rule {
  /** Always `'lrp0'`. */
  rule: 'lrp0';
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
  /** Treat the layer's bias as zero: it then drops out of `z`, so it absorbs no relevance. */
  ignoreBias: boolean;
}
/** LRP-ε: as LRP-0 with `epsilon` added to the denominator (with its sign). */
export interface EpsilonRule {
  /** Always `'epsilon'`. */
  rule: 'epsilon';
  /** Added to the denominator `z` with its sign (`+` at zero); it is the rule's only stabilizer, as in zennit's `Epsilon`. */
  epsilon: number;
  /** Treat the layer's bias as zero: it then drops out of `z`, so it absorbs no relevance. */
  ignoreBias: boolean;
}
/** LRP-z⁺: only positive contributions (`W⁺a⁺ + W⁻a⁻ + b⁺`). */
export interface ZPlusRule {
  /** Always `'zPlus'`. */
  rule: 'zPlus';
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
  /** Treat the layer's bias as zero: `b⁺` then drops out of the denominator. */
  ignoreBias: boolean;
}
/** LRP-αβ with α − β = 1. */
export interface AlphaBetaRule {
  /** Always `'alphaBeta'`. */
  rule: 'alphaBeta';
  /** Weight α ≥ 0 of the positive contributions' share (`W⁺a⁺ + W⁻a⁻ + b⁺`). */
  alpha: number;
  /** Weight β ≥ 0 of the negative contributions' share (`W⁻a⁺ + W⁺a⁻ + b⁻`), which is subtracted; α − β = 1. */
  beta: number;
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
  /** Treat the layer's bias as zero: `b⁺` and `b⁻` then drop out of the two denominators. */
  ignoreBias: boolean;
}
/** LRP-γ (zennit's generalised form, with the sign of `z` as a mask). */
export interface GammaRule {
  /** Always `'gamma'`. */
  rule: 'gamma';
  /** γ ≥ 0: how much contributions that agree with the output's sign are boosted (weights `W + γW⁺` / `W + γW⁻`); 0 is LRP-0. */
  gamma: number;
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
  /** Treat the layer's bias as zero: `b + γb⁺` and `b + γb⁻` then drop out of the denominators. */
  ignoreBias: boolean;
}
/** Flat: relevance spread uniformly over each output's receptive field. */
export interface FlatRule {
  /** Always `'flat'`. */
  rule: 'flat';
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
}
/** w²: relevance spread in proportion to the squared weights (the bias is squared too unless ignored). */
export interface WSquareRule {
  /** Always `'wSquare'`. */
  rule: 'wSquare';
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
  /** Treat the layer's bias as zero: `b²` then drops out of the denominator. */
  ignoreBias: boolean;
}
/** zᴮ (box rule) for inputs bounded by `low` and `high` (scalars or tensors of the layer's input shape). */
export interface ZBoxRule {
  /** Always `'zBox'`. */
  rule: 'zBox';
  /** Lowest value each input element can take: a number, or a tensor of the layer's per-sample input shape. */
  low: number | Tensor;
  /** Highest value each input element can take: a number, or a tensor of the layer's per-sample input shape. */
  high: number | Tensor;
  /** Added to the denominator with its sign (`+` at zero), as zennit's stabilizer. */
  stabilizer: number;
}
/** Pass: relevance goes through unchanged (element-wise activations, unmerged BatchNorm). */
export interface PassRule {
  /** Always `'pass'`. */
  rule: 'pass';
}
/** Norm: relevance split in proportion to the inputs' values (average pooling, residual sums). */
export interface NormRule {
  /** Always `'norm'`. */
  rule: 'norm';
  /** Added to the denominator (the sum, or for average pooling the average) with its sign (`+` at zero). */
  stabilizer: number;
}
/** Gradient: relevance follows the layer's gradient (max pooling to the arg-max, reshapes, padding, concat). */
export interface GradientRule {
  /** Always `'gradient'`. */
  rule: 'gradient';
}

/** Any rule. */
export type Rule =
  | Lrp0Rule | EpsilonRule | ZPlusRule | AlphaBetaRule | GammaRule | FlatRule | WSquareRule | ZBoxRule
  | PassRule | NormRule | GradientRule;

/** The name of every rule. */
export type RuleName = Rule['rule'];

const DEFAULT_STABILIZER = 1e-6;

/** Largest magnitude of a rule parameter: the engine computes in float32 and must not overflow. */
const MAX_PARAMETER = 1e30;

function finiteNumber(value: unknown, what: string, min = -Infinity, exclusiveMin = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (exclusiveMin && value === min) ||
      Math.abs(value) > MAX_PARAMETER) {
    const bound = min === -Infinity ? `a finite number within ±${MAX_PARAMETER}` : `a number ${exclusiveMin ? '>' : '≥'} ${min} and ≤ ${MAX_PARAMETER}`;
    throw new LrpError('E_RULE', `${what} must be ${bound}, got ${String(value)}`, { value });
  }
  return value;
}

function stabilizerOf(options: StabilizerOptions | undefined, rule: string): number {
  return finiteNumber(options?.stabilizer ?? DEFAULT_STABILIZER, `${rule}: stabilizer`, 0);
}

function ignoreBiasOf(options: BiasOptions | undefined): boolean {
  return options?.ignoreBias === true;
}

/** Builders for every rule, with validated parameters. */
export const rules = {
  /** LRP-0. */
  lrp0(options: StabilizerOptions & BiasOptions = {}): Lrp0Rule {
    return { rule: 'lrp0', stabilizer: stabilizerOf(options, 'lrp0'), ignoreBias: ignoreBiasOf(options) };
  },
  /** LRP-ε (default ε = 1e-6, as zennit). */
  epsilon(options: { epsilon?: number } & BiasOptions = {}): EpsilonRule {
    return {
      rule: 'epsilon', epsilon: finiteNumber(options.epsilon ?? 1e-6, 'epsilon: epsilon', 0), ignoreBias: ignoreBiasOf(options),
    };
  },
  /** LRP-z⁺. */
  zPlus(options: StabilizerOptions & BiasOptions = {}): ZPlusRule {
    return { rule: 'zPlus', stabilizer: stabilizerOf(options, 'zPlus'), ignoreBias: ignoreBiasOf(options) };
  },
  /** LRP-αβ; α − β must be 1 (default α = 2, β = 1). */
  alphaBeta(options: { alpha?: number; beta?: number } & StabilizerOptions & BiasOptions = {}): AlphaBetaRule {
    const alpha = finiteNumber(options.alpha ?? 2, 'alphaBeta: alpha', 0);
    const beta = finiteNumber(options.beta ?? 1, 'alphaBeta: beta', 0);
    if (Math.abs(alpha - beta - 1) > 1e-9) {
      throw new LrpError('E_RULE', `alphaBeta: alpha − beta must be 1 for relevance to be conserved, got alpha=${alpha}, beta=${beta}`, { alpha, beta });
    }
    return { rule: 'alphaBeta', alpha, beta, stabilizer: stabilizerOf(options, 'alphaBeta'), ignoreBias: ignoreBiasOf(options) };
  },
  /** LRP-γ; γ ≥ 0 (default 0.25, as zennit). */
  gamma(options: { gamma?: number } & StabilizerOptions & BiasOptions = {}): GammaRule {
    return {
      rule: 'gamma', gamma: finiteNumber(options.gamma ?? 0.25, 'gamma: gamma', 0),
      stabilizer: stabilizerOf(options, 'gamma'), ignoreBias: ignoreBiasOf(options),
    };
  },
  /** Flat. */
  flat(options: StabilizerOptions = {}): FlatRule {
    return { rule: 'flat', stabilizer: stabilizerOf(options, 'flat') };
  },
  /** w². */
  wSquare(options: StabilizerOptions & BiasOptions = {}): WSquareRule {
    return { rule: 'wSquare', stabilizer: stabilizerOf(options, 'wSquare'), ignoreBias: ignoreBiasOf(options) };
  },
  /**
   * zᴮ (box). `low` and `high` are required: numbers, or tensors of the layer's per-sample input shape.
   * Every element must satisfy low ≤ high.
   */
  zBox(options: { low: number | TensorLike; high: number | TensorLike } & StabilizerOptions): ZBoxRule {
    if (options === undefined || options.low === undefined || options.high === undefined) {
      throw new LrpError('E_RULE', 'zBox needs both bounds: rules.zBox({ low, high }), numbers or input-shaped tensors');
    }
    const bound = (v: number | TensorLike, what: string): number | Tensor => {
      if (typeof v === 'number') return finiteNumber(v, `zBox: ${what}`);
      const t = toTensor(v, `zBox ${what}`, true);
      for (const x of t.data) if (!Number.isFinite(x)) throw new LrpError('E_RULE', `zBox: ${what} contains a non-finite value`);
      return t;
    };
    const low = bound(options.low, 'low');
    const high = bound(options.high, 'high');
    const lowAt = (i: number): number => (typeof low === 'number' ? low : low.data[i]);
    const highAt = (i: number): number => (typeof high === 'number' ? high : high.data[i]);
    const size = Math.max(typeof low === 'number' ? 1 : low.data.length, typeof high === 'number' ? 1 : high.data.length);
    for (let i = 0; i < size; i++) {
      if (lowAt(i) > highAt(i)) throw new LrpError('E_RULE', `zBox: low (${lowAt(i)}) is above high (${highAt(i)}) at element ${i}`);
    }
    return { rule: 'zBox', low, high, stabilizer: stabilizerOf(options, 'zBox') };
  },
  /** Pass. */
  pass(): PassRule {
    return { rule: 'pass' };
  },
  /** Norm. */
  norm(options: StabilizerOptions = {}): NormRule {
    return { rule: 'norm', stabilizer: stabilizerOf(options, 'norm') };
  },
  /** Gradient. */
  gradient(): GradientRule {
    return { rule: 'gradient' };
  },
};

/** Short human-readable form of a rule, e.g. `epsilon(ε=0.01)`. */
export function describeRule(rule: Rule): string {
  switch (rule.rule) {
    case 'epsilon': return `epsilon(ε=${rule.epsilon}${rule.ignoreBias ? ', no bias' : ''})`;
    case 'alphaBeta': return `alphaBeta(α=${rule.alpha}, β=${rule.beta}${rule.ignoreBias ? ', no bias' : ''})`;
    case 'gamma': return `gamma(γ=${rule.gamma}${rule.ignoreBias ? ', no bias' : ''})`;
    case 'zBox': {
      const show = (b: number | Tensor): string => (typeof b === 'number' ? String(b) : `tensor[${b.shape.join('×')}]`);
      return `zBox(low=${show(rule.low)}, high=${show(rule.high)})`;
    }
    case 'lrp0': case 'zPlus': case 'wSquare':
      return `${rule.rule}${rule.ignoreBias ? '(no bias)' : ''}`;
    default: return rule.rule;
  }
}
