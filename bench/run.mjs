#!/usr/bin/env node
// `npm run bench`: median time of lrp-node's explain against onnxruntime-node's forward pass of the same ONNX file,
// same thread count, interleaved in one run; writes bench/results.md.
//   node bench/run.mjs [--models vgg-cifar,resnet18-64,mlp-784] [--batches 1,16,128] [--runs 5] [--threads 2] [--quick]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const lrp = require(root);
let ort;
try {
  ort = require(join(here, 'node_modules', 'onnxruntime-node'));
} catch {
  console.error('onnxruntime-node is missing: run `cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm install` first');
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vgg-cifar,resnet18-64,mlp-784' },
    batches: { type: 'string', default: '1,16,128' },
    composites: { type: 'string', default: 'epsilon,epsilon-plus,epsilon-gamma-box' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(os.availableParallelism?.() ?? os.cpus().length) },
    'models-dir': { type: 'string', default: join(root, '..', 'shared', 'bench') },
    output: { type: 'string', default: join(here, 'results.md') },
  },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
const modelsDir = values['models-dir'];
const info = JSON.parse(readFileSync(join(modelsDir, 'models.json'), 'utf8'));

function cpuBusy() {
  // Load average of other processes: a benchmark on a busy machine is not worth reporting.
  return os.loadavg()[0];
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function randomInput(n) {
  let seed = 12345;
  return Float32Array.from({ length: n }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

const rows = [];
let peakRss = 0;
const sampleRss = () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
for (const name of values.models.split(',')) {
  const spec = info[name];
  const file = join(modelsDir, spec.file);
  const model = await lrp.loadOnnx(file);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const perSample = spec.input_shape.reduce((a, b) => a * b, 1);
  for (const batch of values.batches.split(',').map(Number)) {
    const input = randomInput(batch * perSample);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [batch, ...spec.input_shape]) };
    const gflop = spec.forward_flops_per_sample * batch / 1e9;
    for (const composite of values.composites.split(',')) {
      const options = { composite, compositeParams: { low: -1, high: 1 }, threads };
      // Warm-up: derived and packed weights, the buffer pool's memory, both sides' code paths.
      let warm = 0;
      for (let w = 0; w < 3; w++) {
        await session.run(feeds);
        const t = process.hrtime.bigint();
        await model.explain(input, options);
        warm = Number(process.hrtime.bigint() - t) / 1e6;
      }
      // A run times enough calls to last ~150 ms (one call of a small batch is too short to time alone), the same
      // count on both sides.
      const reps = Math.min(1000, Math.max(1, Math.ceil(150 / warm)));
      // Each side's block starts after a pause and one untimed call: onnxruntime's intra-op threads spin for ~15 ms
      // after a run (explain calls in that window measured 3–20× slower at batch 1), and the untimed call brings
      // either side's threads and caches back from the pause. Both sides are measured in the same way.
      const timeCalls = async (call) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await call();
        const t = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) await call();
        return Number(process.hrtime.bigint() - t) / 1e6 / reps;
      };
      const ours = [];
      const theirs = [];
      for (let r = 0; r < runs; r++) {
        theirs.push(await timeCalls(() => session.run(feeds)));
        ours.push(await timeCalls(() => model.explain(input, options)));
        sampleRss();
      }
      const row = {
        model: name, batch, composite, explainMs: median(ours), forwardMs: median(theirs),
        ratio: median(ours) / median(theirs), explainGflops: gflop / (median(ours) / 1e3),
        forwardGflops: gflop / (median(theirs) / 1e3), load: cpuBusy(),
      };
      rows.push(row);
      console.log(`${name.padEnd(12)} batch ${String(batch).padStart(4)} ${composite.padEnd(18)} explain ${row.explainMs.toFixed(2).padStart(9)} ms` +
        `  ort forward ${row.forwardMs.toFixed(2).padStart(8)} ms  ratio ${row.ratio.toFixed(2).padStart(6)}  load ${row.load.toFixed(2)}`);
    }
  }
  model.dispose();
  await session.release?.();
}

let gemmReport = '';
const gemmBench = join(root, 'build', 'gemm_bench');
if (existsSync(gemmBench)) gemmReport = execFileSync(gemmBench, { encoding: 'utf8' });

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  '# Benchmark results', '',
  `Machine: ${cpu}, ${os.cpus().length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ` +
  `${threads} threads for both sides; ${runs} interleaved runs per cell (each the mean of enough calls to last ~150 ms, timed after a 50 ms pause and one untimed call), medians. ` +
  `Backend: ${JSON.stringify(lrp.backendInfo())}.`,
  `Command: \`node bench/run.mjs --models ${values.models} --batches ${values.batches} --runs ${runs} --threads ${threads}\``, '',
  '"ratio" is explain time / onnxruntime-node forward time of the same ONNX file in the same run. GFLOP/s counts the',
  'forward FLOPs of the batch (models.json) over each side\'s time. "load" is the 1-minute load average when the cell ran.', '',
  '| model | batch | composite | explain ms | ort forward ms | ratio | explain GFLOP/s (fwd-equiv.) | ort GFLOP/s | load |',
  '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.model} | ${r.batch} | ${r.composite} | ${r.explainMs.toFixed(2)} | ${r.forwardMs.toFixed(2)} | ` +
    `${r.ratio.toFixed(2)} | ${r.explainGflops.toFixed(1)} | ${r.forwardGflops.toFixed(1)} | ${r.load.toFixed(2)} |`),
  '', `Peak RSS of the benchmark process: ${(peakRss / 2 ** 20).toFixed(0)} MiB.`, '',
];
if (gemmReport) lines.push('## GEMM micro-benchmark (build/gemm_bench)', '', '```', gemmReport.trim(), '```', '');
writeFileSync(values.output, lines.join('\n'));
console.log(`\nwrote ${values.output}`);
