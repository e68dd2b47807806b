// `lrp info` on every fixture model: the rule it reports for each layer is the rule zennit attached in the goldens.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.join(__dirname, '..', '..');
const refs = path.join(root, 'test', 'fixtures', 'refs');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const run = promisify(execFile);

interface Attribution { composite: string; params: Record<string, number>; layer_rules: { module: string; type: string; rule: string | null }[] }
const cases = JSON.parse(readFileSync(path.join(refs, 'cases.json'), 'utf8')) as { name: string; model: string; attributions: Attribution[] }[];

// zennit's hook names → ours; modules without a hook follow the plain gradient.
const RULE_NAMES: Record<string, string> = {
  Epsilon: 'epsilon', ZPlus: 'zPlus', AlphaBeta: 'alphaBeta', Gamma: 'gamma', Flat: 'flat', WSquare: 'wSquare',
  ZBox: 'zBox', Pass: 'pass', Norm: 'norm',
};

for (const c of cases) {
  test(`lrp info ${c.name}: every layer gets zennit's rule under every composite`, async (t) => {
    for (const a of c.attributions) {
      const params = Object.entries(a.params).flatMap(([k, v]) => [`--${k}`, String(v)]);
      const { stdout } = await run(process.execPath, [cli, 'info', path.join(refs, c.model), '--composite', a.composite, ...params, '--json']);
      const report = JSON.parse(stdout) as { layers: { name: string; type: string; rule: string }[]; unsupported: unknown[] };
      t.deepEqual(report.unsupported, [], `${c.name} has no unsupported op`);
      // Merged BatchNorms have no layer of their own in the loaded model.
      const expected = a.layer_rules.filter((l) => l.type !== 'BatchNorm2d').map((l) => (l.rule ? RULE_NAMES[l.rule] : 'gradient'));
      const actual = report.layers.map((l) => /^[a-zA-Z]+/.exec(l.rule)![0]);
      t.deepEqual(actual, expected, `${c.name} / ${a.composite}: ${report.layers.map((l) => `${l.name}=${l.rule}`).join(', ')}`);
    }
  });
}
