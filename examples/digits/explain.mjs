#!/usr/bin/env node
// Explains a small CNN's decisions on 8×8 handwritten digits: heatmaps overlaid on the digits (out/*.png) and, for
// each misclassified digit, a per-layer comparison of the evidence for the wrong (predicted) and the true class.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composites, loadOnnx, readNpy, renderHeatmap } from '../../dist/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'out');
const started = performance.now();

// Built by train.py: the model, six test digits ([6, 1, 8, 8] in [0, 1]), their labels and which ones it gets wrong.
const model = await loadOnnx(join(here, 'digits-cnn.onnx'));
const input = readNpy(join(here, 'samples.npy'));
const labels = Array.from(readNpy(join(here, 'samples-labels.npy')).data, Number);
const info = JSON.parse(readFileSync(join(here, 'samples.json'), 'utf8'));
const [batch, , height, width] = input.shape;
const [low, high] = info.inputRange;

// Composite epsilon-gamma-box: zᴮ on the first conv, γ on the second, ε on the dense layers. The pixels have a
// known range ([0, 1], paper to full ink), which is exactly what zᴮ is built for: it explains each pixel against
// the box [low, high], so missing ink (a pixel at 0 where the other class would have a stroke) can carry evidence
// too. epsilon-plus-flat would throw the pixel values away in the first layer and spread relevance evenly over each
// 3×3 receptive field, a blur that covers a third of an 8×8 digit.
// γ = 1 instead of zennit's 0.25: in a network this small the conv biases (BatchNorm merged in) are as large as the
// activations, and with γ = 0.25 they swallow or even flip the relevance of weakly scored digits (sample 4: logit
// 2.55, input relevance −1.23); a larger γ leans on the positive contributions and keeps the sign (0.76).
const composite = composites.epsilonGammaBox({ low, high, gamma: 1 });

console.log(`lrp-node example: handwritten digits (scikit-learn 8×8 digits), a ${model.layers.length}-layer CNN, ` +
  `test accuracy ${(100 * info.testAccuracy).toFixed(1)}% on ${info.testSize} digits`);
console.log(`composite ${composite.name} (γ = 1) with the input range [${low}, ${high}] as the zᴮ box\n`);
// Short names for the report (conv1, pool1, …, fc2) next to the exporter's long ones.
const SHORT_PREFIX = { conv2d: 'conv', maxPool2d: 'pool', dense: 'fc', relu: 'relu', flatten: 'flatten' };
const counts = {};
const shortName = new Map(model.layers.map((l) => {
  counts[l.type] = (counts[l.type] ?? 0) + 1;
  return [l.name, `${SHORT_PREFIX[l.type] ?? l.type}${l.type === 'flatten' ? '' : counts[l.type]}`];
}));
for (const layer of model.describe(composite)) {
  const merged = layer.mergedBatchNorm ? ` (+ ${layer.mergedBatchNorm} merged)` : '';
  console.log(`  ${shortName.get(layer.name).padEnd(8)} ${`[${layer.outputShape.join('×')}]`.padEnd(9)} ` +
    `${layer.rule.padEnd(26)} ${layer.name}${merged}`);
}

// One batch explains every digit as the class it was predicted as, another as its true class.
const predicted = await model.explain(input, { composite, target: 'argmax', keepLayers: true });
const asTrue = await model.explain(input, { composite, target: labels, keepLayers: true });
const classes = predicted.logitsShape[1];
const plane = height * width;
const pixelsOf = (result, n) => result.relevance.subarray(n * plane, (n + 1) * plane);
const logit = (n, k) => predicted.logits[n * classes + k];

console.log('\nsample  label  predicted   logit  Σ input relevance  conservation error  verdict');
for (let n = 0; n < batch; n++) {
  const p = predicted.targets[n], c = predicted.conservation[n];
  if (info.samples[n].predicted !== p) {
    console.log(`  (note: train.py recorded prediction ${info.samples[n].predicted} for sample ${n}, this run gives ${p})`);
  }
  console.log(`${String(n).padStart(6)}  ${String(labels[n]).padStart(5)}  ${String(p).padStart(9)}  ` +
    `${logit(n, p).toFixed(2).padStart(6)}  ${c.inputRelevance.toFixed(2).padStart(17)}  ` +
    `${(100 * c.relativeError).toFixed(1).padStart(17)}%  ${p === labels[n] ? 'correct' : 'MISCLASSIFIED'}`);
}
console.log('(the biases of the conv layers, with their BatchNorm merged in, absorb or add the difference between the ' +
  'logit and the input relevance)');

// Heatmaps: red = evidence for the explained class, blue = against, white = none; the digit shows through in gray.
// The digit is drawn ink-dark on white paper and magnified with sharp pixel edges (nearest neighbour), like the
// heatmap, so that every heatmap cell sits on exactly one digit pixel.
mkdirSync(outDir, { recursive: true });
const UPSCALE = 16; // 8×8 → 128×128 px
const digitImage = (n) => {
  const size = width * UPSCALE, data = new Uint8Array(size * height * UPSCALE);
  for (let y = 0; y < height * UPSCALE; y++) {
    for (let x = 0; x < size; x++) {
      const ink = (input.data[n * plane + Math.floor(y / UPSCALE) * width + Math.floor(x / UPSCALE)] - low) / (high - low);
      data[y * size + x] = Math.round(255 * (1 - ink));
    }
  }
  return { width: size, height: height * UPSCALE, channels: 1, data };
};
const written = [];
const png = (file, relevance, n) => {
  writeFileSync(join(outDir, file), renderHeatmap({ data: relevance, shape: [height, width] }, {
    colormap: 'bwr', upscale: UPSCALE, overlay: { image: digitImage(n), alpha: 0.6 },
  }));
  written.push(file);
};
for (let n = 0; n < batch; n++) {
  const p = predicted.targets[n];
  if (p === labels[n]) {
    png(`digit-${n}-correct-${labels[n]}.png`, pixelsOf(predicted, n), n);
  } else {
    png(`digit-${n}-wrong-${labels[n]}-as-${p}.png`, pixelsOf(predicted, n), n);
    png(`digit-${n}-wrong-${labels[n]}-true-class.png`, pixelsOf(asTrue, n), n);
    // Contrast: where the wrong class got more evidence than the true one (red) and the reverse (blue).
    const contrast = new Float32Array(plane);
    for (let i = 0; i < plane; i++) contrast[i] = pixelsOf(predicted, n)[i] - pixelsOf(asTrue, n)[i];
    png(`digit-${n}-wrong-${labels[n]}-contrast-${p}-minus-${labels[n]}.png`, contrast, n);
  }
}
// Every digit as its predicted class in one grid, each normalised on its own.
writeFileSync(join(outDir, 'overview.png'), renderHeatmap({ data: predicted.relevance, shape: predicted.shape }, {
  colormap: 'bwr', upscale: UPSCALE, grid: true, gridColumns: batch,
  overlay: { image: Array.from({ length: batch }, (_, n) => digitImage(n)), alpha: 0.6 },
}));
written.push('overview.png');

// The per-layer report for misclassified digits: at each layer's output, how much relevance the wrong and the true
// class put there, and on which units (dense), channels and positions (conv/pool) the evidence for the wrong class
// sits, next to where the true class's evidence sits.
const layerOf = (result, name) => result.layerRelevance.find((l) => l.name === name);
const perSample = (entry, n) => {
  const size = entry.shape.slice(1).reduce((a, b) => a * b, 1);
  return { values: entry.relevance.subarray(n * size, (n + 1) * size), shape: entry.shape.slice(1) };
};
const positiveSum = (v) => v.reduce((s, x) => s + (x > 0 ? x : 0), 0);
const sum = (v) => v.reduce((s, x) => s + x, 0);
// How much the two classes draw on the same places: cosine similarity of their positive relevance (1 = the same).
const overlap = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.max(0, a[i]), y = Math.max(0, b[i]);
    ab += x * y; aa += x * x; bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
};
// The strongest positive places of a layer's relevance: dense units, or conv/pool channels with their hottest cell.
const topEvidence = ({ values, shape }, count) => {
  const total = positiveSum(values) || 1;
  if (shape.length === 1) {
    return Array.from(values, (v, i) => ({ v, i })).filter((e) => e.v > 0).sort((a, b) => b.v - a.v).slice(0, count)
      .map((e) => `u${e.i} ${Math.round(100 * e.v / total)}%`).join(', ');
  }
  const [channels, h, w] = shape;
  const cells = h * w;
  const perChannel = [];
  for (let c = 0; c < channels; c++) {
    const slice = values.subarray(c * cells, (c + 1) * cells);
    let best = 0;
    for (let i = 1; i < cells; i++) if (slice[i] > slice[best]) best = i;
    perChannel.push({ c, v: positiveSum(slice), at: `(${Math.floor(best / w)},${best % w})` });
  }
  return perChannel.filter((e) => e.v > 0).sort((a, b) => b.v - a.v).slice(0, count)
    .map((e) => `ch${e.c}@${e.at} ${Math.round(100 * e.v / total)}%`).join(', ');
};
// Where on the digit positive evidence sits: its share in each half, as a readable phrase.
const region = (values) => {
  let top = 0, left = 0, total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = Math.max(0, values[y * width + x]);
      total += v; if (y < height / 2) top += v; if (x < width / 2) left += v;
    }
  }
  if (total === 0) return 'nowhere';
  const vertical = top / total > 0.6 ? 'top' : top / total < 0.4 ? 'bottom' : 'middle';
  const horizontal = left / total > 0.6 ? 'left' : left / total < 0.4 ? 'right' : 'centre';
  return `${vertical}-${horizontal} (${Math.round(100 * top / total)}% in the top half, ${Math.round(100 * left / total)}% in the left half)`;
};
// A text picture of an 8×8 map: ink as # / + / ., or relevance as R/r (for, strong/weak) and B/b (against).
const textRows = (values, kind) => {
  const scale = Math.max(...Array.from(values, Math.abs)) || 1;
  const rows = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x];
      if (kind === 'ink') line += v > 0.6 ? '#' : v > 0.2 ? '+' : '.';
      else line += Math.abs(v) / scale < 0.15 ? '.' : v > 0 ? (v / scale > 0.5 ? 'R' : 'r') : (-v / scale > 0.5 ? 'B' : 'b');
    }
    rows.push(line.split('').join(' '));
  }
  return rows;
};

const reportLayers = model.layers.filter((l) => ['conv2d', 'dense', 'maxPool2d'].includes(l.type));
for (let n = 0; n < batch; n++) {
  const p = predicted.targets[n], t = labels[n];
  if (p === t) continue;
  console.log(`\n── sample ${n}: a ${t} read as ${p} (logit ${p}: ${logit(n, p).toFixed(2)}, logit ${t}: ${logit(n, t).toFixed(2)}) ──`);
  console.log(`  layer output     Σ R for ${p}  Σ R for ${t}  shared  strongest evidence for ${p}  |  for ${t}`);
  for (const layer of [...reportLayers].reverse()) {
    const wrong = perSample(layerOf(predicted, layer.name), n), right = perSample(layerOf(asTrue, layer.name), n);
    const label = `${shortName.get(layer.name)} [${layer.outputShape.join('×')}]`.padEnd(17);
    console.log(`  ${label} ${sum(wrong.values).toFixed(2).padStart(9)} ${sum(right.values).toFixed(2).padStart(10)}  ` +
      `${overlap(wrong.values, right.values).toFixed(2).padStart(6)}  ${topEvidence(wrong, 3)}  |  ${topEvidence(right, 3)}`);
  }
  const wrongPixels = pixelsOf(predicted, n), rightPixels = pixelsOf(asTrue, n);
  console.log(`  input [1×8×8]     ${sum(wrongPixels).toFixed(2).padStart(9)} ${sum(rightPixels).toFixed(2).padStart(10)}  ` +
    `${overlap(wrongPixels, rightPixels).toFixed(2).padStart(6)}  ` +
    `evidence for ${p}: ${region(wrongPixels)}`);
  console.log(`${' '.repeat(50)}evidence for ${t}: ${region(rightPixels)}`);
  const ink = textRows(input.data.subarray(n * plane, (n + 1) * plane), 'ink');
  const a = textRows(wrongPixels, 'relevance'), b = textRows(rightPixels, 'relevance');
  console.log(`\n    the digit (label ${t})      relevance for ${p} (wrong)    relevance for ${t} (true)`);
  for (let y = 0; y < height; y++) console.log(`    ${ink[y]}         ${a[y]}           ${b[y]}`);
  // Pixels that speak for the wrong class more than for the true one.
  const contrast = Array.from(wrongPixels, (v, i) => ({ i, d: v - rightPixels[i] })).sort((x, y) => y.d - x.d).slice(0, 3);
  console.log(`    pixels that favour ${p} over ${t} most: ` + contrast.map(({ i, d }) =>
    `(row ${Math.floor(i / width)}, col ${i % width}, ink ${input.data[n * plane + i].toFixed(2)}) +${d.toFixed(2)}`).join('; '));
}

console.log(`\n(R/r: evidence for the class, strong/weak; B/b: against; '.': little. Rows and columns count from 0 at the top left;` +
  ` conv/pool cells (row,col) are in that layer's own grid; ch = channel, u = unit;` +
  ` shared: cosine similarity of the two classes' positive relevance at that layer, 1 = the same places.)`);
console.log(`wrote ${written.length} heatmaps to ${relative(process.cwd(), outDir) || '.'}: ${written.join(', ')}`);
console.log(`done in ${((performance.now() - started) / 1000).toFixed(2)} s`);
