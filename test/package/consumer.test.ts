// The published package as a user gets it: `npm pack`, a plain `npm install <tarball>` in a fresh project with no
// compiler on PATH and no install scripts run, then require, import, TypeScript types, the `lrp` command and the
// Electron constraints on the packed prebuilt addon.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
// @ts-expect-error: a plain .mjs script without declarations
import { checkPackContents, ensurePackInputs, packProject, ROOT } from '../../scripts/pack-check.mjs';
import { hostSymbols } from '../native/host-symbols';

interface Packed { tarball: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }

const work = mkdtempSync(join(tmpdir(), 'lrp-consumer-'));
const consumer = join(work, 'consumer');
const installed = join(consumer, 'node_modules', 'lrp-node');
const bin = join(work, 'bin');
const tuple = `${process.platform}-${process.arch}`;
let packed: Packed | undefined;
let installedOk = false;

test.after.always(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A PATH with node, npm, npx and sh only: no compiler, no python, no make. */
function minimalPath(): string {
  mkdirSync(bin, { recursive: true });
  const which = (name: string): string => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const name of ['npm', 'npx', 'sh']) symlinkSync(realpathSync(which(name)), join(bin, name));
  return bin;
}

/**
 * The environment of a user's shell: under `npm test` npm exports its settings (npm_config_local_prefix pointing at
 * this repository among them), which must not reach the consumer's npm; only the cache location is kept.
 */
function consumerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache;
  return { ...env, PATH: bin, npm_config_update_notifier: 'false', ...extra };
}

function runInConsumer(command: string, args: string[], extra: NodeJS.ProcessEnv = {}): string {
  return execFileSync(command, args, { cwd: consumer, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: consumerEnv(extra) });
}

// One small model, the same in every consumer flavour, so results can be compared with the repository's own build.
const MODEL_SOURCE = `
const model = lrp.sequential({ inputShape: [3] }, [
  lrp.dense({ weight: [[1, -1, 0.5], [0.2, 0.3, -0.4]], bias: [0.1, -0.1], name: 'fc1' }),
  lrp.relu(),
  lrp.dense({ weight: [[1, 2], [-1, 0.5]], name: 'fc2' }),
]);
const result = await model.explain({ data: new Float32Array([1, 2, 3, -1, 0.5, 2]), shape: [2, 3] },
  { composite: lrp.composites.epsilon({ epsilon: 0.01 }), target: 'argmax' });
const nativeFiles = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
console.log(JSON.stringify({ relevance: [...result.relevance], logits: [...result.logits], nativeFiles,
  conservation: result.conservation.map((c) => c.relativeError) }));
`;

interface RunOutput { relevance: number[]; logits: number[]; nativeFiles: string[]; conservation: number[] }

test.serial('npm pack holds dist/, the prebuilt addon, the C++ sources, both build files and no tests', (t) => {
  t.timeout(600_000, 'building the prebuilt addon and packing');
  ensurePackInputs({ log: (line: string) => t.log(line) });
  packed = packProject(join(work, 'pack')) as Packed;
  t.log(`${packed.files.length} files, ${(packed.size / 1024).toFixed(1)} KiB packed, ` +
    `${(packed.unpackedSize / 1024).toFixed(1)} KiB unpacked`);
  t.deepEqual(checkPackContents(packed.files), []);
  t.true(packed.size < 5 * 1024 * 1024, 'the tarball stays under 5 MiB');
});

test.serial('a plain npm install of the tarball needs no compiler and runs no install script', (t) => {
  t.timeout(300_000, 'npm install');
  if (!packed) return t.fail('the pack step failed');
  minimalPath();
  mkdirSync(consumer, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // --prefer-offline: the dependencies come from the npm cache when they are there.
  runInConsumer('npm', ['install', packed.tarball, '--prefer-offline', '--no-audit', '--no-fund']);
  t.true(existsSync(join(installed, 'package.json')));
  t.false(existsSync(join(installed, 'build')), 'nothing was compiled in the installed package');
  const prebuilds = readdirSync(join(installed, 'prebuilds', tuple));
  t.true(prebuilds.some((f) => f.endsWith('.node')), `prebuilds/${tuple} holds the addon`);
  installedOk = true;
});

test.serial('CommonJS require loads the prebuilt addon and explains like the repository build', (t) => {
  if (!installedOk) return t.fail('the install step failed');
  writeFileSync(join(consumer, 'use.cjs'),
    `const lrp = require('lrp-node');\n(async () => {\n${MODEL_SOURCE}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
  const out = JSON.parse(runInConsumer('node', ['use.cjs'])) as RunOutput;
  t.deepEqual(out.nativeFiles.map((f) => f.startsWith(join(realpathSync(installed), 'prebuilds', tuple))), [true],
    `loaded ${out.nativeFiles.join(', ')}`);
  t.is(out.relevance.length, 6);
  t.true(out.conservation.every(Number.isFinite) && out.relevance.some((r) => r !== 0));

  // The same model through the repository's own dist/ (its local build or prebuild) gives the same numbers.
  const reference = execFileSync(process.execPath, ['-e',
    `const lrp = require(${JSON.stringify(ROOT)});\n(async () => {\n${MODEL_SOURCE}\n})();`], { encoding: 'utf8' });
  const expected = JSON.parse(reference) as RunOutput;
  // Equal up to float32 rounding: the repository's build/Release may be built with other flags than the prebuild.
  const close = (a: number[], b: number[]): boolean =>
    a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])));
  t.true(close(out.relevance, expected.relevance), `${out.relevance.join(', ')} vs ${expected.relevance.join(', ')}`);
  t.true(close(out.logits, expected.logits), `${out.logits.join(', ')} vs ${expected.logits.join(', ')}`);
});

test.serial('ESM import gives the same named exports and default export', (t) => {
  if (!installedOk) return t.fail('the install step failed');
  writeFileSync(join(consumer, 'use.mjs'), [
    "import { createRequire } from 'node:module';",
    "import * as lrp from 'lrp-node';",
    "import lrpDefault from 'lrp-node';",
    "import { sequential, dense, composites, LrpError } from 'lrp-node';",
    'const require = createRequire(import.meta.url);',
    "if (lrpDefault.sequential !== sequential || typeof dense !== 'function' || !composites.epsilon) throw new Error('exports differ');",
    "if (!(new LrpError('E_SHAPE', 'x') instanceof Error)) throw new Error('LrpError is not an Error');",
    MODEL_SOURCE,
  ].join('\n'));
  const out = JSON.parse(runInConsumer('node', ['use.mjs'])) as RunOutput;
  t.is(out.relevance.length, 6);
  t.true(out.nativeFiles[0]?.includes(join('prebuilds', tuple)), `loaded ${out.nativeFiles.join(', ')}`);
});

test.serial('the TypeScript declarations type-check a consumer (CommonJS and ESM resolution)', (t) => {
  t.timeout(180_000, 'tsc');
  if (!installedOk) return t.fail('the install step failed');
  const usage = `
import { sequential, dense, relu, conv2d, flatten, composites, composite, rules, isLrpError,
  type ExplainResult, type ExplainOptions, type Model, type ConservationReport, type Composite } from 'lrp-node';

export async function explainOnce(): Promise<number> {
  const model: Model = sequential({ inputShape: [1, 4, 4] }, [
    conv2d({ weight: { data: new Float32Array(2 * 9), shape: [2, 1, 3, 3] }, padding: 1 }),
    relu(),
    flatten(),
    dense({ weight: { data: new Float32Array(3 * 32), shape: [3, 32] }, bias: [0, 0, 0] }),
  ]);
  const chosen: Composite = composite({ byType: { dense: rules.epsilon({ epsilon: 0.25 }) }, first: rules.flat() });
  const options: ExplainOptions = { composite: composites.epsilonGammaBox({ low: -1, high: 1 }), target: 'argmax' };
  const result: ExplainResult = await model.explain(new Float32Array(16), options);
  const relevance: Float32Array = result.relevance;
  const report: ConservationReport = result.conservation[0];
  model.describe(chosen);
  try {
    // @ts-expect-error: 'weights' is not an option of dense(); the declarations must reject it
    dense({ weights: [[1]] });
  } catch (error) {
    if (!isLrpError(error)) throw error;
  }
  // @ts-expect-error: relevance is a Float32Array, not a string
  const wrong: string = result.relevance;
  void wrong;
  return relevance.length + report.relativeError + result.logitsShape[1];
}
`;
  writeFileSync(join(consumer, 'use-types.ts'), usage);
  writeFileSync(join(consumer, 'use-types-esm.mts'), usage);
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true,
      skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
    },
    files: ['use-types.ts', 'use-types-esm.mts'],
  }, null, 2));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    runInConsumer('node', [tsc, '-p', 'tsconfig.json']);
    t.pass();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    t.fail(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
});

test.serial('npx lrp --help runs the packaged command', (t) => {
  t.timeout(120_000, 'npx lrp');
  if (!installedOk) return t.fail('the install step failed');
  if (!existsSync(join(installed, 'dist', 'cli', 'main.js'))) {
    return t.pass('SKIPPED: dist/cli/main.js is not in the package yet (the CLI is not built)');
  }
  const help = runInConsumer('npx', ['lrp', '--help'], { npm_config_offline: 'true' });
  t.regex(help, /Usage: lrp/);
});

test.serial('the packed prebuilt addon imports only Node-API symbols and declares Node-API 8 (Electron)', (t) => {
  if (!installedOk) return t.fail('the install step failed');
  const dir = join(installed, 'prebuilds', tuple);
  const addon = join(dir, readdirSync(dir).find((f) => f.endsWith('.node')) ?? 'missing.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  t.is((require(addon) as { napiVersion: number }).napiVersion, 8);
  if (process.platform !== 'linux') return;
  const host = hostSymbols(addon);  // same rule as test/native/embedding.test.ts
  t.deepEqual(host.filter((s) => !s.startsWith('napi_') && !s.startsWith('node_api_')), []);
  t.true(host.length > 10);
  // Stripped: no static symbol table left.
  t.regex(execFileSync('sh', ['-c', `nm ${JSON.stringify(addon)} 2>&1 || true`], { encoding: 'utf8' }), /no symbols/);
});

// Slow (a full compile): run by `npm run pack:check`, which sets LRP_PACK_SOURCE_BUILD=1.
const sourceBuild = process.env.LRP_PACK_SOURCE_BUILD === '1' ? test.serial : test.serial.skip;
sourceBuild('without a matching prebuild, the packaged sources build with `npm run build:native` and load', (t) => {
  t.timeout(600_000, 'compiling the addon from the packaged sources');
  if (!installedOk) return t.fail('the install step failed');
  const nodeDir = process.env.npm_config_nodedir ??
    (existsSync(join(dirname(dirname(process.execPath)), 'include', 'node', 'node_api.h')) ? dirname(dirname(process.execPath)) : undefined);
  // A user's full PATH (with the compiler) this time; npm puts its bundled node-gyp on it for the script.
  execFileSync('npm', ['run', 'build:native'], {
    cwd: installed, stdio: 'pipe',
    env: consumerEnv({ PATH: process.env.PATH, ...(nodeDir ? { npm_config_nodedir: nodeDir } : {}) }),
  });
  t.true(existsSync(join(installed, 'build', 'Release', 'lrp.node')));
  const prebuilds = join(installed, 'prebuilds');
  renameSync(prebuilds, `${prebuilds}.away`);
  try {
    const out = JSON.parse(runInConsumer('node', ['use.cjs'])) as RunOutput;
    t.deepEqual(out.nativeFiles, [join(realpathSync(installed), 'build', 'Release', 'lrp.node')]);
    t.is(out.relevance.length, 6);
  } finally {
    renameSync(`${prebuilds}.away`, prebuilds);
    rmSync(join(installed, 'build'), { recursive: true, force: true });
  }
});

test.serial('the loader error names the binary it looked for and how to build one', (t) => {
  if (!installedOk) return t.fail('the install step failed');
  writeFileSync(join(consumer, 'no-addon.cjs'), [
    "const { sequential, dense } = require('lrp-node');",
    "try { sequential({ inputShape: [1] }, [dense({ weight: [[1]] })]); console.log('loaded'); }",
    'catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }',
  ].join('\n'));
  // Point node-gyp-build at an empty folder: it then finds neither a prebuild nor a local build.
  const empty = join(work, 'empty');
  mkdirSync(empty, { recursive: true });
  const out = runInConsumer('node', ['no-addon.cjs'], { LRP_NODE_PREBUILD: empty });
  const { code, message } = JSON.parse(out) as { code: string; message: string };
  t.is(code, 'E_NATIVE');
  t.regex(message, new RegExp(`${process.platform}-${process.arch}`));
  t.regex(message, /prebuilds/);
  t.regex(message, /build[/\\]Release/);
  t.regex(message, /npm run build:native|node-gyp/);
});

