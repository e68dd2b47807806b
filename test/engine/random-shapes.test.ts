// Seeded random models of many shapes: the float32 engine against the float64 reference, every rule and layer.
import test, { type ExecutionContext } from 'ava';
import {
  add, avgPool2d, batchNorm, composite, concat, conv2d, dense, elu, flatten, gelu, globalAvgPool, graph, leakyRelu,
  maxPool2d, pad, relu, reshape, rules, sequential, sigmoid, tanh, type Composite, type Layer, type Model, type Rule,
} from '../../lib/index';
import { compareWithReference, generator, uniform, vector, weights } from '../reference/random';

/**
 * float32 engine against float64 reference, golden metric, after rescaling the reference to the engine's explained
 * logit (a logit near 1e-3 alone carries a float32 relative error of ~5e-5 into the whole map).
 */
const TOLERANCE = 1e-4;
/** The unscaled golden metric. */
const RAW_TOLERANCE = 1e-3;

/** Every rule a dense or conv2d layer takes, with parameters that keep denominators away from zero. */
function linearRules(firstLayer: boolean, low = -1, high = 1): [string, Rule][] {
  const list: [string, Rule][] = [
    ['lrp0', rules.lrp0({ stabilizer: 0.1 })],
    ['lrp0 no bias', rules.lrp0({ stabilizer: 0.1, ignoreBias: true })],
    ['epsilon', rules.epsilon({ epsilon: 0.05 })],
    ['epsilon no bias', rules.epsilon({ epsilon: 0.05, ignoreBias: true })],
    ['zPlus', rules.zPlus()],
    ['zPlus no bias', rules.zPlus({ ignoreBias: true })],
    ['alpha2beta1', rules.alphaBeta({ alpha: 2, beta: 1 })],
    ['alpha1.5beta0.5', rules.alphaBeta({ alpha: 1.5, beta: 0.5 })],
    ['alpha1beta0 no bias', rules.alphaBeta({ alpha: 1, beta: 0, ignoreBias: true })],
    ['gamma', rules.gamma({ gamma: 0.25, stabilizer: 0.05 })],
    ['gamma 0 no bias', rules.gamma({ gamma: 0, stabilizer: 0.05, ignoreBias: true })],
    ['flat', rules.flat()],
    ['wSquare', rules.wSquare()],
    ['wSquare no bias', rules.wSquare({ ignoreBias: true })],
  ];
  // zBox needs the layer's input inside [low, high]: only for layers reading the model input.
  if (firstLayer) list.push(['zBox', rules.zBox({ low, high })]);
  return list;
}

const headRule = rules.epsilon({ epsilon: 0.05 });

function randomTargets(random: () => number, batch: number, classes: number): Int32Array {
  return Int32Array.from({ length: batch }, () => Math.floor(random() * classes));
}

interface Failure { what: string; relevanceError: number; logitError: number; note?: string }

/** The worst configurations seen by the current test (logged by report()). */
let worstSeen: Failure[] = [];

/** Compares every rule on the layer(s) `pick` selects; returns the failures and logs the worst error. */
async function sweepRules(
  t: ExecutionContext, label: string, model: Model, pick: (rule: Rule) => Composite, ruleList: [string, Rule][],
  input: Float32Array, target: Int32Array, failures: Failure[], options: { threads?: number } = {},
): Promise<number> {
  let worst = 0;
  for (const [name, rule] of ruleList) {
    const c = await compareWithReference(model, pick(rule), input, target, options);
    worst = Math.max(worst, c.scaledError);
    worstSeen.push({
      what: `${label} rule ${name}`, relevanceError: c.scaledError, logitError: c.logitError,
      note: `unscaled ${c.relevanceError.toExponential(2)}; sample ${c.worst.sample}: explained output ${c.worst.output.toExponential(2)} with float32 error ${c.worst.outputError.toExponential(1)}`,
    });
    if (!(c.scaledError <= TOLERANCE) || !(c.relevanceError <= RAW_TOLERANCE) || !(c.logitError <= 1e-5)) {
      failures.push({ what: `${label} rule ${name} (scaled err ${c.scaledError.toExponential(2)})`, relevanceError: c.relevanceError, logitError: c.logitError });
    }
  }
  void t;
  return worst;
}

function report(t: ExecutionContext, failures: Failure[], worst: number, checks: number): void {
  t.log(`${checks} configurations, worst relevance error (scaled to the engine's logit) ${worst.toExponential(2)}`);
  worstSeen.sort((a, b) => b.relevanceError - a.relevanceError);
  for (const w of worstSeen.slice(0, 3)) t.log(`  ${w.relevanceError.toExponential(2)}: ${w.what} (${w.note ?? ''})`);
  worstSeen = [];
  for (const f of failures.slice(0, 20)) {
    t.log(`FAIL ${f.what}: relevance err ${f.relevanceError.toExponential(2)}, logit err ${f.logitError.toExponential(2)}`);
  }
  t.is(failures.length, 0, `${failures.length} failing configurations`);
}

test.serial('conv2d: stride 1–3, padding 0–2 (and asymmetric), dilation 1–2, groups 1/2/depthwise, every rule', async (t) => {
  const random = generator(101);
  const failures: Failure[] = [];
  let worst = 0;
  let checks = 0;
  const C = 4;
  const paddings: (number | [number, number, number, number])[] = [0, 1, 2, [0, 1, 2, 1]];
  for (const stride of [1, 2, 3]) {
    for (const padding of paddings) {
      for (const dilation of [1, 2]) {
        for (const groupsKind of ['1', '2', 'depthwise'] as const) {
          const groups = groupsKind === '1' ? 1 : groupsKind === '2' ? 2 : C;
          const outChannels = groupsKind === 'depthwise' ? 2 * C : 6;
          const [H, W] = checks % 2 === 0 ? [7, 9] : [9, 5];
          const [kh, kw] = checks % 3 === 0 ? [3, 2] : [3, 3];
          const batch = checks % 4 === 0 ? 1 : 7;
          checks++;
          const inPerGroup = C / groups;
          const conv = conv2d({
            weight: weights(random, [outChannels, inPerGroup, kh, kw], inPerGroup * kh * kw),
            bias: vector(random, outChannels, -0.2, 0.2), stride, padding, dilation, groups, name: 'conv',
          });
          let model: Model;
          try {
            const g = graph({ inputShape: [C, H, W] });
            const y = g.add(conv, g.input, 'conv');
            const features = y.shape.reduce((a, b) => a * b, 1);
            const r = g.add(relu(), y, 'relu');
            const f = g.add(flatten(), r, 'flatten');
            const out = g.add(dense({ weight: weights(random, [5, features], features), bias: vector(random, 5, -0.1, 0.1) }), f, 'head');
            model = g.build(out);
          } catch (error) {
            failures.push({ what: `build stride ${stride} padding ${padding} dilation ${dilation} groups ${groupsKind}: ${String(error)}`, relevanceError: NaN, logitError: NaN });
            continue;
          }
          const input = uniform(random, batch * C * H * W);
          const target = randomTargets(random, batch, 5);
          const label = `${H}×${W} k${kh}×${kw} stride ${stride} padding ${JSON.stringify(padding)} dilation ${dilation} groups ${groupsKind} batch ${batch}`;
          worst = Math.max(worst, await sweepRules(t, label, model,
            (rule) => composite({ byName: { conv: rule }, linearDefault: headRule }), linearRules(true), input, target, failures));
          model.dispose();
        }
      }
    }
  }
  report(t, failures, worst, checks);
});

test.serial('conv2d on the kernels chosen by shape and batch (direct, sample-parallel col2im, stacked signed inputs), every rule', async (t) => {
  // Where the backend leaves the implicit GEMM (native/engine/cpu_backend.cc): 3×3 convolutions at least 32 deep run
  // as the direct convolution when strided, and at stride 1 from batch 4 where the GEMM would pack its panels (16×16
  // maps and smaller; the transposed step is then a direct convolution too); at stride 1 along the rows, those less
  // than 32 deep or with fewer than 16 filters run as the row convolution, and so do the transposed steps onto fewer
  // than 16 input channels (an RGB stem's, as a flipped convolution); the col2im transposed step (strided) gives each
  // thread whole chunks of samples once there are 2 chunks per thread (one sample per chunk from 64×64 maps); z⁺ and
  // zᴮ on an input with both signs stack their inputs into one convolution; with fewer output positions than rows of
  // Wᵀ (small maps at batch 1) the col2im step splits input channels over the threads, each computing its rows of
  // Wᵀ·s and scattering them; with at least 4 tasks of ~512 output positions per thread, each thread pads and
  // convolves its own samples. At 2 and 3 threads.
  const random = generator(161);
  const failures: Failure[] = [];
  let worst = 0;
  let checks = 0;
  const shapes = [
    { C: 3, H: 32, W: 32, out: 8, stride: 1, batch: 6 },   // stem: row convolution both ways, padded per sample
    { C: 3, H: 20, W: 19, out: 8, stride: 1, batch: 1 },   // the same, rows of 8 + 8 + 3 positions
    { C: 3, H: 128, W: 128, out: 8, stride: 2, batch: 6 }, // col2im, one sample per chunk
    { C: 4, H: 64, W: 63, out: 6, stride: 2, batch: 13 },  // direct strided, 4 samples per col2im chunk
    { C: 16, H: 16, W: 16, out: 20, stride: 1, batch: 5 }, // direct at stride 1, forward and flipped transposed
    { C: 8, H: 15, W: 13, out: 17, stride: 2, batch: 3 },  // direct strided, 17 filters: a second partial panel
    { C: 5, H: 17, W: 18, out: 33, stride: 2, batch: 3 },  // direct strided, three panels (the last of one filter)
    { C: 6, H: 14, W: 13, out: 40, stride: 3, batch: 2 },  // direct at stride 3
    { C: 3, H: 40, W: 37, out: 8, stride: 2, batch: 1 },   // col2im, one chunk: its columns, then its channels split
    { C: 3, H: 20, W: 20, out: 8, stride: 2, batch: 3 },   // col2im, one chunk of 3 samples: channel splits across them
    { C: 37, H: 6, W: 5, out: 12, stride: 2, batch: 1 },   // 9 columns, 333 rows: input channels split (odd count)
    { C: 7, H: 4, W: 4, out: 9, stride: 2, batch: 2 },     // 8 columns of 2 samples, 63 rows: both scattered per part
    { C: 12, H: 3, W: 3, out: 5, stride: 1, batch: 1, k: 1 }, // 1×1: the product is dx itself, split by channels
    { C: 4, H: 32, W: 32, out: 8, stride: 1, batch: 13 },  // padded copy made and read per sample on each thread (rows)
    { C: 16, H: 32, W: 32, out: 8, stride: 1, batch: 12 }, // the same for the flipped transposed product's quotient (direct)
    { C: 8, H: 48, W: 47, out: 16, stride: 2, batch: 12 }, // and for the direct strided convolution's copy
  ];
  for (const { C, H, W, out, stride, batch, k = 3 } of shapes) {
    const g = graph({ inputShape: [C, H, W] });
    const y = g.add(conv2d({ weight: weights(random, [out, C, k, k], C * k * k), bias: vector(random, out, -0.2, 0.2), stride, padding: (k - 1) / 2, name: 'conv' }), g.input, 'conv');
    const r = g.add(relu(), y, 'relu');
    const pooled = g.add(globalAvgPool(), r, 'pool');
    const f = g.add(flatten(), pooled, 'flatten');
    const head = g.add(dense({ weight: weights(random, [5, out], out), bias: vector(random, 5, -0.1, 0.1) }), f, 'head');
    const model = g.build(head);
    const input = uniform(random, batch * C * H * W);
    const target = randomTargets(random, batch, 5);
    for (const threads of [2, 3]) {
      checks++;
      worst = Math.max(worst, await sweepRules(t, `${C}×${H}×${W} → ${out} stride ${stride} batch ${batch} threads ${threads}`, model,
        (rule) => composite({ byName: { conv: rule }, linearDefault: headRule }), linearRules(true), input, target, failures, { threads }));
    }
    model.dispose();
  }
  report(t, failures, worst, checks);
});

test.serial('conv2d 1×1 with stride 2 and 3 (ResNet shortcuts: subsample, then scatter back), every rule', async (t) => {
  const random = generator(151);
  const failures: Failure[] = [];
  let worst = 0;
  let checks = 0;
  // 20 input channels take the flipped-weights transposed product, 4 the col2im one; odd sizes leave rows and
  // columns the strided windows skip.
  for (const [C, stride, H, W] of [[20, 2, 9, 8], [4, 2, 8, 8], [20, 3, 10, 7], [4, [2, 3], 7, 9]] as const) {
    for (const batch of [1, 6]) {
      const g = graph({ inputShape: [C, H, W] });
      const y = g.add(conv2d({ weight: weights(random, [7, C, 1, 1], C), bias: vector(random, 7, -0.2, 0.2), stride: stride as number | [number, number], name: 'conv' }), g.input, 'conv');
      const features = y.shape.reduce((a, b) => a * b, 1);
      const r = g.add(relu(), y, 'relu');
      const f = g.add(flatten(), r, 'flatten');
      const out = g.add(dense({ weight: weights(random, [5, features], features), bias: vector(random, 5, -0.1, 0.1) }), f, 'head');
      const model = g.build(out);
      const input = uniform(random, batch * C * H * W);
      const target = randomTargets(random, batch, 5);
      worst = Math.max(worst, await sweepRules(t, `${C}×${H}×${W} k1×1 stride ${JSON.stringify(stride)} batch ${batch}`, model,
        (rule) => composite({ byName: { conv: rule }, linearDefault: headRule }), linearRules(true), input, target, failures));
      model.dispose();
      checks++;
    }
  }
  report(t, failures, worst, checks);
});

test.serial('a convolution or sum seen only through its ReLU (output kept once, γ without its negative group): every rule reading it', async (t) => {
  // The engine keeps only max(z, 0) of a convolution or sum whose ReLU output gets no relevance where it is 0
  // (native/engine/relu_gated.h); the layer before reads it where its rule would read z. Readers whose rules keep
  // relevance there (flat, w²) must leave z as it is: the ε layer in front of them would otherwise divide by 0 + ε
  // instead of a negative z. Where the readers do send none there, γ on the layer before drops its group for negative
  // outputs (on an input of both signs, the raw one; on the ReLU's output, the reader's own γ with the ε head after
  // its ReLU). Every rule on the reading layer, with ε and with γ on the first convolution, directly and through
  // max-pool, pad and concat, each shape at batch 1 and 6; the sum's stabilizer 0.1, as flat and w² send relevance to
  // where it is near 0.
  const random = generator(171);
  const failures: Failure[] = [];
  let worst = 0;
  let checks = 0;
  const C = 3;
  const [H, W] = [10, 9];
  const convOf = (cin: number, cout: number, name: string) =>
    conv2d({ weight: weights(random, [cout, cin, 3, 3], cin * 9), bias: vector(random, cout, -0.3, 0.3), padding: 1, name });
  const headOf = (features: number) => dense({ weight: weights(random, [4, features], features), bias: vector(random, 4, -0.1, 0.1), name: 'head' });
  const finish = (g: ReturnType<typeof graph>, from: ReturnType<ReturnType<typeof graph>['add']>) => {
    const f = g.add(flatten(), from, 'flatten');
    const features = f.shape.reduce((a, b) => a * b, 1);
    return g.build(g.add(headOf(features), f, 'head'));
  };
  const builders: [string, () => Model][] = [
    ['conv → relu → conv', () => {
      const g = graph({ inputShape: [C, H, W] });
      const a = g.add(relu(), g.add(convOf(C, 5, 'first'), g.input, 'first'), 'relu0');
      return finish(g, g.add(relu(), g.add(convOf(5, 6, 'reader'), a, 'reader'), 'relu1'));
    }],
    ['conv → relu → max-pool → pad → conv', () => {
      const g = graph({ inputShape: [C, H, W] });
      const a = g.add(relu(), g.add(convOf(C, 5, 'first'), g.input, 'first'), 'relu0');
      const p = g.add(pad({ padding: [1, 0, 0, 1] }), g.add(maxPool2d({ kernel: 3, stride: 2, padding: 1 }), a, 'pool'), 'pad');
      return finish(g, g.add(convOf(5, 6, 'reader'), p, 'reader'));
    }],
    ['sum → relu → concat → conv', () => {
      const g = graph({ inputShape: [C, H, W] });
      const s = g.add(add(), [g.add(convOf(C, 4, 'left'), g.input, 'left'), g.add(convOf(C, 4, 'right'), g.input, 'right')], 'sum');
      const a = g.add(relu(), s, 'relu0');
      const other = g.add(relu(), g.add(convOf(C, 2, 'side'), g.input, 'side'), 'relu_side');
      return finish(g, g.add(convOf(6, 5, 'reader'), g.add(concat(), [a, other], 'concat'), 'reader'));
    }],
  ];
  for (const [name, build] of builders) {
    const model = build();
    for (const batch of [1, 6]) {
      const input = uniform(random, batch * C * H * W);
      const target = randomTargets(random, batch, 4);
      checks++;
      const hasFirst = model.layers.some((layer) => layer.name === 'first');
      for (const [firstName, first] of [['ε', headRule], ['γ', rules.gamma({ gamma: 0.25, stabilizer: 0.05 })]] as [string, Rule][]) {
        if (firstName === 'γ' && !hasFirst) continue;
        worst = Math.max(worst, await sweepRules(t, `${name} (first ${firstName}) batch ${batch}`, model,
          (rule) => composite({ byName: hasFirst ? { reader: rule, first } : { reader: rule }, linearDefault: headRule, normStabilizer: 0.1 }),
          linearRules(false), input, target, failures));
      }
    }
    model.dispose();
  }
  report(t, failures, worst, checks);
});

test.serial('dense: every rule on hidden and output layers, batch 1 and 7', async (t) => {
  const random = generator(202);
  const failures: Failure[] = [];
  let worst = 0;
  for (const batch of [1, 7]) {
    const model = sequential({ inputShape: [13] }, [
      dense({ weight: weights(random, [11, 13], 13), bias: vector(random, 11, -0.2, 0.2), name: 'd0' }), relu(),
      dense({ weight: weights(random, [9, 11], 11), bias: vector(random, 9, -0.2, 0.2), name: 'd1' }), tanh(),
      dense({ weight: weights(random, [4, 9], 9), bias: vector(random, 4, -0.2, 0.2), name: 'd2' }),
    ]);
    const input = uniform(random, batch * 13);
    const target = randomTargets(random, batch, 4);
    // The rule on every dense layer (zBox only on the first, whose input lies in [-1, 1]).
    worst = Math.max(worst, await sweepRules(t, `batch ${batch} all layers`, model,
      (rule) => composite({ linearDefault: rule.rule === 'zBox' ? headRule : rule, byName: rule.rule === 'zBox' ? { d0: rule } : {} }),
      linearRules(true), input, target, failures));
    // The rule on the hidden layer only.
    worst = Math.max(worst, await sweepRules(t, `batch ${batch} hidden layer d1`, model,
      (rule) => composite({ byName: { d1: rule }, linearDefault: headRule }), linearRules(false), input, target, failures));
    model.dispose();
  }
  report(t, failures, worst, 2);
});

test.serial('zBox with tensor bounds on the first conv2d and on a first dense layer', async (t) => {
  const random = generator(303);
  const failures: Failure[] = [];
  let worst = 0;
  const C = 2;
  const [H, W] = [5, 7];
  const low = uniform(random, C * H * W, -1.5, -1);
  const high = uniform(random, C * H * W, 1, 1.5);
  const bounds: [string, Rule][] = [['zBox tensor', rules.zBox({ low: { data: low, shape: [C, H, W] }, high: { data: high, shape: [C, H, W] } })],
    ['zBox mixed', rules.zBox({ low: -1, high: { data: high, shape: [C, H, W] } })]];
  const g = graph({ inputShape: [C, H, W] });
  const conv = g.add(conv2d({
    weight: weights(random, [3, C, 3, 3], C * 9), bias: vector(random, 3, -0.2, 0.2), padding: [1, 2, 0, 1], stride: [1, 2],
  }), g.input, 'conv');
  const flat = g.add(flatten(), g.add(relu(), conv, 'relu'), 'flatten');
  const model = g.build(g.add(dense({ weight: weights(random, [4, flat.shape[0]], flat.shape[0]), bias: vector(random, 4, -0.1, 0.1) }), flat, 'head'));
  const input = uniform(random, 7 * C * H * W);
  const target = randomTargets(random, 7, 4);
  worst = Math.max(worst, await sweepRules(t, 'conv', model, (rule) => composite({ first: rule, linearDefault: headRule }), bounds, input, target, failures));
  model.dispose();
  const flatModel = sequential({ inputShape: [C * H * W] }, [
    dense({ weight: weights(random, [6, C * H * W], C * H * W), bias: vector(random, 6, -0.2, 0.2) }), relu(),
    dense({ weight: weights(random, [3, 6], 6) }),
  ]);
  const flatBounds: [string, Rule][] = [['zBox tensor', rules.zBox({ low: { data: low, shape: [C * H * W] }, high: { data: high, shape: [C * H * W] } })]];
  worst = Math.max(worst, await sweepRules(t, 'dense', flatModel, (rule) => composite({ first: rule, linearDefault: headRule }),
    flatBounds, input, randomTargets(random, 7, 3), failures));
  flatModel.dispose();
  report(t, failures, worst, 2);
});

/** A conv feature extractor, then `layers`, then flatten and a dense head; returns the model. */
function convModelWith(random: () => number, inputShape: [number, number, number], middle: Layer[], classes = 5): Model {
  const g = graph({ inputShape });
  let x = g.add(conv2d({
    weight: weights(random, [6, inputShape[0], 3, 3], inputShape[0] * 9), bias: vector(random, 6, -0.2, 0.2), padding: 1,
  }), g.input, 'conv');
  middle.forEach((layer, i) => { x = g.add(layer, x, layer.name ?? `middle${i}`); });
  const flat = g.add(flatten(), x, 'flat');
  const features = flat.shape[0];
  return g.build(g.add(dense({ weight: weights(random, [classes, features], features), bias: vector(random, classes, -0.1, 0.1) }), flat, 'head'));
}

test.serial('pooling: max (padding, dilation, ceil mode, overlapping) and average (padding, count_include_pad, ceil mode), global', async (t) => {
  const random = generator(404);
  const failures: Failure[] = [];
  let worst = 0;
  // Wide maps where the 3×3 stride-2 kernels take four windows at a time (and one or two after them one by one).
  const pools: [string, Layer[], [number, number, number]?][] = [
    ['max 2', [relu(), maxPool2d({ kernel: 2 })]],
    ['max 3 stride 2 padding 1', [relu(), maxPool2d({ kernel: 3, stride: 2, padding: 1 })]],
    ['max 3 stride 2 padding 1, 21×30', [relu(), maxPool2d({ kernel: 3, stride: 2, padding: 1 })], [3, 21, 30]],
    ['max 3 stride 2, 20×29', [relu(), maxPool2d({ kernel: 3, stride: 2 })], [3, 20, 29]],
    ['max 3 stride 1 overlapping', [maxPool2d({ kernel: 3, stride: 1 })]],
    ['max 2 ceil', [relu(), maxPool2d({ kernel: 2, ceilMode: true })]],
    ['max 3 stride 2 ceil padding [1,0,0,1]', [relu(), maxPool2d({ kernel: 3, stride: 2, ceilMode: true, padding: [1, 0, 0, 1] })]],
    ['max 2 dilation 2', [relu(), maxPool2d({ kernel: 2, stride: 1, dilation: 2 })]],
    ['max negative inputs, padding 1', [maxPool2d({ kernel: 2, stride: 2, padding: 1 })]],
    ['avg 2', [relu(), avgPool2d({ kernel: 2 })]],
    ['avg 3 stride 2 padding 1 include pad', [relu(), avgPool2d({ kernel: 3, stride: 2, padding: 1 })]],
    ['avg 3 stride 2 padding 1 exclude pad', [relu(), avgPool2d({ kernel: 3, stride: 2, padding: 1, countIncludePad: false })]],
    ['avg 3 stride 1 overlapping', [relu(), avgPool2d({ kernel: 3, stride: 1 })]],
    ['avg 2 ceil', [relu(), avgPool2d({ kernel: 2, ceilMode: true })]],
    ['avg 3 stride 2 ceil padding 1 include pad', [relu(), avgPool2d({ kernel: 3, stride: 2, padding: 1, ceilMode: true })]],
    ['avg 3 stride 2 ceil padding 1 exclude pad', [relu(), avgPool2d({ kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false })]],
    ['global', [relu(), globalAvgPool()]],
  ];
  for (const [label, middle, shape = [3, 7, 9]] of pools) {
    for (const batch of [1, 7]) {
      const model = convModelWith(random, shape, middle);
      const input = uniform(random, batch * shape[0] * shape[1] * shape[2]);
      const target = randomTargets(random, batch, 5);
      worst = Math.max(worst, await sweepRules(t, `${label} batch ${batch}`, model,
        (rule) => composite({ byName: { conv: rule }, linearDefault: headRule }),
        [['epsilon', rules.epsilon({ epsilon: 0.05 })], ['zPlus', rules.zPlus()], ['gamma', rules.gamma({ stabilizer: 0.05 })]],
        input, target, failures));
      model.dispose();
    }
  }
  report(t, failures, worst, pools.length * 2);
});

test.serial('norm stabilizer on pools and add: a larger normStabilizer is used the same way', async (t) => {
  const random = generator(505);
  const failures: Failure[] = [];
  const model = convModelWith(random, [2, 6, 6], [relu(), avgPool2d({ kernel: 2 })]);
  const input = uniform(random, 7 * 2 * 36);
  const target = randomTargets(random, 7, 5);
  const worst = await sweepRules(t, 'avg norm 0.1', model,
    (rule) => composite({ byName: { conv: rule }, linearDefault: headRule, normStabilizer: 0.1 }),
    [['epsilon', rules.epsilon({ epsilon: 0.05 })]], input, target, failures);
  model.dispose();
  report(t, failures, worst, 1);
});

test.serial('residual add (two and three inputs), concat (channels, height, features), pad, reshape', async (t) => {
  const random = generator(606);
  const failures: Failure[] = [];
  let worst = 0;
  const C = 3;
  const [H, W] = [7, 5];
  const convOf = (cin: number, cout: number, options: { padding?: number | [number, number, number, number]; stride?: number; dilation?: number } = {}) =>
    conv2d({ weight: weights(random, [cout, cin, 3, 3], cin * 9), bias: vector(random, cout, -0.2, 0.2), padding: 1, ...options });
  const headOf = (features: number) => dense({ weight: weights(random, [4, features], features), bias: vector(random, 4, -0.1, 0.1) });
  const builders: [string, () => Model][] = [
    ['residual block', () => {
      const g = graph({ inputShape: [C, H, W] });
      const stem = g.add(relu(), g.add(convOf(C, 4), g.input, 'stem'), 'stem_relu');
      const branch = g.add(convOf(4, 4), g.add(relu(), g.add(convOf(4, 4), stem, 'conv1'), 'relu1'), 'conv2');
      const sum = g.add(add(), [stem, branch], 'add');
      const pooled = g.add(globalAvgPool(), g.add(relu(), sum, 'relu2'), 'pool');
      return g.build(g.add(headOf(4), g.add(flatten(), pooled, 'flatten'), 'fc'));
    }],
    ['three-input add with the raw input', () => {
      const g = graph({ inputShape: [C, H, W] });
      const a = g.add(convOf(C, C), g.input, 'a');
      const b = g.add(convOf(C, C, { padding: 2, dilation: 2 }), g.input, 'b');
      const sum = g.add(add(), [a, g.input, b], 'add3');
      const f = g.add(flatten(), g.add(relu(), sum, 'relu'), 'flatten');
      return g.build(g.add(headOf(C * H * W), f, 'fc'));
    }],
    ['a sum of one tensor with itself (both shares land in one buffer)', () => {
      const g = graph({ inputShape: [C, H, W] });
      const a = g.add(convOf(C, 4), g.input, 'a');
      const sum = g.add(add(), [a, a], 'twice');
      const f = g.add(flatten(), g.add(relu(), sum, 'relu'), 'flatten');
      return g.build(g.add(headOf(4 * H * W), f, 'fc'));
    }],
    ['concat channels', () => {
      const g = graph({ inputShape: [C, H, W] });
      const a = g.add(relu(), g.add(convOf(C, 2), g.input, 'a'), 'ra');
      const b = g.add(relu(), g.add(convOf(C, 5), g.input, 'b'), 'rb');
      const cat = g.add(concat({ axis: 1 }), [a, b, g.input], 'cat');
      const y = g.add(convOf(10, 4, { stride: 2 }), cat, 'mix');
      const f = g.add(flatten(), g.add(relu(), y, 'rmix'), 'flatten');
      return g.build(g.add(headOf(f.shape[0]), f, 'fc'));
    }],
    ['concat features', () => {
      const g = graph({ inputShape: [C * H * W] });
      const a = g.add(relu(), g.add(dense({ weight: weights(random, [6, C * H * W], C * H * W), bias: vector(random, 6, -0.2, 0.2) }), g.input, 'a'), 'ra');
      const b = g.add(tanh(), g.add(dense({ weight: weights(random, [3, C * H * W], C * H * W), bias: vector(random, 3, -0.2, 0.2) }), g.input, 'b'), 'tb');
      const cat = g.add(concat({ axis: 1 }), [a, b], 'cat');
      return g.build(g.add(headOf(9), cat, 'fc'));
    }],
    ['pad and reshape', () => {
      const g = graph({ inputShape: [C, H, W] });
      const p = g.add(pad({ padding: [1, 0, 2, 1] }), g.input, 'pad');
      const y = g.add(relu(), g.add(convOf(C, 4, { padding: 0 }), p, 'conv'), 'relu');
      const r = g.add(reshape({ shape: [-1, 2] }), y, 'reshape');
      const f = g.add(flatten(), r, 'flatten');
      return g.build(g.add(headOf(f.shape[0]), f, 'fc'));
    }],
  ];
  for (const [label, build] of builders) {
    let model: Model;
    try {
      model = build();
    } catch (error) {
      failures.push({ what: `${label}: build failed ${String(error)}`, relevanceError: NaN, logitError: NaN });
      continue;
    }
    const classes = model.outputShape.reduce((a, b) => a * b, 1);
    for (const batch of [1, 7]) {
      const input = uniform(random, batch * model.inputShape.reduce((a, b) => a * b, 1));
      const target = randomTargets(random, batch, classes);
      worst = Math.max(worst, await sweepRules(t, `${label} batch ${batch}`, model, (rule) => composite({ linearDefault: rule }),
        [['epsilon', rules.epsilon({ epsilon: 0.05 })], ['zPlus', rules.zPlus()], ['alpha2beta1', rules.alphaBeta()],
          ['gamma', rules.gamma({ stabilizer: 0.05 })], ['wSquare', rules.wSquare()], ['flat', rules.flat()]],
        input, target, failures));
    }
    model.dispose();
  }
  // Concat along height (axis 2) and width (axis 3) of same-width / same-height branches.
  for (const axis of [2, 3]) {
    const g = graph({ inputShape: [C, H, W] });
    const a = g.add(relu(), g.add(convOf(C, 4), g.input, 'a'), 'ra'); // [4, 7, 5]
    const b = g.add(relu(), g.add(convOf(C, 4, { padding: axis === 2 ? [0, 1, 0, 1] : [1, 0, 1, 0] }), g.input, 'b'), 'rb');
    const cat = g.add(concat({ axis }), [a, b], 'cat');
    const f = g.add(flatten(), cat, 'flatten');
    const model = g.build(g.add(headOf(f.shape[0]), f, 'fc'));
    const input = uniform(random, 7 * C * H * W);
    worst = Math.max(worst, await sweepRules(t, `concat axis ${axis}`, model, (rule) => composite({ linearDefault: rule }),
      [['epsilon', rules.epsilon({ epsilon: 0.05 })], ['zPlus', rules.zPlus()]], input, randomTargets(random, 7, 4), failures));
    model.dispose();
  }
  report(t, failures, worst, builders.length + 1);
});

test.serial('unmerged batchNorm and every activation pass relevance unchanged', async (t) => {
  const random = generator(707);
  const failures: Failure[] = [];
  let worst = 0;
  const C = 3;
  const bn = () => batchNorm({
    weight: vector(random, 6, 0.5, 1.5), bias: vector(random, 6, -0.3, 0.3), runningMean: vector(random, 6, -0.2, 0.2),
    runningVar: vector(random, 6, 0.5, 2), eps: 1e-5,
  });
  const activations: [string, Layer][] = [
    ['leakyRelu', leakyRelu({ alpha: 0.1 })], ['tanh', tanh()], ['sigmoid', sigmoid()], ['elu', elu({ alpha: 0.7 })],
    ['gelu', gelu()], ['gelu tanh', gelu({ approximate: 'tanh' })],
  ];
  for (const [label, act] of activations) {
    // relu between conv and BatchNorm keeps the BatchNorm unmerged.
    const model = convModelWith(random, [C, 5, 7], [relu(), { ...bn(), name: 'bn' }, { ...act, name: 'act' }], 4);
    const node = model.graph.nodes.find((n) => n.name === 'bn');
    if (!node) failures.push({ what: `${label}: the BatchNorm after relu was merged`, relevanceError: NaN, logitError: NaN });
    const input = uniform(random, 7 * C * 35);
    worst = Math.max(worst, await sweepRules(t, label, model, (rule) => composite({ linearDefault: rule }),
      [['epsilon', rules.epsilon({ epsilon: 0.05 })], ['zPlus', rules.zPlus()]], input, randomTargets(random, 7, 4), failures));
    model.dispose();
  }
  report(t, failures, worst, activations.length);
});

test.serial('merged batchNorm: the engine agrees with the reference on the merged graph', async (t) => {
  const random = generator(808);
  const failures: Failure[] = [];
  const model = sequential({ inputShape: [2, 5, 5] }, [
    conv2d({ weight: weights(random, [4, 2, 3, 3], 18), padding: 1, name: 'conv' }),
    batchNorm({ weight: vector(random, 4, 0.5, 1.5), bias: vector(random, 4, -0.3, 0.3), runningMean: vector(random, 4, -0.2, 0.2), runningVar: vector(random, 4, 0.5, 2), name: 'bn' }),
    relu(), flatten(), dense({ weight: weights(random, [3, 100], 100), name: 'head' }),
  ]);
  t.is(model.graph.nodes.length, 4, 'the BatchNorm is merged into the conv');
  t.is(model.graph.nodes[0].mergedBatchNorm, 'bn');
  const worst = await sweepRules(t, 'merged', model, (rule) => composite({ linearDefault: rule }),
    linearRules(false), uniform(random, 7 * 50), randomTargets(random, 7, 3), failures);
  model.dispose();
  report(t, failures, worst, 1);
});

test.serial('output-relevance target: a [N, classes] tensor is propagated as given', async (t) => {
  const random = generator(909);
  const model = convModelWith(random, [2, 6, 5], [relu(), maxPool2d({ kernel: 2, ceilMode: true })], 4);
  const batch = 7;
  const input = uniform(random, batch * 60);
  const outputRelevance = { data: uniform(random, batch * 4), shape: [batch, 4] };
  const c = await compareWithReference(model, composite({ linearDefault: rules.epsilon({ epsilon: 0.05 }) }), input, outputRelevance);
  const result = await model.explain({ data: input, shape: [batch, 2, 6, 5] }, { target: outputRelevance, composite: composite({ linearDefault: rules.epsilon({ epsilon: 0.05 }) }) });
  model.dispose();
  t.log(`relevance error ${c.relevanceError.toExponential(2)}`);
  t.true(c.relevanceError <= TOLERANCE, `relevance err ${c.relevanceError}`);
  t.is(c.scaledError, c.relevanceError);
  t.deepEqual(Array.from(result.targets), new Array(batch).fill(-1));
});
