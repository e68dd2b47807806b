// Many explain calls at once: on one model, on several, from worker threads, and racing a dispose.
import test from 'ava';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Model, conv2d, dense, flatten, isLrpError, loadOnnx, maxPool2d, relu, sequential } from '../../lib/index';

const root = join(__dirname, '..', '..');

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** The model the worker builds too (same seed, same order of random draws). */
function convModel(seed: number): Model {
  const rnd = random(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, rnd);
  return sequential({ inputShape: [2, 6, 6] }, [
    conv2d({ weight: { data: fill(4 * 2 * 3 * 3), shape: [4, 2, 3, 3] }, bias: { data: fill(4), shape: [4] }, padding: 1 }),
    relu(),
    maxPool2d({ kernel: 2 }),
    flatten(),
    dense({ weight: { data: fill(3 * 36), shape: [3, 36] }, bias: { data: fill(3), shape: [3] } }),
  ]);
}

function inputs(count: number, size: number, seed: number): Float32Array[] {
  const rnd = random(seed);
  return Array.from({ length: count }, (_, i) => Float32Array.from({ length: size * (1 + (i % 3)) }, rnd));
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

test('32 concurrent explain calls on one model are bit-identical to running them one by one', async (t) => {
  const model = convModel(11);
  const xs = inputs(32, 72, 5);
  const composites = ['epsilon', 'epsilon-plus', 'epsilon-alpha2-beta1', 'zplus'];
  const serial = [];
  for (let i = 0; i < xs.length; i++) serial.push(await model.explain(xs[i], { composite: composites[i % 4], threads: 2 }));
  const parallel = await Promise.all(xs.map((x, i) => model.explain(x, { composite: composites[i % 4], threads: 2 })));
  for (let i = 0; i < xs.length; i++) {
    t.true(bitsEqual(parallel[i].relevance, serial[i].relevance), `call ${i} differs`);
    t.true(bitsEqual(parallel[i].logits, serial[i].logits), `logits of call ${i} differ`);
  }
  model.dispose();
});

test('32 concurrent explain calls over several models (built and ONNX) match serial runs', async (t) => {
  const models = [convModel(1), convModel(2), await loadOnnx(join(root, 'test', 'fixtures', 'onnx', 'mlp.onnx')),
    await loadOnnx(join(root, 'test', 'fixtures', 'onnx', 'resblock.onnx'))];
  const jobs = Array.from({ length: 32 }, (_, i) => {
    const model = models[i % models.length];
    const size = model.inputShape.reduce((a, b) => a * b, 1);
    return { model, input: inputs(1, size * (1 + (i % 2)), 100 + i)[0] };
  });
  const serial = [];
  for (const job of jobs) serial.push(await job.model.explain(job.input, { composite: 'epsilon-plus', threads: 1 }));
  const parallel = await Promise.all(jobs.map((job) => job.model.explain(job.input, { composite: 'epsilon-plus', threads: 1 })));
  jobs.forEach((_, i) => t.true(bitsEqual(parallel[i].relevance, serial[i].relevance), `call ${i} differs`));
  for (const m of models) m.dispose();
});

function runWorker(seed: number, xs: Float32Array[]): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(join(__dirname, 'fixtures', 'worker-concurrent.cjs'), {
      workerData: { packageRoot: root, seed, inputs: xs.map((x) => Array.from(x)) },
    });
    worker.once('message', (m: number[][] | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    worker.once('error', reject);
  });
}

test('4 worker threads with 8 concurrent calls each match the main thread bit for bit', async (t) => {
  const xs = inputs(8, 72, 9);
  const model = convModel(21);
  const expected = [];
  for (const x of xs) expected.push(Array.from((await model.explain(x, { composite: 'epsilon-plus', threads: 2 })).relevance));
  model.dispose();
  const results = await Promise.all([runWorker(21, xs), runWorker(21, xs), runWorker(21, xs), runWorker(21, xs)]);
  for (const r of results) {
    t.is(r.length, xs.length);
    r.forEach((rel, i) => t.true(bitsEqual(Float32Array.from(rel), Float32Array.from(expected[i])), `worker call ${i} differs`));
  }
});

test('disposing a model while calls are in flight: every call finishes or rejects with an LrpError', async (t) => {
  const model = convModel(3);
  const xs = inputs(16, 72, 4).map((x) => {
    // Larger batches keep the calls busy when dispose comes.
    const big = new Float32Array(x.length * 20);
    for (let i = 0; i < 20; i++) big.set(x, i * x.length);
    return big;
  });
  const calls = xs.map((x) => model.explain(x, { threads: 1 }));
  model.dispose();
  const settled = await Promise.allSettled(calls);
  for (const s of settled) {
    if (s.status === 'rejected') t.true(isLrpError(s.reason), `rejected with ${String(s.reason)}`);
    else t.is(s.value.relevance.length, s.value.shape.reduce((a, b) => a * b, 1));
  }
  t.true(model.disposed);
});

test('dispose between the chunks of a multi-chunk call: finishes or rejects with E_DISPOSED', async (t) => {
  const model = convModel(8);
  const x = inputs(1, 72 * 16, 6)[0];
  const estimate = model.estimateMemory(1, { threads: 1 });
  const budget = estimate.fixedBytes + estimate.perSampleBytes * 2;
  let calls = 0;
  const error = await t.throwsAsync(model.explain(x, { maxMemoryBytes: budget, threads: 1, onProgress: () => { calls++; model.dispose(); } }));
  // The addon throws '[E_DISPOSED] …' synchronously; Model.explain must still turn it into an LrpError.
  t.true(isLrpError(error), `got ${error?.name}: ${error?.message}`);
  t.is((error as { code?: string }).code, 'E_DISPOSED');
  t.is(calls, 1);
});

test('explain and predict after dispose reject with E_DISPOSED', async (t) => {
  const model = convModel(4);
  model.dispose();
  model.dispose();  // twice is fine
  const x = new Float32Array(72);
  for (const call of [() => model.explain(x), () => model.predict(x)]) {
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    t.true(isLrpError(error));
    t.is((error as { code?: string }).code, 'E_DISPOSED');
  }
});
