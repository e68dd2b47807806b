// Properties of the engine through the public API: batch independence, determinism, conservation, errors, describe.
import test, { type ExecutionContext } from 'ava';
import {
  LrpError, type LrpErrorCode, add, avgPool2d, checkConservation, composite, compositeByName, conv2d, dense, flatten, globalAvgPool, graph,
  isLrpError, maxPool2d, relu, rules, sequential, type Composite, type Model, type Rule,
} from '../../lib/index';
import { relativeError } from '../reference/lrp64';
import { generator, uniform, vector, weights } from '../reference/random';

const INPUT_SHAPE = [2, 9, 7];
const SAMPLE = INPUT_SHAPE.reduce((a, b) => a * b, 1);

/** A small CNN with max/avg pooling and a residual add; `bias: false` makes it bias-free. */
function cnn(seed: number, bias = true): Model {
  const random = generator(seed);
  const b = (n: number) => (bias ? vector(random, n, -0.3, 0.3) : null);
  const g = graph({ inputShape: INPUT_SHAPE });
  const c0 = g.add(relu(), g.add(conv2d({ weight: weights(random, [4, 2, 3, 3], 18), bias: b(4), padding: 1 }), g.input, 'conv0'), 'relu0');
  const c1 = g.add(relu(), g.add(conv2d({ weight: weights(random, [4, 4, 3, 3], 36), bias: b(4), padding: 1 }), c0, 'conv1'), 'relu1');
  const sum = g.add(add(), [c0, c1], 'add');
  const pooled = g.add(maxPool2d({ kernel: 2, ceilMode: true }), sum, 'maxpool'); // [4, 5, 4]
  const c2 = g.add(relu(), g.add(conv2d({ weight: weights(random, [6, 4, 2, 2], 16), bias: b(6), stride: 1 }), pooled, 'conv2'), 'relu2');
  const avg = g.add(avgPool2d({ kernel: 2, stride: 1 }), c2, 'avgpool'); // [6, 3, 2]
  const f = g.add(flatten(), avg, 'flatten');
  const h = g.add(relu(), g.add(dense({ weight: weights(random, [8, f.shape[0]], f.shape[0]), bias: b(8) }), f, 'fc1'), 'relu3');
  return g.build(g.add(dense({ weight: weights(random, [5, 8], 8), bias: b(5) }), h, 'fc2'));
}

const COMPOSITES: [string, () => Composite][] = [
  ['epsilon', () => compositeByName('epsilon', { epsilon: 0.01 })],
  ['epsilon-plus', () => compositeByName('epsilon-plus')],
  ['epsilon-alpha2-beta1-flat', () => compositeByName('epsilon-alpha2-beta1-flat')],
  ['epsilon-gamma-box', () => compositeByName('epsilon-gamma-box', { low: -1, high: 1 })],
  ['zplus', () => compositeByName('zplus')],
  ['gamma', () => compositeByName('gamma')],
  ['alpha-beta', () => compositeByName('alpha-beta', { alpha: 1.5, beta: 0.5 })],
  ['wsquare-epsilon', () => compositeByName('wsquare-epsilon')],
  ['lrp0', () => composite({ linearDefault: rules.lrp0() })],
];

const bitIdentical = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('batch independence: a batch of 7 equals its samples explained one by one', async (t) => {
  const model = cnn(11);
  const batch = 7;
  const input = uniform(generator(12), batch * SAMPLE);
  let identical = 0;
  for (const [name, make] of COMPOSITES) {
    const whole = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, { composite: make(), target: [0, 1, 2, 3, 4, 0, 1] });
    const single = new Float32Array(whole.relevance.length);
    const singleLogits = new Float32Array(whole.logits.length);
    for (let s = 0; s < batch; s++) {
      const r = await model.explain({ data: input.slice(s * SAMPLE, (s + 1) * SAMPLE), shape: [1, ...INPUT_SHAPE] }, { composite: make(), target: s % 5 });
      single.set(r.relevance, s * SAMPLE);
      singleLogits.set(r.logits, s * 5);
    }
    if (bitIdentical(whole.relevance, single)) identical++;
    const err = relativeError(whole.relevance, single, batch);
    t.true(err <= 1e-6, `${name}: batch vs one-by-one relevance err ${err}`);
    t.true(relativeError(whole.logits, singleLogits, batch) <= 1e-6, `${name}: logits differ`);
  }
  t.log(`${identical} of ${COMPOSITES.length} composites bit-identical between batch and one-by-one`);
  model.dispose();
});

test('determinism: two runs are bit-identical (same thread count), and 1 thread agrees with many', async (t) => {
  const model = cnn(21);
  const batch = 7;
  const input = uniform(generator(22), batch * SAMPLE);
  let identicalAcrossThreads = 0;
  for (const [name, make] of COMPOSITES) {
    const options = { composite: make(), target: 'argmax' as const };
    const a = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, options);
    const b = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, options);
    t.true(bitIdentical(a.relevance, b.relevance), `${name}: two runs differ`);
    t.true(bitIdentical(a.logits, b.logits), `${name}: logits of two runs differ`);
    const one = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, { ...options, threads: 1 });
    if (bitIdentical(a.relevance, one.relevance)) identicalAcrossThreads++;
    t.true(relativeError(one.relevance, a.relevance, batch) <= 1e-6, `${name}: 1 thread vs default differ`);
  }
  t.log(`${identicalAcrossThreads} of ${COMPOSITES.length} composites bit-identical between 1 thread and the default`);
  // Concurrent explains of one model give the same answers as sequential ones.
  const make = COMPOSITES[1][1];
  const sequentialRun = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, { composite: make() });
  const parallel = await Promise.all([0, 1, 2, 3].map(() => model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, { composite: make() })));
  for (const p of parallel) t.true(bitIdentical(p.relevance, sequentialRun.relevance), 'concurrent explain differs');
  model.dispose();
});

test('composites named by a string are resolved once per model and still follow every change of name or parameter', async (t) => {
  // Model caches the rules of a named composite with numeric parameters, and the addon skips converting the same
  // frozen rules array again: each call must still explain with exactly the composite it names.
  const model = cnn(23);
  const fresh = () => cnn(23);
  const batch = 3;
  const input = { data: uniform(generator(24), batch * SAMPLE), shape: [batch, ...INPUT_SHAPE] };
  // Repeated calls reuse the cached rules (and the addon its conversion); changed ones must not.
  const calls: [string, Record<string, number>][] = [
    ['epsilon', {}], ['epsilon', {}], ['epsilon-plus', {}], ['epsilon-plus', {}], ['epsilon', {}],
    ['epsilon', { epsilon: 0.5 }], ['epsilon', { epsilon: 0.5 }], ['epsilon-gamma-box', { low: -1, high: 1 }],
    ['epsilon-gamma-box', { low: -1, high: 1 }], ['epsilon-gamma-box', { low: -2, high: 1 }],
  ];
  const seen: Float32Array[] = [];
  for (const [name, params] of calls) {
    const cached = await model.explain(input, { composite: name, compositeParams: params });
    const other = fresh();
    const expected = await other.explain(input, { composite: compositeByName(name, params) });
    other.dispose();
    t.true(bitIdentical(cached.relevance, expected.relevance), `${name} ${JSON.stringify(params)}: differs from a fresh model`);
    t.is(cached.composite, expected.composite);
    seen.push(cached.relevance);
  }
  t.false(bitIdentical(seen[1], seen[2]), 'epsilon-plus gave the epsilon relevance');
  t.false(bitIdentical(seen[4], seen[5]), 'a new epsilon gave the old relevance');
  t.false(bitIdentical(seen[8], seen[9]), 'a new zBox bound gave the old relevance');
  // Tensor bounds are read on every call (the caller may change them in place).
  const low = new Float32Array(SAMPLE).fill(-1);
  const high = new Float32Array(SAMPLE).fill(1);
  const bounds = { low: { data: low, shape: INPUT_SHAPE }, high: { data: high, shape: INPUT_SHAPE } };
  const before = await model.explain(input, { composite: 'epsilon-gamma-box', compositeParams: bounds });
  low.fill(-3);
  const after = await model.explain(input, { composite: 'epsilon-gamma-box', compositeParams: bounds });
  t.false(bitIdentical(before.relevance, after.relevance), 'a zBox tensor changed in place was not read again');
  model.dispose();
});

test('argmax target: the explained class is the arg-max of the logits', async (t) => {
  const model = cnn(31);
  const batch = 7;
  const result = await model.explain({ data: uniform(generator(32), batch * SAMPLE), shape: [batch, ...INPUT_SHAPE] });
  for (let s = 0; s < batch; s++) {
    const row = Array.from(result.logits.subarray(s * 5, (s + 1) * 5));
    t.is(result.targets[s], row.indexOf(Math.max(...row)));
    t.is(result.conservation[s].outputRelevance, row[result.targets[s]]);
  }
  model.dispose();
});

function assertConserved(t: ExecutionContext, name: string, result: Awaited<ReturnType<Model['explain']>>, batch: number): void {
  for (let s = 0; s < batch; s++) {
    let sum = 0;
    for (let k = s * SAMPLE; k < (s + 1) * SAMPLE; k++) sum += result.relevance[k];
    const logit = result.logits[s * 5 + result.targets[s]];
    const err = Math.abs(sum - logit) / Math.abs(logit);
    t.true(err <= 1e-5, `${name} sample ${s}: input sum ${sum} vs target logit ${logit} (relative ${err})`);
    t.true(result.conservation[s].relativeError <= 1e-5, `${name} sample ${s}: report says ${result.conservation[s].relativeError}`);
  }
  t.notThrows(() => checkConservation(result, { strict: true, tolerance: 1e-5 }), name);
}

test('conservation: a bias-free model under lrp0 and zPlus keeps the explained output (1e-5 relative)', async (t) => {
  const model = cnn(41, false);
  const batch = 7;
  const input = uniform(generator(42), batch * SAMPLE);
  // Stabilizers of 1e-9: the default 1e-6 alone absorbs ~1e-6/|z| of a neuron's relevance, 1e-5 for logits near 0.1.
  const tiny = { stabilizer: 1e-9 };
  for (const [name, c] of [
    ['lrp0', composite({ linearDefault: rules.lrp0(tiny), normStabilizer: 1e-9 })],
    ['zPlus', composite({ linearDefault: rules.zPlus(tiny), normStabilizer: 1e-9 })],
  ] as const) {
    const result = await model.explain({ data: input, shape: [batch, ...INPUT_SHAPE] }, { composite: c });
    assertConserved(t, name, result, batch);
    // The report's input relevance (summed natively, in double) is the sum of the relevance returned.
    for (let s = 0; s < batch; s++) {
      let sum = 0;
      for (let k = s * SAMPLE; k < (s + 1) * SAMPLE; k++) sum += result.relevance[k];
      const reported = result.conservation[s].inputRelevance;
      t.true(Math.abs(reported - sum) <= 1e-6 * Math.abs(sum), `${name}: sample ${s} reports ${reported}, its relevance sums to ${sum}`);
    }
    // Every layer passes on what it receives (within the same tolerance).
    for (const layer of result.layers) {
      for (let s = 0; s < batch; s++) {
        const scale = Math.abs(result.conservation[s].outputRelevance);
        t.true(Math.abs(layer.absorbed[s]) <= 1e-5 * scale, `${name}: layer ${layer.name} absorbed ${layer.absorbed[s]} of sample ${s}`);
      }
    }
  }
  model.dispose();
});

test('conservation: a model with biases fails a strict 1e-9 check with E_CONSERVATION', async (t) => {
  const model = cnn(51, true);
  const batch = 3;
  const result = await model.explain({ data: uniform(generator(52), batch * SAMPLE), shape: [batch, ...INPUT_SHAPE] }, { composite: 'epsilon' });
  const error = t.throws(() => checkConservation(result, { strict: true, tolerance: 1e-9 }));
  t.true(isLrpError(error));
  t.is((error as LrpError).code, 'E_CONSERVATION');
  // Not strict: a report with verdicts, no exception.
  const checks = checkConservation(result, { tolerance: 1e-9 });
  t.is(checks.length, batch);
  t.true(checks.some((c) => !c.ok));
  // The absorbed amounts add up to the difference.
  for (const c of result.conservation) {
    const total = c.absorbedByLayer.reduce((a, l) => a + l.amount, 0);
    t.true(Math.abs(total - c.absorbed) <= 1e-4 * Math.max(1, Math.abs(c.outputRelevance)), `absorbed ${total} vs ${c.absorbed}`);
  }
  model.dispose();
});

async function rejectsWith(t: ExecutionContext, promise: () => Promise<unknown> | unknown, code: LrpErrorCode, what: string): Promise<void> {
  let caught: unknown;
  try {
    await promise();
  } catch (error) {
    caught = error;
  }
  t.true(caught instanceof LrpError, `${what}: expected LrpError ${code}, got ${String(caught)}`);
  t.is((caught as LrpError | undefined)?.code, code, `${what}: ${String(caught)}`);
}

test('bad input: stable LrpError codes', async (t) => {
  const model = cnn(61);
  const good = uniform(generator(62), 2 * SAMPLE);
  const shape = [2, ...INPUT_SHAPE];
  await rejectsWith(t, () => model.explain({ data: good, shape: [2, 9, 7, 2] }), 'E_SHAPE', 'wrong shape');
  await rejectsWith(t, () => model.explain({ data: good.subarray(0, SAMPLE), shape: [1, 2, 7, 9] }), 'E_SHAPE', 'transposed shape');
  await rejectsWith(t, () => model.explain({ data: good, shape: [3, ...INPUT_SHAPE] }), 'E_SHAPE', 'data length does not match shape');
  await rejectsWith(t, () => model.explain(good.subarray(0, SAMPLE + 3)), 'E_SHAPE', 'flat input of wrong length');
  await rejectsWith(t, () => model.explain(new Float32Array(0)), 'E_SHAPE', 'empty input');
  const nan = good.slice();
  nan[SAMPLE + 5] = NaN;
  await rejectsWith(t, () => model.explain({ data: nan, shape }), 'E_NON_FINITE', 'NaN input');
  const inf = good.slice();
  inf[3] = -Infinity;
  await rejectsWith(t, () => model.explain(inf), 'E_NON_FINITE', 'infinite input');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: 5 }), 'E_TARGET', 'class 5 of 5');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: -1 }), 'E_TARGET', 'class -1');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: [0, 7] }), 'E_TARGET', 'second target out of range');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: [0] }), 'E_TARGET', 'one target for two samples');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: 1.5 }), 'E_TARGET', 'fractional class');
  await rejectsWith(t, () => model.explain({ data: good, shape }, { target: { data: new Float32Array(2 * 4), shape: [2, 4] } }), 'E_TARGET', 'output relevance of the wrong shape');
  await rejectsWith(t, () => sequential({ inputShape: [-1, 4] }, [flatten()]), 'E_SHAPE', 'negative dimension in inputShape');
  await rejectsWith(t, () => sequential({ inputShape: [2, 1.5] }, [flatten()]), 'E_SHAPE', 'fractional dimension in inputShape');
  await rejectsWith(t, () => sequential({ inputShape: [3] }, [dense({ weight: { data: new Float32Array(8), shape: [2, 4] } })]), 'E_SHAPE', 'dense weight does not fit the input');
  model.dispose();
});

test('bad rules: E_RULE for rules that do not fit, invalid parameters and bad zBox bounds', async (t) => {
  const model = cnn(71);
  const input = { data: uniform(generator(72), SAMPLE), shape: [1, ...INPUT_SHAPE] };
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byType: { maxPool2d: rules.epsilon() } }) }), 'E_RULE', 'epsilon on maxPool2d');
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byName: { relu0: rules.zPlus() } }) }), 'E_RULE', 'zPlus on relu');
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byType: { dense: rules.pass() } }) }), 'E_RULE', 'pass on dense');
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byName: { add: rules.gradient() } }) }), 'E_RULE', 'gradient on add');
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byName: { nosuchlayer: rules.epsilon() } }) }), 'E_RULE', 'unknown layer name');
  await rejectsWith(t, () => model.explain(input, { composite: composite({ byIndex: { 99: rules.epsilon() } }) }), 'E_RULE', 'index out of range');
  await rejectsWith(t, () => rules.alphaBeta({ alpha: 2, beta: 0.5 }), 'E_RULE', 'alpha − beta = 1.5');
  await rejectsWith(t, () => rules.alphaBeta({ alpha: 1, beta: 1 }), 'E_RULE', 'alpha − beta = 0');
  await rejectsWith(t, () => rules.gamma({ gamma: -0.1 }), 'E_RULE', 'gamma < 0');
  await rejectsWith(t, () => rules.epsilon({ epsilon: -1 }), 'E_RULE', 'epsilon < 0');
  await rejectsWith(t, () => rules.epsilon({ epsilon: NaN }), 'E_RULE', 'epsilon NaN');
  await rejectsWith(t, () => rules.zBox({} as unknown as { low: number; high: number }), 'E_RULE', 'zBox without bounds');
  await rejectsWith(t, () => rules.zBox({ low: -1 } as unknown as { low: number; high: number }), 'E_RULE', 'zBox without high');
  await rejectsWith(t, () => rules.zBox({ low: 1, high: -1 }), 'E_RULE', 'zBox low > high');
  await rejectsWith(t, () => compositeByName('epsilon-gamma-box'), 'E_RULE', 'epsilon-gamma-box without bounds');
  const wrongShape = rules.zBox({ low: { data: new Float32Array(5), shape: [5] }, high: 1 });
  await rejectsWith(t, () => model.explain(input, { composite: composite({ first: wrongShape }) }), 'E_RULE', 'zBox bounds of the wrong shape');
  await rejectsWith(t, () => model.describe(composite({ first: wrongShape })), 'E_RULE', 'describe: zBox bounds of the wrong shape');
  await rejectsWith(t, () => model.explain(input, { composite: 'no-such-composite' }), 'E_ARGUMENT', 'unknown composite name');
  model.dispose();
});

test('describe: the most specific choice wins (byName > byIndex > first > byType > linearDefault)', (t) => {
  const model = cnn(81);
  const names = model.layers.map((l) => l.name);
  t.deepEqual(names, ['conv0', 'relu0', 'conv1', 'relu1', 'add', 'maxpool', 'conv2', 'relu2', 'avgpool', 'flatten', 'fc1', 'relu3', 'fc2']);
  const index = (name: string): number => names.indexOf(name);
  const ruleOf = (c: Composite): Record<string, string> => Object.fromEntries(model.describe(c).map((l) => [l.name, l.ruleSpec.rule]));

  // Built-in rules of parameter-free layers, linearDefault for the rest.
  const base = ruleOf(composite({ linearDefault: rules.zPlus(), normStabilizer: 0.5 }));
  t.deepEqual(base, {
    conv0: 'zPlus', relu0: 'pass', conv1: 'zPlus', relu1: 'pass', add: 'norm', maxpool: 'gradient', conv2: 'zPlus', relu2: 'pass',
    avgpool: 'norm', flatten: 'gradient', fc1: 'zPlus', relu3: 'pass', fc2: 'zPlus',
  });
  const avg = model.describe(composite({ normStabilizer: 0.5 })).find((l) => l.name === 'avgpool')!;
  t.deepEqual(avg.ruleSpec, { rule: 'norm', stabilizer: 0.5 });

  // byType beats linearDefault.
  t.like(ruleOf(composite({ byType: { conv2d: rules.gamma() }, linearDefault: rules.zPlus() })), { conv0: 'gamma', conv2: 'gamma', fc1: 'zPlus' });
  // first beats byType (only the first conv2d/dense layer).
  t.like(ruleOf(composite({ byType: { conv2d: rules.gamma() }, first: rules.flat() })), { conv0: 'flat', conv1: 'gamma', fc1: 'epsilon' });
  // first restricted to dense picks the first dense layer.
  t.like(ruleOf(composite({ first: { rule: rules.wSquare(), types: ['dense'] } })), { conv0: 'epsilon', fc1: 'wSquare', fc2: 'epsilon' });
  // byIndex beats first.
  t.like(ruleOf(composite({ first: rules.flat(), byIndex: { [index('conv0')]: rules.zPlus() } })), { conv0: 'zPlus' });
  // byIndex beats byType.
  t.like(ruleOf(composite({ byType: { dense: rules.gamma() }, byIndex: { [index('fc2')]: rules.lrp0() } })), { fc1: 'gamma', fc2: 'lrp0' });
  // byName beats byIndex and first.
  t.like(ruleOf(composite({
    first: rules.flat(), byIndex: { [index('conv0')]: rules.zPlus() }, byName: { conv0: rules.alphaBeta() },
  })), { conv0: 'alphaBeta' });
  // byName beats byType for a parameter-free layer too (a norm with its own stabilizer).
  const named = model.describe(composite({ byName: { add: rules.norm({ stabilizer: 0.25 }) } })).find((l) => l.name === 'add')!;
  t.deepEqual(named.ruleSpec, { rule: 'norm', stabilizer: 0.25 });
  // The standard composites.
  t.like(ruleOf(compositeByName('epsilon-plus-flat')), { conv0: 'flat', conv1: 'zPlus', conv2: 'zPlus', fc1: 'epsilon', fc2: 'epsilon' });
  t.like(ruleOf(compositeByName('epsilon-gamma-box', { low: -1, high: 1 })), { conv0: 'zBox', conv1: 'gamma', fc1: 'epsilon' });
  t.like(ruleOf(compositeByName('wsquare-epsilon')), { conv0: 'wSquare', conv1: 'epsilon', fc2: 'epsilon' });
  const described = model.describe('epsilon', { epsilon: 0.3 });
  t.is(described[0].rule, 'epsilon(ε=0.3)');
  t.is(described[0].parameters, 4 * 2 * 9 + 4);
  model.dispose();
});

test('a disposed model rejects with E_DISPOSED', async (t) => {
  const model = cnn(91);
  const input = { data: uniform(generator(92), SAMPLE), shape: [1, ...INPUT_SHAPE] };
  await model.explain(input);
  t.false(model.disposed);
  model.dispose();
  t.true(model.disposed);
  t.notThrows(() => model.dispose(), 'dispose twice');
  await rejectsWith(t, () => model.explain(input), 'E_DISPOSED', 'explain after dispose');
  await rejectsWith(t, () => model.predict(input), 'E_DISPOSED', 'predict after dispose');
});

test('dispose while an explain is in flight: the running explain finishes or rejects cleanly', async (t) => {
  const model = cnn(93);
  const batch = 64;
  const input = { data: uniform(generator(94), batch * SAMPLE), shape: [batch, ...INPUT_SHAPE] };
  const running = model.explain(input, { composite: 'epsilon-plus' });
  model.dispose();
  try {
    const result = await running;
    t.is(result.relevance.length, batch * SAMPLE);
  } catch (error) {
    t.true(isLrpError(error), `unexpected ${String(error)}`);
  }
});

test('predict agrees with the logits of explain', async (t) => {
  const model = cnn(95);
  const input = { data: uniform(generator(96), 3 * SAMPLE), shape: [3, ...INPUT_SHAPE] };
  const { logits, shape } = await model.predict(input);
  const explained = await model.explain(input);
  t.deepEqual(shape, [3, 5]);
  t.true(relativeError(logits, explained.logits, 3) <= 1e-6);
  model.dispose();
});

test('global average pooling conserves under zPlus without biases', async (t) => {
  const random = generator(97);
  const g = graph({ inputShape: [3, 5, 5] });
  const c = g.add(relu(), g.add(conv2d({ weight: weights(random, [4, 3, 3, 3], 27), padding: 1 }), g.input, 'conv'), 'relu');
  const p = g.add(flatten(), g.add(globalAvgPool(), c, 'gap'), 'flatten');
  const model = g.build(g.add(dense({ weight: weights(random, [5, 4], 4) }), p, 'fc'));
  const result = await model.explain({ data: uniform(random, 2 * 75), shape: [2, 3, 5, 5] }, {
    composite: composite({ linearDefault: rules.zPlus({ stabilizer: 1e-9 }), normStabilizer: 1e-9 }),
  });
  t.notThrows(() => checkConservation(result, { strict: true, tolerance: 1e-5 }));
  model.dispose();
});

/** Explains one dense layer `W a + b` with a given output relevance; returns the input relevance. */
async function denseRelevance(weight: number[][], bias: number[] | null, input: number[], outputRelevance: number[], rule: Rule): Promise<number[]> {
  const model = sequential({ inputShape: [input.length] }, [dense({ weight, bias, name: 'd' })]);
  try {
    const result = await model.explain([input], {
      composite: composite({ byName: { d: rule } }), target: { data: Float32Array.from(outputRelevance), shape: [1, outputRelevance.length] },
    });
    return Array.from(result.relevance);
  } finally {
    model.dispose();
  }
}

test('conventions random data never exercises (README): zero denominators, gamma/alphaBeta masks, wSquare/flat biases', async (t) => {
  const close = (actual: number[], expected: number[], what: string): void => {
    t.true(actual.length === expected.length && actual.every((v, i) => Math.abs(v - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i]))),
      `${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}]`);
  };
  // z = 0 exactly: the denominator becomes +ε (sign0(0) = +1): R_in = a ⊙ Wᵀ (R / 0.01).
  close(await denseRelevance([[1, -1]], [0], [0.5, 0.5], [1], rules.epsilon({ epsilon: 0.01 })), [50, -50], 'epsilon, z = 0');
  close(await denseRelevance([[1, -1]], null, [0.5, 0.5], [1], rules.lrp0({ stabilizer: 0.5 })), [1, -1], 'lrp0, z = 0');
  // Gamma: an output with z == 0 passes no relevance.
  close(await denseRelevance([[1, -1]], null, [0.5, 0.5], [1], rules.gamma({ gamma: 0.25 })), [0, 0], 'gamma, z = 0');
  // AlphaBeta: no negative contribution and b ≥ 0 → z_n = 0 → +stabilizer, β term 0.
  close(await denseRelevance([[1, 2]], [0], [1, 1], [3], rules.alphaBeta({ alpha: 2, beta: 1 })), [2 * 1 * 3 / 3, 2 * 2 * 3 / 3], 'alphaBeta, z_n = 0');
  // WSquare keeps b² in the denominator: z = 1 + 4 + 1 = 6.
  close(await denseRelevance([[1, 2]], [1], [5, -7], [6], rules.wSquare()), [1, 4], 'wSquare with bias');
  close(await denseRelevance([[1, 2]], [1], [5, -7], [5], rules.wSquare({ ignoreBias: true })), [1, 4], 'wSquare ignoring the bias');
  // Flat ignores the bias: z = in_features.
  close(await denseRelevance([[1, 2, 3]], [10], [5, -7, 1], [3], rules.flat()), [1, 1, 1], 'flat with bias');
  // ZBox does not use the bias: z = W a − W⁺ L − W⁻ H = (1·0.5 − 2·0.5) − (1·−1) − (−2·1) = 2.5.
  close(await denseRelevance([[1, -2]], [100], [0.5, 0.5], [2.5], rules.zBox({ low: -1, high: 1 })),
    [0.5 * 1 - (-1) * 1, 0.5 * -2 - 1 * -2], 'zBox ignores the bias');
  // Epsilon absorbs into the bias; ignoreBias removes it from the denominator.
  close(await denseRelevance([[1, 1]], [2], [1, 1], [4], rules.epsilon({ epsilon: 0 })), [1, 1], 'epsilon with bias');
  close(await denseRelevance([[1, 1]], [2], [1, 1], [4], rules.epsilon({ epsilon: 0, ignoreBias: true })), [2, 2], 'epsilon ignoring the bias');
});

test('max pooling: ties go to the first element of the window, padded positions never win', async (t) => {
  // One channel 4×4 of equal values: each 2×2 window sends all its relevance to its top-left element.
  const model = sequential({ inputShape: [1, 4, 4] }, [maxPool2d({ kernel: 2 }), flatten(), dense({ weight: [[1, 1, 1, 1]], name: 'd' })]);
  const tie = await model.explain(new Array(16).fill(0.5), { composite: composite({ linearDefault: rules.epsilon({ epsilon: 0 }) }), target: 0 });
  const expected = new Array(16).fill(0);
  for (const k of [0, 2, 8, 10]) expected[k] = 0.5;
  t.deepEqual(Array.from(tie.relevance), expected);
  model.dispose();
  // All-negative input with padding 1: the window at the corner holds one real element, which must win over padding.
  const padded = sequential({ inputShape: [1, 2, 2] }, [maxPool2d({ kernel: 2, stride: 2, padding: 1 }), flatten(), dense({ weight: [[1, 1, 1, 1]], name: 'd' })]);
  const result = await padded.explain([-1, -2, -3, -4], { composite: composite({ linearDefault: rules.epsilon({ epsilon: 0 }) }), target: 0 });
  t.deepEqual(Array.from(result.logits), [-10]);
  t.deepEqual(Array.from(result.relevance), [-1, -2, -3, -4]);
  padded.dispose();
});
