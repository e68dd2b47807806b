#!/usr/bin/env node
// Leak soak: explains many batches on one model, then loads/explains/disposes ONNX models (and drops some without
// dispose for the garbage collector), sampling rss and external memory. Verdict: flat after warm-up, i.e. growth
// below --max-growth (default 5%) between the 20% mark and the end of each phase.
//
//   node --expose-gc scripts/soak.mjs [--batches 10000] [--cycles 1000] [--samples 20]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const lrp = require(join(root, 'dist'));

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const BATCHES = arg('batches', 10000);
const CYCLES = arg('cycles', 1000);
const SAMPLES = arg('samples', 20);
const MAX_GROWTH = arg('max-growth', 0.05);
const gc = globalThis.gc ?? (() => {});
if (!globalThis.gc) console.warn('soak: run with --expose-gc for stable numbers (and to exercise the GC path)');

function random(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

const mib = (b) => (b / 2 ** 20).toFixed(1);

function sample(rows, phase, i) {
  gc();
  const m = process.memoryUsage();
  rows.push({ phase, iteration: i, rss: m.rss, external: m.external, heapUsed: m.heapUsed });
}

function verdict(rows, phase, total) {
  const own = rows.filter((r) => r.phase === phase);
  const warm = own.find((r) => r.iteration >= 0.2 * total) ?? own[0];
  const end = own[own.length - 1];
  const growth = (key) => (end[key] - warm[key]) / warm[key];
  const ok = growth('rss') < MAX_GROWTH && growth('external') < MAX_GROWTH;
  console.log(`soak: ${phase}: rss ${mib(warm.rss)} → ${mib(end.rss)} MiB (${(growth('rss') * 100).toFixed(1)}%), ` +
    `external ${mib(warm.external)} → ${mib(end.external)} MiB (${(growth('external') * 100).toFixed(1)}%) from the 20% mark ` +
    `(iteration ${warm.iteration}) to the end: ${ok ? 'FLAT' : 'GROWING'}`);
  return ok;
}

const rows = [];
const started = Date.now();

// Phase 1: one model, many batches of 8.
{
  const rnd = random(1);
  const fill = (n) => Float32Array.from({ length: n }, rnd);
  const model = lrp.sequential({ inputShape: [1, 8, 8] }, [
    lrp.conv2d({ weight: { data: fill(4 * 9), shape: [4, 1, 3, 3] }, bias: { data: fill(4), shape: [4] }, padding: 1 }), lrp.relu(),
    lrp.maxPool2d({ kernel: 2 }), lrp.flatten(), lrp.dense({ weight: { data: fill(10 * 64), shape: [10, 64] }, bias: { data: fill(10), shape: [10] } }),
  ]);
  const composites = ['epsilon', 'epsilon-plus', 'epsilon-alpha2-beta1', 'zplus'];
  const every = Math.max(1, Math.floor(BATCHES / SAMPLES));
  for (let i = 0; i < BATCHES; i++) {
    const input = fill(8 * 64);
    await model.explain(input, { composite: composites[i % 4], threads: 2, keepLayers: i % 3 === 0 });
    if (i % every === 0) sample(rows, 'explain', i);
  }
  sample(rows, 'explain', BATCHES);
  model.dispose();
}

// Phase 2: load / explain / dispose ONNX models; every fourth cycle drops the model without dispose.
{
  const names = ['mlp', 'cnn', 'cnn-bn-avg', 'resblock'];
  const files = names.map((n) => new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'onnx', `${n}.onnx`))));
  const rnd = random(2);
  const every = Math.max(1, Math.floor(CYCLES / SAMPLES));
  for (let i = 0; i < CYCLES; i++) {
    const model = await lrp.loadOnnx(files[i % files.length]);
    const size = model.inputShape.reduce((a, b) => a * b, 1);
    await model.explain(Float32Array.from({ length: size * 2 }, rnd), { threads: 2 });
    if (i % 4 !== 3) model.dispose();
    if (i % every === 0) sample(rows, 'load', i);
  }
  sample(rows, 'load', CYCLES);
}

console.log('phase    iteration   rss MiB   external MiB   heapUsed MiB');
for (const r of rows) console.log(`${r.phase.padEnd(8)} ${String(r.iteration).padStart(9)} ${mib(r.rss).padStart(9)} ${mib(r.external).padStart(14)} ${mib(r.heapUsed).padStart(14)}`);
const ok = [verdict(rows, 'explain', BATCHES), verdict(rows, 'load', CYCLES)].every(Boolean);
console.log(`soak: ${BATCHES} batches, ${CYCLES} load cycles in ${((Date.now() - started) / 1000).toFixed(1)} s: ${ok ? 'PASS (flat after warm-up)' : 'FAIL (memory grows)'}`);
process.exitCode = ok ? 0 : 1;
