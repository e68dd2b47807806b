#!/usr/bin/env node
// Packs lrp-node as npm would publish it and checks what the tarball holds; `npm run pack:check` prints the report.
//
// The tarball needs dist/ (`npm run build:ts`) and the prebuilt addon for this platform (scripts/prebuild.mjs);
// ensurePackInputs() makes both when missing or older than their sources. Packing uses --ignore-scripts so that
// `prepare` does not rebuild dist/ under tests that are running at the same time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The folder node-gyp-build looks in for this platform's prebuilt addon. */
export const PREBUILD_DIR = join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Newest modification time (ms) of the files under `dir` (recursively) or of `dir` itself when it is a file. */
function newestMtime(path, skip = () => false) {
  if (!existsSync(path) || skip(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name), skip)));
}

/** The prebuilt addon for this platform, or undefined. */
export function prebuiltAddon() {
  if (!existsSync(PREBUILD_DIR)) return undefined;
  const file = readdirSync(PREBUILD_DIR).find((name) => name.endsWith('.node'));
  return file ? join(PREBUILD_DIR, file) : undefined;
}

/** Builds dist/ and the prebuilt addon when they are missing or older than their sources; says what it did. */
export function ensurePackInputs({ log = (line) => console.log(line) } = {}) {
  if (!existsSync(join(ROOT, 'dist', 'index.js')) || !existsSync(join(ROOT, 'dist', 'index.mjs'))) {
    log('pack-check: dist/ is missing: running `npm run build:ts`');
    execFileSync(npm, ['run', 'build:ts'], { cwd: ROOT, stdio: 'inherit' });
  }
  const addon = prebuiltAddon();
  const sourcesTime = Math.max(newestMtime(join(ROOT, 'native'), (p) => p.startsWith(join(ROOT, 'native', 'tests'))),
    newestMtime(join(ROOT, 'binding.gyp')));
  if (!addon || statSync(addon).mtimeMs < sourcesTime) {
    log(`pack-check: ${addon ? 'the prebuilt addon is older than native/' : `no prebuilt addon in ${relative(ROOT, PREBUILD_DIR)}`}: ` +
      'running scripts/prebuild.mjs');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'prebuild.mjs')], { cwd: ROOT, stdio: 'inherit' });
  }
}

/**
 * Runs `npm pack` into `destination` and returns the tarball's path, its size and its file list.
 * @returns {{ tarball: string, size: number, unpackedSize: number, files: { path: string, size: number }[] }}
 */
export function packProject(destination) {
  mkdirSync(destination, { recursive: true });
  const json = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', destination],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [info] = JSON.parse(json);
  return {
    tarball: join(destination, info.filename),
    size: info.size,
    unpackedSize: info.unpackedSize,
    files: info.files.map((f) => ({ path: f.path, size: f.size })),
  };
}

/** Source files named in binding.gyp (the build other platforms run from the package). */
function bindingSources() {
  const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, ''));
  return gyp.targets.flatMap((t) => t.sources ?? []);
}

/** What the tarball must and must not hold; returns one line per problem (empty: fine). */
export function checkPackContents(files) {
  const paths = new Set(files.map((f) => f.path));
  const problems = [];
  const required = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp', 'CMakeLists.txt',
    'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/native.js', ...bindingSources()];
  for (const path of required) if (!paths.has(path)) problems.push(`missing ${path}`);
  const tuple = `prebuilds/${process.platform}-${process.arch}/`;
  if (![...paths].some((p) => p.startsWith(tuple) && p.endsWith('.node'))) problems.push(`missing ${tuple}*.node`);
  const forbidden = [/^test\//, /^native\/tests\//, /^bench\//, /^examples\//, /^docs\//, /^lib\//, /^scripts\//,
    /^build(-[^/]*)?\//, /^\.ci\//, /\.tgz$/, /\.map$/, /\.test\.[cm]?[jt]s$/, /(^|\/)fixtures\//, /\.onnx$/, /\.npy$/];
  for (const path of paths) {
    const rule = forbidden.find((r) => r.test(path));
    if (rule) problems.push(`should not be packed: ${path} (matches ${rule})`);
  }
  return problems;
}

function formatBytes(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const destination = process.argv[2] ?? join(ROOT, 'build-pack');
  ensurePackInputs();
  const packed = packProject(destination);
  for (const file of packed.files) console.log(`${String(file.size).padStart(9)}  ${file.path}`);
  console.log(`pack-check: ${relative(ROOT, packed.tarball)}: ${packed.files.length} files, ` +
    `${formatBytes(packed.size)} packed, ${formatBytes(packed.unpackedSize)} unpacked`);
  const problems = checkPackContents(packed.files);
  for (const problem of problems) console.error(`pack-check: ${problem}`);
  if (problems.length > 0) process.exit(1);
  console.log('pack-check: contents ok; now the consumer checks, with a build from the packaged sources');
  // The same checks `npm test` runs, plus the slow one: building the addon from the tarball's sources.
  const ava = join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  try {
    execFileSync(process.execPath, [ava, 'test/package/consumer.test.ts', '--verbose'],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, LRP_PACK_SOURCE_BUILD: '1' } });
  } catch {
    process.exit(1);
  }
}
