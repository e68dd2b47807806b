// Electron readiness that can be checked without Electron: no external ArrayBuffers in the native sources (Electron's
// memory cage refuses them), and a prebuilt addon whose file name node-gyp-build also picks under Electron.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(cc|cpp|cu|h|hpp|cuh)$/.test(name) ? [path] : [];
  });
}

/** The text with comments and string literals blanked, so that only code is searched. */
function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/.*$/gm, ' ')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
}

/** Top-level arguments of the call whose opening parenthesis is at `open`. */
function callArguments(code: string, open: number): number {
  let depth = 0;
  let commas = 0;
  let empty = true;
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth === 0) return empty ? 0 : commas + 1;
    } else if (depth === 1 && c === ',') commas++;
    else if (depth >= 1 && !/\s/.test(c)) empty = false;
  }
  return commas + 1;
}

/** Places in `code` that create an ArrayBuffer or Buffer over memory that JavaScript does not own. */
export function externalBufferUses(code: string): string[] {
  const found: string[] = [];
  for (const m of code.matchAll(/\b(napi_create_external_(?:arraybuffer|buffer)|node_api_create_external_\w+|NewOrCopy)\b/g)) {
    found.push(m[1]);
  }
  // Napi::ArrayBuffer::New(env, byteLength) allocates; with a data pointer (3+ arguments) it wraps external memory.
  // Napi::Buffer<T>::New(env, length) allocates; New(env, data, length[, finalizer]) wraps external memory.
  for (const m of code.matchAll(/\b(ArrayBuffer|Buffer\s*<[^>]*>)\s*::\s*New\s*\(/g)) {
    const argumentsCount = callArguments(code, (m.index ?? 0) + m[0].length - 1);
    if (argumentsCount > 2) found.push(`${m[1].replace(/\s+/g, '')}::New with ${argumentsCount} arguments`);
  }
  return found;
}

test('the detector finds every form of external buffer it looks for', (t) => {
  t.deepEqual(externalBufferUses('napi_create_external_arraybuffer(env, p, n, fin, hint, &out);'),
    ['napi_create_external_arraybuffer']);
  t.deepEqual(externalBufferUses('auto b = Napi::ArrayBuffer::New(env, data.data(), data.size() * 4);'),
    ['ArrayBuffer::New with 3 arguments']);
  t.deepEqual(externalBufferUses('Napi::Buffer<float>::New(env, ptr, n, [](Napi::Env, float* p) { delete[] p; });'),
    ['Buffer<float>::New with 4 arguments']);
  t.deepEqual(externalBufferUses('Napi::Buffer<uint8_t>::NewOrCopy(env, p, n);'), ['NewOrCopy']);
  t.deepEqual(externalBufferUses('auto a = Napi::ArrayBuffer::New(env, f(1, 2));\nNapi::Buffer<char>::Copy(env, p, n);'), []);
  t.deepEqual(externalBufferUses(codeOnly('// Napi::ArrayBuffer::New(env, p, n)\nint x = 1;')), []);
});

test('the native sources create no external ArrayBuffers or Buffers', (t) => {
  const files = sourceFiles(join(root, 'native'));
  t.true(files.length > 5, 'native sources found');
  const uses = files.flatMap((file) =>
    externalBufferUses(codeOnly(readFileSync(file, 'utf8'))).map((use) => `${relative(root, file)}: ${use}`));
  t.deepEqual(uses, []);
});

test('the prebuilt addon\'s file name is one node-gyp-build picks under Node and under Electron', (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('node-gyp-build') as {
    parseTags(file: string): { file: string } | undefined;
    matchTags(runtime: string, abi: string): (tags: unknown) => boolean;
  };
  // The name prebuildify --napi --tag-libc writes (scripts/prebuild.mjs): the package name, then the libc tag.
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const built = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  const tags = load.parseTags(built ?? 'lrp-node.glibc.node');
  t.truthy(tags);
  t.true(load.matchTags('node', process.versions.modules)(tags));
  t.true(load.matchTags('electron', '136')(tags), 'an Electron ABI matches the Node-API build');
});
