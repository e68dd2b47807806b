// Every ```ts example in README.md runs: compiled with esbuild, imported against the package (its dist/ through
// package.json "exports"), in a folder holding the .npy files the examples read.
//
// A block with import statements starts a new program; a block without any continues the blocks before it (it is
// run after them, as in a notebook), so a later example may use the `model` an earlier one built.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { writeNpy } from '../../lib/io/npy';

const root = join(__dirname, '..', '..');

interface Example { index: number; line: number; code: string; program: string }

/** The ```ts blocks of the README with the program each one runs as. */
function readmeExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  const fence = /^```(ts|typescript)\s*\n([\s\S]*?)^```\s*$/gm;
  let program = '';
  for (const m of markdown.matchAll(fence)) {
    const code = m[2];
    program = /^\s*import\s/m.test(code) ? code : `${program}\n${code}`;
    const line = markdown.slice(0, m.index).split('\n').length;
    examples.push({ index: examples.length + 1, line, code, program });
  }
  return examples;
}

/** Deterministic values in [-1, 1). */
function pseudoRandom(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** The files the README examples read: a 1×16×16 → conv 4×3×3 → pool → dense 10 network, an ONNX model, a batch of 2. */
function writeExampleData(dir: string): void {
  const arrays: Record<string, number[]> = {
    'conv.weight.npy': [4, 1, 3, 3],
    'conv.bias.npy': [4],
    'fc.weight.npy': [10, 4 * 8 * 8],
    'fc.bias.npy': [10],
    'input.npy': [2, 1, 16, 16],
  };
  Object.entries(arrays).forEach(([file, shape], i) => {
    const count = shape.reduce((a, b) => a * b, 1);
    writeNpy(join(dir, file), { data: pseudoRandom(count, 17 + i), shape });
  });
  // The ONNX example's model: the golden `cnn` case, which takes the same [N, 1, 16, 16] input.
  copyFileSync(join(root, 'test', 'fixtures', 'refs', 'cnn', 'model.onnx'), join(dir, 'model.onnx'));
}

const work = mkdtempSync(join(tmpdir(), 'lrp-readme-'));
test.after.always(() => {
  rmSync(work, { recursive: true, force: true });
});

const markdown = readFileSync(join(root, 'README.md'), 'utf8');
const examples = readmeExamples(markdown);

test('README.md has ts examples', (t) => {
  t.true(examples.length >= 1);
});

for (const example of examples) {
  test(`README example ${example.index} (line ${example.line}) runs`, (t) => {
    t.timeout(60_000);
    const dir = join(work, `example-${example.index}`);
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(root, join(dir, 'node_modules', 'lrp-node'), 'dir');
    writeExampleData(dir);
    const { code } = transformSync(example.program, { loader: 'ts', format: 'esm', target: 'node18' });
    writeFileSync(join(dir, 'example.mjs'), code);
    try {
      const output = execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      t.log(output.trim().slice(0, 400));
      t.pass();
    } catch (error) {
      const e = error as { stderr?: string };
      t.fail(`README.md line ${example.line}: the example failed:\n${(e.stderr ?? String(error)).trim().split('\n').slice(0, 12).join('\n')}`);
    }
  });
}
