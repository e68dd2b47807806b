// Composites: named presets that map layers to rules, and user composites by type, name, index and first layer.
import { LrpError } from '../errors';
import type { LayerType } from '../model/layers';
import type { TensorLike } from '../model/tensor';
import { type Rule, rules } from './rules';

/** Layer types the "first layer" choice of a composite can target. */
export type FirstLayerType = 'dense' | 'conv2d';

/**
 * A composite: which rule each layer gets. The most specific choice wins:
 * `byName` > `byIndex` > `first` > `byType` > `linearDefault` (dense/conv2d) > the built-in defaults for
 * parameter-free layers (activations and unmerged BatchNorm: pass; average pools and add: norm; max pool, reshapes,
 * padding and concat: gradient).
 */
export interface Composite {
  /** Name shown by `describe` and reports. */
  name: string;
  /** Rules by layer type. */
  byType: Partial<Record<LayerType, Rule>>;
  /** Rules by layer name (ONNX node names for loaded models). */
  byName: Record<string, Rule>;
  /** Rules by node index (as in `model.layers`). */
  byIndex: Record<number, Rule>;
  /** A rule for the first layer (in graph order) whose type is in `types`. */
  first?: {
    /** The rule for that layer. */
    rule: Rule;
    /** Layer types that count as the first layer. */
    types: FirstLayerType[];
  };
  /** Rule for dense and conv2d layers nothing else covers. */
  linearDefault: Rule;
  /** Stabilizer of the Norm rule on average pools and residual adds. */
  normStabilizer: number;
}

/** Options of {@link composite}. */
export interface CompositeOptions {
  /** Name shown by `describe` and reports (default `'custom'`). */
  name?: string;
  /** Rules by layer type, e.g. `{ conv2d: rules.zPlus() }`. */
  byType?: Partial<Record<LayerType, Rule>>;
  /** Rules by layer name (ONNX node names for loaded models); every name must exist in the model. */
  byName?: Record<string, Rule>;
  /** Rules by node index (as in `model.layers`). */
  byIndex?: Record<number, Rule>;
  /** A rule for the first dense/conv2d layer, or `{ rule, types }` to restrict which types count as "first". */
  first?: Rule | {
    /** The rule for that layer. */
    rule: Rule;
    /** Layer types that count as the first layer (default both). */
    types?: FirstLayerType[];
  };
  /** Default `rules.epsilon()` (ε = 1e-6). */
  linearDefault?: Rule;
  /** Default 1e-6. */
  normStabilizer?: number;
}

/** Creates a user composite. */
export function composite(options: CompositeOptions = {}): Composite {
  let first: Composite['first'];
  if (options.first !== undefined) {
    const f = options.first as { rule?: unknown; types?: FirstLayerType[] };
    if (typeof f.rule === 'object' && f.rule !== null) {
      first = { rule: f.rule as Rule, types: f.types ?? ['dense', 'conv2d'] };
    } else {
      first = { rule: options.first as Rule, types: ['dense', 'conv2d'] };
    }
  }
  const normStabilizer = options.normStabilizer ?? 1e-6;
  if (!(normStabilizer >= 0) || !Number.isFinite(normStabilizer)) {
    throw new LrpError('E_RULE', `normStabilizer must be a finite number ≥ 0, got ${normStabilizer}`);
  }
  return {
    name: options.name ?? 'custom',
    byType: { ...(options.byType ?? {}) },
    byName: { ...(options.byName ?? {}) },
    byIndex: { ...(options.byIndex ?? {}) },
    first,
    linearDefault: options.linearDefault ?? rules.epsilon(),
    normStabilizer,
  };
}

/** Parameters of the standard composites; each composite reads the ones it needs. */
export interface CompositeParams {
  /** ε of the epsilon rule (default 1e-6). */
  epsilon?: number;
  /** Stabilizer of every other rule and of Norm (default 1e-6). */
  stabilizer?: number;
  /** γ of the gamma rule (default 0.25). */
  gamma?: number;
  /** α and β of the alpha-beta rule (default 2 and 1). */
  alpha?: number;
  /** β of the alpha-beta rule (default 1); α − β must be 1. */
  beta?: number;
  /** Bounds of the zBox rule on the first conv2d (required by epsilonGammaBox). */
  low?: number | TensorLike;
  /** Upper bound of the zBox rule: a number or a tensor of the first conv2d's per-sample input shape (required by epsilonGammaBox). */
  high?: number | TensorLike;
}

const eps = (p: CompositeParams): Rule => rules.epsilon({ epsilon: p.epsilon });
const zPlus = (p: CompositeParams): Rule => rules.zPlus({ stabilizer: p.stabilizer });
const alpha2beta1 = (p: CompositeParams): Rule => rules.alphaBeta({ alpha: 2, beta: 1, stabilizer: p.stabilizer });
const flat = (p: CompositeParams): Rule => rules.flat({ stabilizer: p.stabilizer });

function standard(name: string, p: CompositeParams, conv: Rule, denseRule: Rule, first?: Composite['first']): Composite {
  return composite({ name, byType: { conv2d: conv, dense: denseRule }, first, normStabilizer: p.stabilizer ?? 1e-6 });
}

/** The standard composites, with zennit's rule choices. */
export const composites = {
  /** ε on every dense and conv2d layer. */
  epsilon: (p: CompositeParams = {}): Composite => standard('epsilon', p, eps(p), eps(p)),
  /** z⁺ on conv2d, ε on dense. */
  epsilonPlus: (p: CompositeParams = {}): Composite => standard('epsilon-plus', p, zPlus(p), eps(p)),
  /** α2β1 on conv2d, ε on dense. */
  epsilonAlpha2Beta1: (p: CompositeParams = {}): Composite => standard('epsilon-alpha2-beta1', p, alpha2beta1(p), eps(p)),
  /** Flat on the first dense/conv2d, z⁺ on other conv2d, ε on dense. */
  epsilonPlusFlat: (p: CompositeParams = {}): Composite =>
    standard('epsilon-plus-flat', p, zPlus(p), eps(p), { rule: flat(p), types: ['dense', 'conv2d'] }),
  /** Flat on the first dense/conv2d, α2β1 on other conv2d, ε on dense. */
  epsilonAlpha2Beta1Flat: (p: CompositeParams = {}): Composite =>
    standard('epsilon-alpha2-beta1-flat', p, alpha2beta1(p), eps(p), { rule: flat(p), types: ['dense', 'conv2d'] }),
  /** zᴮ(low, high) on the first conv2d, γ on other conv2d, ε on dense. `low` and `high` are required. */
  epsilonGammaBox: (p: CompositeParams): Composite => {
    if (p?.low === undefined || p?.high === undefined) {
      throw new LrpError('E_RULE', 'epsilonGammaBox needs the input bounds: composites.epsilonGammaBox({ low, high })');
    }
    return standard('epsilon-gamma-box', p, rules.gamma({ gamma: p.gamma, stabilizer: p.stabilizer }), eps(p), {
      rule: rules.zBox({ low: p.low, high: p.high, stabilizer: p.stabilizer }), types: ['conv2d'],
    });
  },
  /** z⁺ on every dense and conv2d layer. */
  zPlus: (p: CompositeParams = {}): Composite => standard('zplus', p, zPlus(p), zPlus(p)),
  /** γ on every dense and conv2d layer. */
  gamma: (p: CompositeParams = {}): Composite => {
    const g = rules.gamma({ gamma: p.gamma, stabilizer: p.stabilizer });
    return standard('gamma', p, g, g);
  },
  /** αβ (default α2β1) on every dense and conv2d layer. */
  alphaBeta: (p: CompositeParams = {}): Composite => {
    const ab = rules.alphaBeta({ alpha: p.alpha, beta: p.beta, stabilizer: p.stabilizer });
    return standard('alpha-beta', p, ab, ab);
  },
  /** w² on the first dense/conv2d, ε elsewhere. */
  wSquareEpsilon: (p: CompositeParams = {}): Composite =>
    standard('wsquare-epsilon', p, eps(p), eps(p), { rule: rules.wSquare({ stabilizer: p.stabilizer }), types: ['dense', 'conv2d'] }),
};

/** Canonical names of the standard composites (as the command line and `compositeByName` accept them). */
export const COMPOSITE_NAMES = [
  'epsilon', 'epsilon-plus', 'epsilon-alpha2-beta1', 'epsilon-plus-flat', 'epsilon-alpha2-beta1-flat',
  'epsilon-gamma-box', 'zplus', 'gamma', 'alpha-beta', 'wsquare-epsilon',
] as const;

const BY_KEY: Record<string, (p: CompositeParams) => Composite> = {
  epsilon: composites.epsilon,
  epsilonplus: composites.epsilonPlus,
  epsilonalpha2beta1: composites.epsilonAlpha2Beta1,
  epsilonplusflat: composites.epsilonPlusFlat,
  epsilonalpha2beta1flat: composites.epsilonAlpha2Beta1Flat,
  epsilongammabox: composites.epsilonGammaBox,
  zplus: composites.zPlus,
  gamma: composites.gamma,
  alphabeta: composites.alphaBeta,
  wsquareepsilon: composites.wSquareEpsilon,
};

/**
 * A standard composite by name. Accepts `epsilon-plus`, zennit's `epsilon_plus`, `EpsilonPlus` and `epsilonPlus`.
 * Throws `E_ARGUMENT` listing the known names.
 */
export function compositeByName(name: string, params: CompositeParams = {}): Composite {
  const key = String(name).toLowerCase().replace(/[-_\s]/g, '');
  const make = BY_KEY[key];
  if (!make) throw new LrpError('E_ARGUMENT', `unknown composite '${name}'; known: ${COMPOSITE_NAMES.join(', ')}`);
  return make(params);
}
