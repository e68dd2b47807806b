// Every input the fuzzer (scripts/fuzz.mjs) found crashing or misbehaving, replayed, plus direct tests of those bugs.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { conv2d, dense, flatten, isLrpError, maxPool2d, relu, sequential } from '../../lib/index';

const root = join(__dirname, '..', '..');
const findings = join(root, 'test', 'fixtures', 'fuzz');
const files = readdirSync(findings).filter((f) => f.endsWith('.bin')).sort();

/** Runs `code` (CommonJS, `lrp` bound to lib/index) in a child process, so that a crash fails only the calling test. */
function runIsolated(code: string): { status: number | null; signal: string | null; output: string } {
  const script = `const lrp = require(${JSON.stringify(join(root, 'lib', 'index'))});\n${code}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000, cwd: root });
  return { status: r.status, signal: r.signal, output: `${r.stdout}${r.stderr}` };
}

function tinyConv() {
  const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  return sequential({ inputShape: [1, 4, 4] }, [
    conv2d({ weight: { data: fill(18), shape: [2, 1, 3, 3] }, bias: { data: fill(2), shape: [2] }, padding: 1 }), relu(),
    maxPool2d({ kernel: 2 }), flatten(), dense({ weight: { data: fill(24), shape: [3, 8] }, bias: { data: fill(3), shape: [3] } }),
  ]);
}

for (const file of files) {
  // Each replay runs in its own process (against the built dist/), so a crash fails this test instead of ava's worker.
  test(`fuzz regression ${file} gives a result or an LrpError`, (t) => {
    let output: string;
    try {
      output = execFileSync(process.execPath, [join(root, 'scripts', 'fuzz.mjs'), '--replay', join(findings, file)], {
        encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      const e = error as { status?: number; signal?: string; stdout?: string; stderr?: string };
      return t.fail(`replay failed (status ${e.status}, signal ${e.signal}): ${e.stdout ?? ''}${(e.stderr ?? '').slice(-2000)}`);
    }
    t.regex(output, /^replay: .* -> (ok|E_[A-Z_]+|clean:E_[A-Z_]+|AbortError|callback)\s*$/m);
  });
}

// Found by the fuzzer (unexpected-7a1fc9b38a8e79e9): a stabilizer of 1e300 passes the TypeScript checks, the addon
// refuses it synchronously, and Model.explain let that plain Error ('[E_RULE] …') escape instead of an LrpError.
test('explain with a stabilizer the addon refuses rejects with an LrpError', async (t) => {
  const model = tinyConv();
  const input = new Float32Array(16).fill(0.5);
  const error = await t.throwsAsync(model.explain(input, { composite: 'epsilon-plus-flat', compositeParams: { stabilizer: 1e300 } }));
  t.true(isLrpError(error), `got ${error?.name}: ${error?.message}`);
  t.true(['E_RULE', 'E_ARGUMENT'].includes((error as { code?: string }).code ?? ''));
  model.dispose();
});

test('explain with an epsilon of 1e300 rejects with an LrpError', async (t) => {
  const model = tinyConv();
  const error = await t.throwsAsync(model.explain(new Float32Array(16).fill(0.5), { compositeParams: { epsilon: 1e300 } }));
  t.true(isLrpError(error), `got ${error?.name}: ${error?.message}`);
  model.dispose();
});

// Found by the fuzzer (crash-2f641fe23a40bb6b): a dense layer with zero outputs builds, and explain with the default
// 'argmax' target then writes the relevance of class 0 into an empty buffer (native/engine/executor.cc,
// initialRelevance) and the process dies with SIGSEGV. It must be refused with E_SHAPE instead (when building, or at
// the latest when explaining).
test('a model with zero outputs is refused instead of crashing explain', (t) => {
  const r = runIsolated(`
    (async () => {
      let model;
      try {
        model = lrp.sequential({ inputShape: [4] }, [lrp.dense({ weight: { data: new Float32Array(0), shape: [0, 4] } })]);
      } catch (e) { console.log('outcome', lrp.isLrpError(e) ? e.code : 'other ' + e); return; }
      try { await model.explain(new Float32Array(4)); console.log('outcome ok'); }
      catch (e) { console.log('outcome', lrp.isLrpError(e) ? e.code : 'other ' + e); }
    })();`);
  t.is(r.signal, null, `the process died with ${r.signal}: ${r.output.slice(-1000)}`);
  t.is(r.status, 0, r.output);
  t.regex(r.output, /outcome E_SHAPE/);
});

test('a zero-output layer inside a model is refused instead of crashing explain', (t) => {
  const r = runIsolated(`
    (async () => {
      try {
        const model = lrp.sequential({ inputShape: [1, 9, 9] }, [lrp.maxPool2d({ kernel: 2 }), lrp.flatten(),
          lrp.dense({ weight: { data: new Float32Array(0), shape: [0, 16] } })]);
        await model.explain(new Float32Array(81).fill(0.5), { composite: 'epsilon-gamma-box', compositeParams: { low: -1, high: 1 } });
        console.log('outcome ok');
      } catch (e) { console.log('outcome', lrp.isLrpError(e) ? e.code : 'other ' + e); }
    })();`);
  t.is(r.signal, null, `the process died with ${r.signal}: ${r.output.slice(-1000)}`);
  t.regex(r.output, /outcome E_(SHAPE|ARGUMENT)/);
});
