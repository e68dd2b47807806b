// Memory budget (chunking, E_MEMORY_BUDGET), cancellation with an AbortSignal, and non-finite numbers (E_NON_FINITE).
import test from 'ava';
import { type Model, conv2d, dense, flatten, isLrpError, maxPool2d, relu, sequential } from '../../lib/index';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function convModel(seed = 1): Model {
  const rnd = random(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, rnd);
  return sequential({ inputShape: [2, 6, 6] }, [
    conv2d({ weight: { data: fill(72), shape: [4, 2, 3, 3] }, bias: { data: fill(4), shape: [4] }, padding: 1 }), relu(),
    maxPool2d({ kernel: 2 }), flatten(), dense({ weight: { data: fill(108), shape: [3, 36] }, bias: { data: fill(3), shape: [3] } }),
  ]);
}

const batchOf = (n: number, seed = 2) => Float32Array.from({ length: n * 72 }, random(seed));

async function rejection(promise: Promise<unknown>): Promise<{ name?: string; code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { name?: string; code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

// ---- memory budget

test('estimateMemory grows linearly with the batch and reports a chunk size under the budget', (t) => {
  const model = convModel();
  const one = model.estimateMemory(1, { threads: 1 });
  const many = model.estimateMemory(64, { threads: 1 });
  t.true(one.perSampleBytes > 0);
  t.is(many.perSampleBytes, one.perSampleBytes);
  t.is(many.totalBytes, one.fixedBytes + 64 * one.perSampleBytes);
  t.is(many.chunkSize, 64);
  const tight = model.estimateMemory(64, { threads: 1, maxMemoryBytes: one.fixedBytes + 5 * one.perSampleBytes });
  t.is(tight.chunkSize, 5);
  model.dispose();
});

test('a large batch under a small maxMemoryBytes runs in chunks and matches one call', async (t) => {
  const model = convModel();
  const x = batchOf(37);
  const whole = await model.explain(x, { threads: 1 });
  const est = model.estimateMemory(1, { threads: 1 });
  const progress: [number, number][] = [];
  const chunked = await model.explain(x, { threads: 1, maxMemoryBytes: est.fixedBytes + 8 * est.perSampleBytes, onProgress: (d, n) => progress.push([d, n]) });
  t.deepEqual(progress, [[8, 37], [16, 37], [24, 37], [32, 37], [37, 37]]);
  t.deepEqual(Array.from(chunked.relevance), Array.from(whole.relevance));
  t.deepEqual(Array.from(chunked.logits), Array.from(whole.logits));
  t.deepEqual(Array.from(chunked.targets), Array.from(whole.targets));
  t.deepEqual(chunked.conservation.map((c) => c.inputRelevance), whole.conservation.map((c) => c.inputRelevance));
  model.dispose();
});

test('a budget too small for one sample is refused with E_MEMORY_BUDGET before anything runs', async (t) => {
  const model = convModel();
  const est = model.estimateMemory(1, { threads: 1 });
  let progressCalls = 0;
  const error = await rejection(model.explain(batchOf(4), { threads: 1, maxMemoryBytes: Math.floor((est.fixedBytes + est.perSampleBytes) / 2), onProgress: () => progressCalls++ }));
  t.true(isLrpError(error));
  t.is(error.code, 'E_MEMORY_BUDGET');
  t.regex(error.message, /one sample needs about [\d.]+ (MiB|GiB)/);
  t.regex(error.message, /maxMemoryBytes/);
  t.is(progressCalls, 0);
  model.dispose();
});

test('maxMemoryBytes that is not a positive number is refused with E_ARGUMENT', async (t) => {
  const model = convModel();
  for (const bad of [0, -1, Number.NaN]) {
    const error = await rejection(model.explain(batchOf(1), { maxMemoryBytes: bad }));
    t.true(isLrpError(error));
    t.is(error.code, 'E_ARGUMENT', `maxMemoryBytes ${bad}`);
  }
  model.dispose();
});

// ---- cancellation

test('an AbortSignal aborted before the call rejects with AbortError and runs nothing', async (t) => {
  const model = convModel();
  const controller = new AbortController();
  controller.abort();
  let progressCalls = 0;
  const error = await rejection(model.explain(batchOf(3), { signal: controller.signal, onProgress: () => progressCalls++ }));
  t.is(error.name, 'AbortError');
  t.is(progressCalls, 0);
  model.dispose();
});

test('aborting during a multi-chunk call rejects with AbortError after fewer chunks', async (t) => {
  const model = convModel();
  const est = model.estimateMemory(1, { threads: 1 });
  const controller = new AbortController();
  const done: number[] = [];
  const error = await rejection(model.explain(batchOf(40), {
    threads: 1, signal: controller.signal, maxMemoryBytes: est.fixedBytes + 4 * est.perSampleBytes,
    onProgress: (d) => { done.push(d); if (d >= 8) controller.abort(); },
  }));
  t.is(error.name, 'AbortError');
  t.deepEqual(done, [4, 8]);  // 10 chunks planned, 2 ran
  model.dispose();
});

test('an abort reason that is an AbortError is rethrown as is', async (t) => {
  const model = convModel();
  const controller = new AbortController();
  const reason = new DOMException('stop now', 'AbortError');
  controller.abort(reason);
  const error = await rejection(model.explain(batchOf(1), { signal: controller.signal }));
  t.is(error, reason as unknown as typeof error);
  model.dispose();
});

// ---- numerics

test('NaN and Infinity inputs are refused with E_NON_FINITE naming the sample', async (t) => {
  const model = convModel();
  for (const [value, sample] of [[Number.NaN, 2], [Number.POSITIVE_INFINITY, 0], [Number.NEGATIVE_INFINITY, 4]] as const) {
    const x = batchOf(5);
    x[sample * 72 + 17] = value;
    const error = await rejection(model.explain(x));
    t.true(isLrpError(error));
    t.is(error.code, 'E_NON_FINITE');
    t.regex(error.message, new RegExp(`sample ${sample}\\b`));
    t.is((error as unknown as { details?: { sample?: number } }).details?.sample, sample);
  }
  model.dispose();
});

test('a layer whose pre-activation overflows to Infinity is reported with E_NON_FINITE naming the layer and rule', async (t) => {
  // Weights of 1e30 times inputs of 1e10: z = 4e40 overflows float32, so s = R / z and the relevance are not finite.
  const model = sequential({ inputShape: [4] }, [
    dense({ name: 'huge', weight: { data: new Float32Array(8).fill(1e30), shape: [2, 4] } }),
  ]);
  const error = await rejection(model.explain(new Float32Array(4).fill(1e10), { composite: 'epsilon' }));
  t.true(isLrpError(error), `got ${error.name}: ${error.message}`);
  t.is(error.code, 'E_NON_FINITE');
  t.regex(error.message, /'huge'/);
  t.regex(error.message, /epsilon/);
  model.dispose();
});

test('LRP-0 on a zero pre-activation (epsilon 0, stabilizer 0) gives E_NON_FINITE, not NaN relevance', async (t) => {
  // Weights and bias 0: z = 0 for the target, and R / z with no stabilizer is 0/0 or x/0.
  const model = sequential({ inputShape: [3] }, [
    dense({ name: 'zero', weight: { data: new Float32Array(6), shape: [2, 3] }, bias: { data: new Float32Array(2), shape: [2] } }),
  ]);
  let result;
  try {
    result = await model.explain(new Float32Array([1, 2, 3]), { target: { data: new Float32Array([1, 1]), shape: [1, 2] }, compositeParams: { epsilon: 0, stabilizer: 0 } });
  } catch (error) {
    t.true(isLrpError(error));
    t.is((error as { code?: string }).code, 'E_NON_FINITE');
    t.regex((error as Error).message, /'zero'/);
    return;
  }
  // A finite answer is acceptable only if it really is finite everywhere (e.g. a 0/0 → 0 convention).
  t.true(Array.from(result.relevance).every(Number.isFinite), `returned non-finite relevance ${Array.from(result.relevance)}`);
  model.dispose();
});

test('an output relevance with NaN is refused with E_NON_FINITE', async (t) => {
  const model = convModel();
  const error = await rejection(model.explain(batchOf(1), { target: { data: new Float32Array([0, Number.NaN, 1]), shape: [1, 3] } }));
  t.true(isLrpError(error));
  t.is(error.code, 'E_NON_FINITE');
  model.dispose();
});
