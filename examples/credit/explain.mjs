#!/usr/bin/env node
// Explains a tabular MLP's decisions row by row, the way a credit-scoring team files them for an auditor: the
// decision, its score, the features that spoke for and against it, and how much of the score LRP accounts for.
// The model runs on scikit-learn's Breast Cancer Wisconsin data (see README.md): there is no real credit data set
// to ship, the method and the report are the same.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composites, formatFeatureReport, loadOnnx, rankFeatures, readCsv } from '../../dist/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'out');
const TOP = 5; // features per side in the printed report and report.json
const TOP_CSV = 3; // features per side in report.csv

// Built by train.py: the model, the training split's mean and scale per feature, and the class names.
const modelPath = join(here, 'credit-mlp.onnx');
const model = await loadOnnx(modelPath);
const prep = JSON.parse(readFileSync(join(here, 'preprocess.json'), 'utf8'));
const table = readCsv(join(here, 'applicants.csv'));
const [idColumn, ...featureColumns] = table.columns;
if (idColumn !== 'id' || featureColumns.join('|') !== prep.features.join('|')) {
  throw new Error(`applicants.csv must have the columns id, ${prep.features.join(', ')}`);
}
const ids = table.rows.map((row) => row[0]);
const raw = table.rows.map((row) => row.slice(1));
const features = prep.features.length, rows = raw.length;

// The model takes standardised rows: 0 is the training average, so each feature's relevance says how far this
// row's value moved the score away from what an average row would get.
const input = new Float32Array(rows * features);
raw.forEach((row, r) => row.forEach((v, f) => { input[r * features + f] = (v - prep.mean[f]) / prep.scale[f]; }));

// The score of a two-class decision is the logit margin z(decided) − z(other), its log-odds. Handing LRP the
// output relevance +z(decided) on the decided class and −z(other) on the other explains exactly that margin, so
// positive relevance is evidence for the decision and negative relevance evidence against it.
const { logits } = await model.predict({ data: input, shape: [rows, features] });
const classes = prep.classes.length;
const decisions = [], outputRelevance = new Float32Array(rows * classes);
for (let r = 0; r < rows; r++) {
  const z = logits.subarray(r * classes, (r + 1) * classes);
  const d = z[1] > z[0] ? 1 : 0, o = 1 - d;
  const margin = z[d] - z[o];
  decisions.push({ d, margin, probability: 1 / (1 + Math.exp(-margin)) });
  outputRelevance[r * classes + d] = z[d];
  outputRelevance[r * classes + o] = -z[o];
}
// ε on every dense layer: for a ReLU MLP, ε-LRP with a small ε is gradient × input, the exact per-feature split of
// the margin a linear model would give, taken through the network's active units. What the biases add to the
// score belongs to no feature; it shows up as the conservation error.
const composite = composites.epsilon({ epsilon: 1e-6 });
const result = await model.explain({ data: input, shape: [rows, features] }, {
  composite, target: { data: outputRelevance, shape: [rows, classes] },
});

console.log(`lrp-node example: per-decision feature report for a ${features}-feature MLP (${model.layers.length} layers), ` +
  `composite ${composite.name}`);
console.log(`data: ${prep.dataset}; test accuracy ${(100 * prep.testAccuracy).toFixed(1)}% on ${prep.testSize} rows`);
console.log(`relevance explains the score margin z(decision) − z(other); + speaks for the decision, − against it\n`);

const round = (x, digits = 4) => Number(x.toFixed(digits));
const known = new Map(prep.samples.map((s) => [s.id, s]));
const records = [];
for (let r = 0; r < rows; r++) {
  const { d, margin, probability } = decisions[r];
  const relevance = result.relevance.subarray(r * features, (r + 1) * features);
  const full = rankFeatures(relevance, prep.features, { values: raw[r] });
  const ranking = { positive: full.positive.slice(0, TOP), negative: full.negative.slice(0, TOP) };
  const c = result.conservation[r];
  const truth = known.get(ids[r]);
  console.log(`row ${ids[r]}: decision ${prep.classes[d]} (probability ${probability.toFixed(3)}, margin ${margin.toFixed(2)})` +
    (truth ? `, true class ${truth.label}${truth.label === prep.classes[d] ? '' : '  ← WRONG'}` : ''));
  console.log(formatFeatureReport(ranking, { digits: 3 }).replace(/^/gm, '  ').trimEnd());
  // Near the boundary the margin is small, so the relative error is large even when the biases' share is not.
  console.log(`  features account for ${c.inputRelevance.toFixed(2)} of the margin ${c.outputRelevance.toFixed(2)}, ` +
    `the biases for ${c.absorbed.toFixed(2)} (conservation error ${(100 * c.relativeError).toFixed(1)}%)\n`);
  const side = (list) => list.map((f) => ({ feature: f.name, value: f.value, relevance: round(f.relevance) }));
  records.push({
    id: ids[r],
    decision: prep.classes[d],
    probability: round(probability),
    scoreLogitMargin: round(margin),
    logits: Object.fromEntries(prep.classes.map((name, k) => [name, round(logits[r * classes + k])])),
    ...(truth ? { trueClass: truth.label } : {}),
    topPositive: side(ranking.positive),
    topNegative: side(ranking.negative),
    relevanceSum: round(c.inputRelevance),
    unattributed: round(c.absorbed),
    conservationError: round(c.relativeError, 6),
    relevanceByFeature: Object.fromEntries(prep.features.map((name, f) => [name, round(relevance[f], 6)])),
  });
}

// The auditor's file: report.json with everything, report.csv with one line per decision.
mkdirSync(outDir, { recursive: true });
const modelSha256 = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
writeFileSync(join(outDir, 'report.json'), JSON.stringify({
  generatedAt: new Date().toISOString(),
  model: { file: 'credit-mlp.onnx', sha256: modelSha256, testAccuracy: prep.testAccuracy },
  method: {
    library: 'lrp-node', composite: composite.name, target: 'logit margin z(decision) - z(other)',
    preprocessing: 'features standardised with the training mean and scale (preprocess.json)',
  },
  data: prep.dataset,
  decisions: records,
}, null, 2) + '\n');

const quote = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
const header = ['id', 'decision', 'probability', 'score_logit_margin', 'relevance_sum', 'unattributed', 'conservation_error'];
for (const sideName of ['positive', 'negative']) {
  for (let k = 1; k <= TOP_CSV; k++) header.push(`${sideName}_${k}_feature`, `${sideName}_${k}_value`, `${sideName}_${k}_relevance`);
}
const lines = [header.join(',')];
for (const rec of records) {
  const cells = [rec.id, rec.decision, rec.probability, rec.scoreLogitMargin, rec.relevanceSum, rec.unattributed, rec.conservationError];
  for (const list of [rec.topPositive, rec.topNegative]) {
    for (let k = 0; k < TOP_CSV; k++) {
      const f = list[k];
      cells.push(f?.feature ?? '', f?.value ?? '', f?.relevance ?? '');
    }
  }
  lines.push(cells.map(quote).join(','));
}
writeFileSync(join(outDir, 'report.csv'), lines.join('\n') + '\n');
const shown = relative(process.cwd(), outDir) || '.';
console.log(`wrote ${join(shown, 'report.json')} and ${join(shown, 'report.csv')} (${rows} decisions)`);
