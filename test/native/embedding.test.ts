// Embedding constraints: Node-API symbols only, the declared Node-API version, and several worker_threads at once.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { hostSymbols } from './host-symbols';

const root = join(__dirname, '..', '..');
const addonPath = join(root, 'build', 'Release', 'lrp.node');

test('the addon imports only Node-API symbols from the host', (t) => {
  if (process.platform !== 'linux') return t.pass('nm check runs on Linux');
  t.true(existsSync(addonPath), 'build/Release/lrp.node exists');
  const host = hostSymbols(addonPath);
  const foreign = host.filter((s) => !s.startsWith('napi_') && !s.startsWith('node_api_'));
  t.deepEqual(foreign, []);
  t.true(host.length > 10);
});

test('the addon declares Node-API version 8', (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(addonPath) as { napiVersion: number };
  t.is(addon.napiVersion, 8);
});

function runWorker(seed: number, repeats: number): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(join(__dirname, 'fixtures', 'worker-explain.cjs'), { workerData: { packageRoot: root, seed, repeats } });
    worker.once('message', (m: number[][] | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    worker.once('error', reject);
  });
}

test('two worker threads explain at once and agree with each other', async (t) => {
  const [a, b, c] = await Promise.all([runWorker(7, 3), runWorker(7, 3), runWorker(8, 1)]);
  t.is(a.length, 3);
  for (const run of [...a, ...b]) t.deepEqual(run, a[0]);
  t.notDeepEqual(c[0], a[0]);
  t.true(a[0].some((v) => v !== 0));
});
