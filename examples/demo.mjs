#!/usr/bin/env node
// The README's demo: builds a small CNN from bundled weights, explains four 16×16 inputs and prints the relevance
// (as a text heatmap) and the conservation report.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  composites, conv2d, dense, flatten, maxPool2d, readNpy, relu, sequential, checkConservation,
} from '../dist/index.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), 'demo', 'model');
const spec = JSON.parse(readFileSync(join(here, 'model.json'), 'utf8'));
const load = (file) => readNpy(join(here, file));

// The bundled model.json describes Conv-ReLU-MaxPool ×2, Flatten, Linear-ReLU-Linear (10 classes).
const layers = spec.layers.map((l) => {
  switch (l.type) {
    case 'conv2d': return conv2d({ weight: load(l.weight), bias: load(l.bias), stride: l.stride, padding: l.padding, name: l.name });
    case 'linear': return dense({ weight: load(l.weight), bias: load(l.bias), name: l.name });
    case 'maxpool2d': return maxPool2d({ kernel: l.kernel, stride: l.stride, name: l.name });
    case 'relu': return relu({ name: l.name });
    case 'flatten': return flatten({ name: l.name });
    default: throw new Error(`unexpected layer ${l.type}`);
  }
});
const model = sequential({ inputShape: spec.input_shape }, layers);
const input = load('input.npy');

console.log('lrp-node demo: a 16×16 CNN with 10 classes, composite epsilon-gamma-box (inputs lie in [-1, 1])\n');
for (const layer of model.describe(composites.epsilonGammaBox({ low: -1, high: 1 }))) {
  console.log(`  ${layer.name.padEnd(3)} ${layer.type.padEnd(10)} → [${layer.outputShape.join('×')}]  ${layer.rule}`);
}

const result = await model.explain(input, {
  composite: composites.epsilonGammaBox({ low: -1, high: 1 }),
  target: 'argmax',
});

const shades = ' .:-=+*#%@';
const [, , height, width] = result.shape;
for (let s = 0; s < result.shape[0]; s++) {
  const r = result.relevance.subarray(s * height * width, (s + 1) * height * width);
  const scale = Math.max(...r.map(Math.abs)) || 1;
  console.log(`\nsample ${s}: class ${result.targets[s]}, logit ${result.logits[s * 10 + result.targets[s]].toFixed(4)}` +
    '   (positive relevance: symbols, negative: lower-case letters)');
  for (let y = 0; y < height; y++) {
    let line = '  ';
    for (let x = 0; x < width; x++) {
      const v = r[y * width + x] / scale;
      const level = Math.min(9, Math.round(Math.abs(v) * 9));
      line += (v >= 0 ? shades[level] : ' abcdefghi'[level]).repeat(2);
    }
    console.log(line);
  }
}

console.log('\nconservation (output relevance = target logit; biases and stabilizers absorb the rest):');
for (const c of checkConservation(result, { tolerance: 0.05 })) {
  const top = c.absorbedByLayer.map((l) => `${l.name}: ${l.amount.toFixed(4)}`).join(', ');
  console.log(`  sample ${c.sample}: output ${c.outputRelevance.toFixed(4)}  input ${c.inputRelevance.toFixed(4)}  ` +
    `relative error ${c.relativeError.toExponential(2)}  absorbed by ${top || 'nothing'}`);
}
model.dispose();
