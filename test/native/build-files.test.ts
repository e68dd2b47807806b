// binding.gyp (npm install) and CMakeLists.txt (cmake-js) must compile the same sources, and every source on disk.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');

function gypSources(): string[] {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
  return [...gyp.targets[0].sources].sort();
}

function cmakeSources(): string[] {
  const text = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
  const lists = ['LRP_ENGINE_SOURCES', 'LRP_ADDON_SOURCES'].map((name) => {
    const match = new RegExp(`set\\(${name}\\s+([^)]*)\\)`).exec(text);
    if (!match) throw new Error(`CMakeLists.txt has no ${name}`);
    return match[1].split(/\s+/).filter(Boolean);
  });
  return lists.flat().sort();
}

function sourcesOnDisk(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'cuda' && entry.name !== 'tests') walk(path);
      } else if (entry.name.endsWith('.cc')) {
        out.push(relative(root, path));
      }
    }
  };
  walk(join(root, 'native'));
  return out.sort();
}

test('binding.gyp and CMakeLists.txt list the same sources', (t) => {
  t.deepEqual(gypSources(), cmakeSources());
});

test('every native source file is built', (t) => {
  t.deepEqual(gypSources(), sourcesOnDisk());
});
