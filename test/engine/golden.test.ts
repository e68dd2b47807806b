// The engine (and the float64 reference) against zennit 0.5.1 goldens, models rebuilt from model.json via the public API.
import test from 'ava';
import { compositeByName, sequential } from '../../lib/index';
import { assignRules } from '../../lib/rules/assign';
import { float64Graph, goldenCases, publicGraph, publicLayers, refNpy } from '../reference/fixtures';
import { explain64, relativeError, relativeErrors } from '../reference/lrp64';

const cases = goldenCases().filter((c) => c.sequential !== null);

test('the golden set has the three sequential cases', (t) => {
  t.deepEqual(cases.map((c) => c.name).sort(), ['cnn', 'cnn-bn-avg', 'mlp']);
});

for (const c of cases) {
  const input = refNpy(c.input);
  const target = refNpy(c.target);
  const batch = input.shape[0];

  test(`reference ${c.name}: float64 logits match torch's float32 logits`, (t) => {
    const graph = float64Graph(c);
    const rules = assignRules(graph, compositeByName('epsilon'));
    const { logits } = explain64(graph, rules, input.data, { classes: target.data });
    const torch = refNpy(c.logits);
    t.true(relativeError(logits, torch.data, batch) < 1e-5);
  });

  for (const a of c.attributions) {
    const golden = refNpy(a.relevance);

    test(`reference ${c.name} / ${a.composite}: float64 reference (float64 BatchNorm merge) within 1e-10`, (t) => {
      const graph = float64Graph(c);
      const rules = assignRules(graph, compositeByName(a.composite, a.params));
      const { relevance } = explain64(graph, rules, input.data, { classes: target.data });
      const err = relativeError(relevance, golden.data, batch);
      t.log(`err ${err.toExponential(2)}`);
      t.true(err <= 1e-10, `err ${err}`);
    });

    test(`reference ${c.name} / ${a.composite}: float64 reference on the library's graph within tolerance`, (t) => {
      const graph = publicGraph(c);
      const rules = assignRules(graph, compositeByName(a.composite, a.params));
      const { relevance } = explain64(graph, rules, input.data, { classes: target.data });
      const err = relativeError(relevance, golden.data, batch);
      t.log(`err ${err.toExponential(2)} (tolerance ${a.tolerance.toExponential(2)})`);
      t.true(err <= a.tolerance, `err ${err}`);
    });

    test(`engine ${c.name} / ${a.composite}: within the golden tolerance ${a.tolerance.toExponential(2)}`, async (t) => {
      const { inputShape, layers } = publicLayers(c);
      const model = sequential({ inputShape }, layers);
      try {
        const result = await model.explain({ data: Float32Array.from(input.data), shape: input.shape }, {
          composite: compositeByName(a.composite, a.params), target: Int32Array.from(target.data),
        });
        t.deepEqual(result.shape, input.shape);
        t.deepEqual(Array.from(result.targets), Array.from(target.data));
        const errors = relativeErrors(result.relevance, golden.data, batch);
        const err = Math.max(...errors);
        t.log(`err ${err.toExponential(2)} (f32 noise ${a.f32_error.toExponential(2)}); per sample ${errors.map((e) => e.toExponential(1)).join(' ')}`);
        t.true(err <= a.tolerance, `err ${err} > tolerance ${a.tolerance}`);
        const logits = refNpy(c.logits);
        t.true(relativeError(result.logits, logits.data, batch) < 1e-5, 'logits differ from torch');
      } finally {
        model.dispose();
      }
    });
  }
}
