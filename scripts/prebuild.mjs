#!/usr/bin/env node
// Builds the prebuilt addon for this platform into prebuilds/<platform>-<arch>/ with prebuildify (Node-API 8, stripped).
//
// prebuildify runs `node-gyp rebuild`, which wipes build/: it runs in a temporary copy of the native sources so that a
// local build/Release (used by the tests) is left alone. Offline, node-gyp finds Node's headers through nodedir.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tuple = `${process.platform}-${process.arch}`;
const outDir = join(root, 'prebuilds', tuple);

/** Node's headers next to the running node (e.g. /usr/include/node), so node-gyp needs no download. */
function localNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** node-gyp: on PATH under `npm run`, otherwise the copy bundled with npm. */
function nodeGypCommand() {
  if (process.env.PREBUILD_NODE_GYP) return process.env.PREBUILD_NODE_GYP;
  if (process.env.npm_config_node_gyp) return `"${process.execPath}" "${process.env.npm_config_node_gyp}"`;
  const bundled = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp',
    'bin', 'node-gyp.js');
  return existsSync(bundled) ? `"${process.execPath}" "${bundled}"` : 'node-gyp';
}

const work = mkdtempSync(join(tmpdir(), 'lrp-prebuild-'));
try {
  for (const file of ['binding.gyp', 'package.json']) cpSync(join(root, file), join(work, file));
  cpSync(join(root, 'native'), join(work, 'native'), {
    recursive: true,
    filter: (source) => !source.startsWith(join(root, 'native', 'tests')),
  });
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');

  rmSync(outDir, { recursive: true, force: true });
  const nodeDir = localNodeDir();
  const env = { ...process.env, PREBUILD_NODE_GYP: nodeGypCommand(), ...(nodeDir ? { npm_config_nodedir: nodeDir } : {}) };
  // prebuildify's node-gyp command is run through a shell only when PREBUILD_SHELL says so.
  env.PREBUILD_SHELL = process.platform === 'win32' ? 'true' : '/bin/sh';
  const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
  execFileSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--cwd', work, '--out', root],
    { stdio: 'inherit', env });
} finally {
  rmSync(work, { recursive: true, force: true });
}

const built = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.node')) : [];
if (built.length === 0) {
  console.error(`prebuild: no .node file was written to ${outDir}`);
  process.exit(1);
}
for (const file of built) {
  console.log(`prebuild: ${join('prebuilds', tuple, file)} (${(statSync(join(outDir, file)).size / 1024).toFixed(0)} KiB)`);
}
