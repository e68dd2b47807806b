// A small float64 LRP reference, written straight from the formulas of test/fixtures/refs/README.md (naive loops).
import type { Graph, GraphNode } from '../../lib/model/graph';
import type { Layer } from '../../lib/model/layers';
import type { Rule } from '../../lib/rules/rules';

/** Per-sample values of one tensor, row-major. */
type Vec = Float64Array;

/** What to explain: a class index per sample, or the output relevance `[N, outputs]` itself. */
export type Target64 = { classes: ArrayLike<number> } | { outputRelevance: ArrayLike<number> };

/** The reference result, all float64. */
export interface Result64 {
  /** `[N, outputs]`. */
  logits: Float64Array;
  /** `[N, ...inputShape]`. */
  relevance: Float64Array;
  /** Relevance at each node's output, `[N, ...outputShape]`, in graph order. */
  layerRelevance: Float64Array[];
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `t + e·sign0(t)` with `sign0(0) = +1`: a zero denominator becomes `+e`. */
export function stab(t: number, e: number): number {
  return t >= 0 ? t + e : t - e;
}

const pos = (x: number): number => (x > 0 ? x : 0);
const neg = (x: number): number => (x < 0 ? x : 0);

// ---------------------------------------------------------------- linear maps (dense and conv2d)

type LinearLayer = Extract<Layer, { type: 'dense' | 'conv2d' }>;

/** `W x + b` for a dense or conv2d node, with any weight array of the layer's weight shape. */
function linearForward(node: GraphNode, weight: ArrayLike<number>, bias: ArrayLike<number> | null, x: Vec): Vec {
  const layer = node.layer as LinearLayer;
  const out = new Float64Array(size(node.outputShape));
  if (layer.type === 'dense') {
    const [outF, inF] = layer.weight.shape;
    for (let o = 0; o < outF; o++) {
      let sum = 0;
      for (let i = 0; i < inF; i++) sum += weight[o * inF + i] * x[i];
      out[o] = sum + (bias ? bias[o] : 0);
    }
    return out;
  }
  const [C, H, W] = node.inputShapes[0];
  const [O, OH, OW] = node.outputShape;
  const [, cg, KH, KW] = layer.weight.shape;
  const og = O / layer.groups;
  const [sh, sw] = layer.stride;
  const [dh, dw] = layer.dilation;
  const [pt, pl] = layer.padding;
  void C;
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / og);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let sum = 0;
        for (let ci = 0; ci < cg; ci++) {
          const c = g * cg + ci;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - pt + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - pl + kw * dw;
              if (iw < 0 || iw >= W) continue;
              sum += weight[((o * cg + ci) * KH + kh) * KW + kw] * x[(c * H + ih) * W + iw];
            }
          }
        }
        out[(o * OH + oh) * OW + ow] = sum + (bias ? bias[o] : 0);
      }
    }
  }
  return out;
}

/** `Wᵀ s` (the gradient of `W x` with respect to `x`) for a dense or conv2d node. */
function linearTranspose(node: GraphNode, weight: ArrayLike<number>, s: Vec): Vec {
  const layer = node.layer as LinearLayer;
  const out = new Float64Array(size(node.inputShapes[0]));
  if (layer.type === 'dense') {
    const [outF, inF] = layer.weight.shape;
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) out[i] += weight[o * inF + i] * s[o];
    }
    return out;
  }
  const [, H, W] = node.inputShapes[0];
  const [O, OH, OW] = node.outputShape;
  const [, cg, KH, KW] = layer.weight.shape;
  const og = O / layer.groups;
  const [sh, sw] = layer.stride;
  const [dh, dw] = layer.dilation;
  const [pt, pl] = layer.padding;
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / og);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const so = s[(o * OH + oh) * OW + ow];
        for (let ci = 0; ci < cg; ci++) {
          const c = g * cg + ci;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - pt + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - pl + kw * dw;
              if (iw < 0 || iw >= W) continue;
              out[(c * H + ih) * W + iw] += weight[((o * cg + ci) * KH + kh) * KW + kw] * so;
            }
          }
        }
      }
    }
  }
  return out;
}

const mapArray = (a: ArrayLike<number>, f: (x: number) => number): Float64Array => Float64Array.from(a as ArrayLike<number>, f);
const addArrays = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>, (x, i) => x + b[i]);
const scaleAdd = (a: ArrayLike<number>, ka: number, b: ArrayLike<number>, kb: number): Float64Array =>
  Float64Array.from(a as ArrayLike<number>, (x, i) => ka * x + kb * b[i]);
const mul = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>, (x, i) => x * b[i]);

/** One linear layer's relevance step under `rule`: `R_in` from the layer input `a` and the output relevance `R`. */
function linearRelevance(node: GraphNode, rule: Rule, a: Vec, R: Vec): Vec {
  const layer = node.layer as LinearLayer;
  const W = layer.weight.data as ArrayLike<number>;
  const ignoreBias = 'ignoreBias' in rule && rule.ignoreBias;
  const outSize = R.length;
  // The bias broadcast to the output shape (per output channel for conv2d), zero when absent or ignored.
  const perChannel = layer.type === 'conv2d' ? outSize / layer.weight.shape[0] : 1;
  const b = Float64Array.from({ length: outSize }, (_, j) => (layer.bias && !ignoreBias ? layer.bias.data[Math.floor(j / perChannel)] : 0));
  const fwd = (w: ArrayLike<number>, bias: ArrayLike<number> | null, x: Vec): Vec => linearForward(node, w, bias, x);
  const tr = (w: ArrayLike<number>, s: Vec): Vec => linearTranspose(node, w, s);
  const divide = (z: Vec, e: number): Vec => Float64Array.from(R, (r, j) => r / stab(z[j], e));
  const Wp = mapArray(W, pos);
  const Wn = mapArray(W, neg);
  const ap = mapArray(a, pos);
  const an = mapArray(a, neg);
  switch (rule.rule) {
    case 'lrp0':
    case 'epsilon': {
      const z = addArrays(fwd(W, null, a), b);
      const s = divide(z, rule.rule === 'epsilon' ? rule.epsilon : rule.stabilizer);
      return mul(a, tr(W, s));
    }
    case 'zPlus': {
      const z = addArrays(addArrays(fwd(Wp, null, ap), fwd(Wn, null, an)), mapArray(b, pos));
      const s = divide(z, rule.stabilizer);
      return addArrays(mul(ap, tr(Wp, s)), mul(an, tr(Wn, s)));
    }
    case 'alphaBeta': {
      const zp = addArrays(addArrays(fwd(Wp, null, ap), fwd(Wn, null, an)), mapArray(b, pos));
      const zn = addArrays(addArrays(fwd(Wn, null, ap), fwd(Wp, null, an)), mapArray(b, neg));
      const sp = divide(zp, rule.stabilizer);
      const sn = divide(zn, rule.stabilizer);
      const rp = addArrays(mul(ap, tr(Wp, sp)), mul(an, tr(Wn, sp)));
      const rn = addArrays(mul(ap, tr(Wn, sn)), mul(an, tr(Wp, sn)));
      return scaleAdd(rp, rule.alpha, rn, -rule.beta);
    }
    case 'gamma': {
      const g = rule.gamma;
      const Wgp = scaleAdd(W, 1, Wp, g); // W + γW⁺
      const Wgn = scaleAdd(W, 1, Wn, g); // W + γW⁻
      const z = addArrays(fwd(W, null, a), b);
      const zp = addArrays(addArrays(fwd(Wgp, null, ap), fwd(Wgn, null, an)), scaleAdd(b, 1, mapArray(b, pos), g));
      const zn = addArrays(addArrays(fwd(Wgn, null, ap), fwd(Wgp, null, an)), scaleAdd(b, 1, mapArray(b, neg), g));
      const sp = Float64Array.from(R, (r, j) => (z[j] > 0 ? r / stab(zp[j], rule.stabilizer) : 0));
      const sn = Float64Array.from(R, (r, j) => (z[j] < 0 ? r / stab(zn[j], rule.stabilizer) : 0));
      return addArrays(mul(ap, addArrays(tr(Wgp, sp), tr(Wgn, sn))), mul(an, addArrays(tr(Wgn, sp), tr(Wgp, sn))));
    }
    case 'wSquare': {
      const W2 = mapArray(W, (w) => w * w);
      const z = addArrays(fwd(W2, null, new Float64Array(a.length).fill(1)), mapArray(b, (x) => x * x));
      return tr(W2, divide(z, rule.stabilizer));
    }
    case 'flat': {
      const ones = new Float64Array(W.length).fill(1);
      const z = fwd(ones, null, new Float64Array(a.length).fill(1));
      return tr(ones, divide(z, rule.stabilizer));
    }
    case 'zBox': {
      const bound = (v: number | { data: ArrayLike<number> }): Vec =>
        (typeof v === 'number' ? new Float64Array(a.length).fill(v) : Float64Array.from(v.data as ArrayLike<number>));
      const L = bound(rule.low);
      const Hb = bound(rule.high);
      // The biases cancel (b − b⁺ − b⁻ = 0); zero padding applies to L and H through the conv itself.
      const z = scaleAdd(scaleAdd(fwd(W, null, a), 1, fwd(Wp, null, L), -1), 1, fwd(Wn, null, Hb), -1);
      const s = divide(z, rule.stabilizer);
      return scaleAdd(scaleAdd(mul(a, tr(W, s)), 1, mul(L, tr(Wp, s)), -1), 1, mul(Hb, tr(Wn, s)), -1);
    }
    default:
      throw new Error(`reference: rule '${rule.rule}' does not apply to ${layer.type} layer '${node.name}'`);
  }
}

// ---------------------------------------------------------------- pooling geometry

interface Window { hs: number; he: number; ws: number; we: number; divisor: number }

/** Input rows/columns covered by output (oh, ow) of an average pool, clipped to the input, and its divisor (torch's rule). */
function avgWindow(node: GraphNode, oh: number, ow: number): Window {
  const layer = node.layer as Extract<Layer, { type: 'avgPool2d' }>;
  const [, H, W] = node.inputShapes[0];
  const [pt, pl, pb, pr] = layer.padding;
  let hs = oh * layer.stride[0] - pt;
  let ws = ow * layer.stride[1] - pl;
  let he = Math.min(hs + layer.kernel[0], H + pb);
  let we = Math.min(ws + layer.kernel[1], W + pr);
  const padded = (he - hs) * (we - ws);
  hs = Math.max(hs, 0);
  ws = Math.max(ws, 0);
  he = Math.min(he, H);
  we = Math.min(we, W);
  const divisor = layer.countIncludePad ? padded : (he - hs) * (we - ws);
  return { hs, he, ws, we, divisor };
}

// ---------------------------------------------------------------- activations

function erf(x: number): number {
  // Series for small |x|, continued fraction of erfc for large |x|; accurate to ~1e-15.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; n++) {
      term *= -x * x / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz-free backward evaluation)
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x > 0 ? 1 - erfc : erfc - 1;
}

function activation(layer: Extract<Layer, { type: 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'elu' | 'gelu' }>, x: number): number {
  switch (layer.type) {
    case 'relu': return x > 0 ? x : 0;
    case 'leakyRelu': return x >= 0 ? x : (layer.alpha ?? 0.01) * x;
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'elu': return x > 0 ? x : (layer.alpha ?? 1) * (Math.exp(x) - 1);
    case 'gelu':
      if (layer.approximate === 'tanh') return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    default: throw new Error('unreachable');
  }
}

// ---------------------------------------------------------------- forward and relevance per node

/** Strides of a per-sample shape, for concat. */
function outerInner(shape: readonly number[], axis: number): [number, number] {
  return [size(shape.slice(0, axis)), size(shape.slice(axis + 1))];
}

function forwardNode(node: GraphNode, xs: Vec[]): Vec {
  const layer = node.layer;
  const x = xs[0];
  switch (layer.type) {
    case 'dense':
    case 'conv2d':
      return linearForward(node, layer.weight.data, layer.bias ? layer.bias.data : null, x);
    case 'maxPool2d': {
      const [C, H, W] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const out = new Float64Array(size(node.outputShape));
      for (let c = 0; c < C; c++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const best = maxPoolArgmax(node, x, c, oh, ow);
            out[(c * OH + oh) * OW + ow] = best < 0 ? -Infinity : x[best];
          }
        }
      }
      void H; void W;
      return out;
    }
    case 'avgPool2d': {
      const [C, H, W] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const out = new Float64Array(size(node.outputShape));
      for (let c = 0; c < C; c++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const w = avgWindow(node, oh, ow);
            let sum = 0;
            for (let h = w.hs; h < w.he; h++) for (let v = w.ws; v < w.we; v++) sum += x[(c * H + h) * W + v];
            out[(c * OH + oh) * OW + ow] = sum / w.divisor;
          }
        }
      }
      return out;
    }
    case 'globalAvgPool': {
      const [C, H, W] = node.inputShapes[0];
      const out = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let k = 0; k < H * W; k++) sum += x[c * H * W + k];
        out[c] = sum / (H * W);
      }
      return out;
    }
    case 'batchNorm': {
      const C = node.inputShapes[0][0];
      const inner = x.length / C;
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) {
        const scale = layer.weight.data[c] / Math.sqrt(layer.runningVar.data[c] + layer.eps);
        for (let k = 0; k < inner; k++) {
          out[c * inner + k] = (x[c * inner + k] - layer.runningMean.data[c]) * scale + layer.bias.data[c];
        }
      }
      return out;
    }
    case 'relu': case 'leakyRelu': case 'tanh': case 'sigmoid': case 'elu': case 'gelu':
      return mapArray(x, (v) => activation(layer, v));
    case 'flatten':
    case 'reshape':
      return Float64Array.from(x);
    case 'add': {
      const out = new Float64Array(x.length);
      for (const xi of xs) for (let k = 0; k < out.length; k++) out[k] += xi[k];
      return out;
    }
    case 'concat': {
      const axis = layer.axis - 1;
      const out = new Float64Array(size(node.outputShape));
      const [outer, inner] = outerInner(node.outputShape, axis);
      const total = node.outputShape[axis];
      let offset = 0;
      xs.forEach((xi, k) => {
        const n = node.inputShapes[k][axis];
        for (let o = 0; o < outer; o++) {
          for (let a = 0; a < n; a++) {
            for (let i = 0; i < inner; i++) out[(o * total + offset + a) * inner + i] = xi[(o * n + a) * inner + i];
          }
        }
        offset += n;
      });
      return out;
    }
    case 'pad': {
      const [C, H, W] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const [pt, pl] = layer.padding;
      const out = new Float64Array(size(node.outputShape));
      for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[(c * OH + h + pt) * OW + w + pl] = x[(c * H + h) * W + w];
      return out;
    }
    default:
      throw new Error(`reference: unknown layer '${(layer as { type: string }).type}'`);
  }
}

/** Flat index (within the sample) of the first maximum in max-pool window (c, oh, ow); padded positions never win. */
function maxPoolArgmax(node: GraphNode, x: Vec, c: number, oh: number, ow: number): number {
  const layer = node.layer as Extract<Layer, { type: 'maxPool2d' }>;
  const [, H, W] = node.inputShapes[0];
  let best = -1;
  for (let kh = 0; kh < layer.kernel[0]; kh++) {
    const h = oh * layer.stride[0] - layer.padding[0] + kh * layer.dilation[0];
    if (h < 0 || h >= H) continue;
    for (let kw = 0; kw < layer.kernel[1]; kw++) {
      const w = ow * layer.stride[1] - layer.padding[1] + kw * layer.dilation[1];
      if (w < 0 || w >= W) continue;
      const k = (c * H + h) * W + w;
      if (best < 0 || x[k] > x[best]) best = k;
    }
  }
  return best;
}

/** The relevance each input of `node` receives, from its inputs' activations `xs`, its output `z` and relevance `R`. */
function relevanceNode(node: GraphNode, rule: Rule, xs: Vec[], z: Vec, R: Vec): Vec[] {
  const layer = node.layer;
  const x = xs[0];
  const expect = (...names: Rule['rule'][]): void => {
    if (!names.includes(rule.rule)) throw new Error(`reference: rule '${rule.rule}' on ${layer.type} layer '${node.name}'`);
  };
  switch (layer.type) {
    case 'dense':
    case 'conv2d':
      return [linearRelevance(node, rule, x, R)];
    case 'maxPool2d': {
      expect('gradient');
      const [C] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const best = maxPoolArgmax(node, x, c, oh, ow);
            if (best >= 0) out[best] += R[(c * OH + oh) * OW + ow];
          }
        }
      }
      return [out];
    }
    case 'avgPool2d': {
      expect('norm');
      const e = (rule as { stabilizer: number }).stabilizer;
      const [C, H, W] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) {
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const j = (c * OH + oh) * OW + ow;
            const w = avgWindow(node, oh, ow);
            const s = R[j] / stab(z[j], e) / w.divisor;
            for (let h = w.hs; h < w.he; h++) for (let v = w.ws; v < w.we; v++) out[(c * H + h) * W + v] += x[(c * H + h) * W + v] * s;
          }
        }
      }
      return [out];
    }
    case 'globalAvgPool': {
      expect('norm');
      const e = (rule as { stabilizer: number }).stabilizer;
      const [C, H, W] = node.inputShapes[0];
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) {
        const s = R[c] / stab(z[c], e) / (H * W);
        for (let k = 0; k < H * W; k++) out[c * H * W + k] = x[c * H * W + k] * s;
      }
      return [out];
    }
    case 'batchNorm':
    case 'relu': case 'leakyRelu': case 'tanh': case 'sigmoid': case 'elu': case 'gelu':
      expect('pass');
      return [Float64Array.from(R)];
    case 'flatten':
    case 'reshape':
      expect('gradient');
      return [Float64Array.from(R)];
    case 'add': {
      expect('norm');
      const e = (rule as { stabilizer: number }).stabilizer;
      // One shared stabilized denominator for all branches.
      const s = Float64Array.from(R, (r, k) => r / stab(z[k], e));
      return xs.map((xi) => mul(xi, s));
    }
    case 'concat': {
      expect('gradient');
      const axis = layer.axis - 1;
      const [outer, inner] = outerInner(node.outputShape, axis);
      const total = node.outputShape[axis];
      let offset = 0;
      return xs.map((xi, k) => {
        const n = node.inputShapes[k][axis];
        const out = new Float64Array(xi.length);
        for (let o = 0; o < outer; o++) {
          for (let a = 0; a < n; a++) {
            for (let i = 0; i < inner; i++) out[(o * n + a) * inner + i] = R[(o * total + offset + a) * inner + i];
          }
        }
        offset += n;
        return out;
      });
    }
    case 'pad': {
      expect('gradient');
      const [C, H, W] = node.inputShapes[0];
      const [, OH, OW] = node.outputShape;
      const [pt, pl] = layer.padding;
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[(c * H + h) * W + w] = R[(c * OH + h + pt) * OW + w + pl];
      return [out];
    }
    default:
      throw new Error(`reference: unknown layer '${(layer as { type: string }).type}'`);
  }
}

// ---------------------------------------------------------------- the whole graph

/** Forward pass of one sample: the output of every node. */
export function forward64(graph: Graph, sample: ArrayLike<number>): Vec[] {
  const input = Float64Array.from(sample);
  const outputs: Vec[] = [];
  for (const node of graph.nodes) outputs.push(forwardNode(node, node.inputs.map((j) => (j < 0 ? input : outputs[j]))));
  return outputs;
}

/**
 * Explains `input` (`[N, ...graph.inputShape]`, float64 or float32) in float64. `rules[i]` is node i's rule
 * (from `assignRules(graph, composite)`). Relevance arriving at a node from several consumers adds up.
 */
export function explain64(graph: Graph, rules: Rule[], input: ArrayLike<number>, target: Target64): Result64 {
  const inSize = size(graph.inputShape);
  const nodes = graph.nodes;
  const last = nodes.length - 1;
  const outSize = size(nodes[last].outputShape);
  const batch = input.length / inSize;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`reference: input has ${input.length} values, sample size ${inSize}`);
  const logits = new Float64Array(batch * outSize);
  const relevance = new Float64Array(batch * inSize);
  const layerRelevance = nodes.map((n) => new Float64Array(batch * size(n.outputShape)));
  for (let s = 0; s < batch; s++) {
    const sample = Float64Array.from({ length: inSize }, (_, k) => input[s * inSize + k]);
    const outputs = forward64(graph, sample);
    const y = outputs[last];
    logits.set(y, s * outSize);
    const R: (Vec | null)[] = nodes.map(() => null);
    const start = new Float64Array(outSize);
    if ('classes' in target) {
      const k = Number(target.classes[s]);
      start[k] = y[k];
    } else {
      for (let j = 0; j < outSize; j++) start[j] = target.outputRelevance[s * outSize + j];
    }
    R[last] = start;
    const inputRelevance = new Float64Array(inSize);
    for (let i = last; i >= 0; i--) {
      const node = nodes[i];
      const Ri = R[i] ?? new Float64Array(size(node.outputShape)); // a node nothing reads gets no relevance
      layerRelevance[i].set(Ri, s * Ri.length);
      const xs = node.inputs.map((j) => (j < 0 ? sample : outputs[j]));
      const parts = relevanceNode(node, rules[i], xs, outputs[i], Ri);
      node.inputs.forEach((j, k) => {
        const target = j < 0 ? inputRelevance : (R[j] ??= new Float64Array(size(nodes[j].outputShape)));
        for (let e = 0; e < target.length; e++) target[e] += parts[k][e];
      });
    }
    relevance.set(inputRelevance, s * inSize);
  }
  return { logits, relevance, layerRelevance };
}

/** The golden metric: max over samples of `max|R − R_ref| / max|R_ref|` (NaN when anything is NaN). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, batch: number): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  const per = expected.length / batch;
  let worst = 0;
  for (let s = 0; s < batch; s++) {
    let diff = 0;
    let scale = 0;
    for (let i = s * per; i < (s + 1) * per; i++) {
      const d = Math.abs(actual[i] - expected[i]);
      if (!(d <= diff)) diff = d;
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const err = scale > 0 ? diff / scale : diff;
    if (Number.isNaN(err)) return NaN;
    worst = Math.max(worst, err);
  }
  return worst;
}

/** Per-sample errors with the golden metric. */
export function relativeErrors(actual: ArrayLike<number>, expected: ArrayLike<number>, batch: number): number[] {
  const per = expected.length / batch;
  const out: number[] = [];
  for (let s = 0; s < batch; s++) {
    out.push(relativeError(
      Array.prototype.slice.call(actual, s * per, (s + 1) * per) as number[],
      Array.prototype.slice.call(expected, s * per, (s + 1) * per) as number[], 1));
  }
  return out;
}
