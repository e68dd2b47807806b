#!/usr/bin/env node
// Mutation fuzzer over the ONNX loader, the .npy reader, the plan builder and explain (see scripts/fuzz/).
//
//   node scripts/fuzz.mjs --iterations 100000 --seed 1 [--jobs 2] [--targets onnx,npy,plan,explain]
//   node scripts/fuzz.mjs --replay test/fixtures/fuzz/crash-<hash>.bin
//
// The parent process supervises child processes that run the iterations in-process. Iteration i of seed s always
// generates the same case, and a child records the iteration it is running in a small progress file, so when a child
// dies from a signal (or hangs) the parent regenerates that case, saves it to test/fixtures/fuzz/crash-<hash>.bin with
// a .json sidecar naming the target, and restarts a child after it. Outcomes other than a result, an LrpError, or the
// AbortError / callback error a case asked for are findings too (unexpected-<hash>.bin), as are iterations slower
// than --slow-ms. Exit status: 0 when nothing was found.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, mixSeed } from './fuzz/rng.mjs';
import { createContext, generateCase, runCase, TARGETS } from './fuzz/targets.mjs';
import { caseHash, decodeCase, encodeCase } from './fuzz/serialize.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FINDINGS_DIR = join(ROOT, 'test', 'fixtures', 'fuzz');

function parseArgs(argv) {
  const opts = { iterations: 2000, seed: 1, jobs: 2, slowMs: 3000, hangMs: 20000, targets: TARGETS, out: FINDINGS_DIR };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--iterations': opts.iterations = Number(next()); break;
      case '--seed': opts.seed = Number(next()); break;
      case '--jobs': opts.jobs = Number(next()); break;
      case '--slow-ms': opts.slowMs = Number(next()); break;
      case '--hang-ms': opts.hangMs = Number(next()); break;
      case '--targets': opts.targets = next().split(','); break;
      case '--out': opts.out = resolve(next()); break;
      case '--replay': opts.replay = resolve(next()); break;
      case '--case': opts.caseIteration = Number(next()); break;
      case '--child': opts.child = true; break;
      case '--from': opts.from = Number(next()); break;
      case '--to': opts.to = Number(next()); break;
      case '--progress': opts.progress = next(); break;
      case '--quiet': opts.quiet = true; break;
      case '-h': case '--help':
        console.log('usage: node scripts/fuzz.mjs [--iterations N] [--seed S] [--jobs J] [--targets onnx,npy,plan,explain] [--slow-ms MS] [--out DIR]\n' +
          '       node scripts/fuzz.mjs --replay FILE.bin        run one saved case\n' +
          '       node scripts/fuzz.mjs --case I --seed S        run iteration I of seed S alone');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  for (const t of opts.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}; known: ${TARGETS.join(', ')}`);
  if (!Number.isSafeInteger(opts.iterations) || opts.iterations < 0) throw new Error('--iterations must be a non-negative integer');
  if (!Number.isSafeInteger(opts.seed)) throw new Error('--seed must be an integer');
  if (!Number.isSafeInteger(opts.jobs) || opts.jobs < 1) throw new Error('--jobs must be a positive integer');
  return opts;
}

function caseFor(ctx, seed, iteration, targets) {
  return generateCase(new Rng(mixSeed(seed, iteration)), ctx, targets);
}

/** Saves a finding; returns the .bin path. */
function saveFinding(dir, kind, fuzzCase, extra) {
  mkdirSync(dir, { recursive: true });
  const { body, meta } = encodeCase(fuzzCase);
  const hash = caseHash(body, fuzzCase.target);
  const file = join(dir, `${kind}-${hash}.bin`);
  writeFileSync(file, body);
  writeFileSync(file.replace(/\.bin$/, '.json'), `${JSON.stringify({ ...meta, kind, ...extra }, null, 2)}\n`);
  return file;
}

function caseSummary(c) {
  return `${c.target}${c.mode ? `/${c.mode}` : ''}${c.via ? `/${c.via}` : ''}${c.how ? ` ${c.how}` : ''}${c.model ? ` model=${c.model}` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// child: runs iterations [from, to) and prints one JSON line with the tallies

async function runChild(opts) {
  const ctx = createContext(ROOT);
  const progressFd = openSync(opts.progress, 'w');
  const slot = Buffer.alloc(8);
  const outcomes = {};
  const findings = [];
  for (let i = opts.from; i < opts.to; i++) {
    slot.writeUInt32LE(i, 0);
    slot.writeUInt32LE(1, 4);  // 1: running
    writeSync(progressFd, slot, 0, 8, 0);
    const fuzzCase = caseFor(ctx, opts.seed, i, opts.targets);
    const started = performance.now();
    const outcome = await runCase(fuzzCase, ctx);
    const ms = performance.now() - started;
    const key = `${fuzzCase.target}:${outcome.startsWith('UNEXPECTED') ? 'UNEXPECTED' : outcome}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (outcome.startsWith('UNEXPECTED')) {
      const file = saveFinding(opts.out, 'unexpected', fuzzCase, { seed: opts.seed, iteration: i, detail: outcome });
      findings.push({ kind: 'unexpected', iteration: i, file, detail: `${caseSummary(fuzzCase)}: ${outcome}` });
    } else if (ms > opts.slowMs) {
      const file = saveFinding(opts.out, 'slow', fuzzCase, { seed: opts.seed, iteration: i, detail: `${ms.toFixed(0)} ms` });
      findings.push({ kind: 'slow', iteration: i, file, detail: `${caseSummary(fuzzCase)}: ${ms.toFixed(0)} ms` });
    }
  }
  for (const m of ctx.models.values()) m.dispose();
  slot.writeUInt32LE(opts.to, 0);
  slot.writeUInt32LE(2, 4);  // 2: done
  writeSync(progressFd, slot, 0, 8, 0);
  process.stdout.write(`${JSON.stringify({ outcomes, findings })}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// parent: splits the range over jobs, restarts a child after a crash or hang

function runRange(opts, from, to, tmp, index, ctx, report, startupTries = 0) {
  return new Promise((resolveRange) => {
    const progress = join(tmp, `progress-${index}.bin`);
    writeFileSync(progress, Buffer.alloc(8));
    const readProgress = () => {
      try {
        const b = readFileSync(progress);
        return b.length >= 8 ? { iteration: b.readUInt32LE(0), state: b.readUInt32LE(4) } : { iteration: from, state: 0 };
      } catch {
        return { iteration: from, state: 0 };
      }
    };
    const args = [fileURLToPath(import.meta.url), '--child', '--from', String(from), '--to', String(to), '--seed', String(opts.seed),
      '--progress', progress, '--targets', opts.targets.join(','), '--slow-ms', String(opts.slowMs), '--out', opts.out];
    const child = spawn(process.execPath, ['--max-old-space-size=2048', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-8000); });
    let last = readProgress();
    let lastChange = Date.now();
    let hung = false;
    const watchdog = setInterval(() => {
      const p = readProgress();
      if (p.iteration !== last.iteration || p.state !== last.state) { last = p; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > opts.hangMs) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 250);
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      const line = stdout.trim().split('\n').pop();
      if (code === 0 && !hung && line) {
        report(JSON.parse(line));
        resolveRange();
        return;
      }
      // The child died in (or hung on) the iteration its progress file names.
      const p = readProgress();
      if (p.state === 0 && !hung) {
        // It never started an iteration: the package failed to load (e.g. dist/ being rebuilt). Retry, then give up.
        if (startupTries < 3) {
          setTimeout(() => runRange(opts, from, to, tmp, index, ctx, report, startupTries + 1).then(resolveRange), 3000);
        } else {
          report({ outcomes: { 'not-run': to - from }, findings: [{ kind: 'startup', iteration: from, detail: `child failed to start (code ${code}): ${stderr.slice(-800)}` }] });
          resolveRange();
        }
        return;
      }
      const i = p.state === 2 ? to : p.iteration;
      if (i >= to) {
        report({ outcomes: {}, findings: [{ kind: 'crash', iteration: i, detail: `child exited (code ${code}, signal ${signal}) after its last iteration: ${stderr.slice(-500)}` }] });
        resolveRange();
        return;
      }
      const fuzzCase = caseFor(ctx, opts.seed, i, opts.targets);
      const kind = hung ? 'hang' : 'crash';
      const file = saveFinding(opts.out, kind, fuzzCase, { seed: opts.seed, iteration: i, signal, exitCode: code, detail: stderr.slice(-2000) });
      report({ outcomes: { [`${fuzzCase.target}:${kind.toUpperCase()}`]: 1 }, findings: [{ kind, iteration: i, file, detail: `${caseSummary(fuzzCase)}: ${hung ? 'no progress' : `code ${code} signal ${signal}`}` }] });
      // The child's tallies for iterations from..i-1 died with it; they ran without a finding.
      report({ outcomes: { 'untallied': i - from }, findings: [] });
      runRange(opts, i + 1, to, tmp, index, ctx, report).then(resolveRange);
    });
  });
}

async function runParent(opts) {
  const started = Date.now();
  const ctx = createContext(ROOT);
  const tmp = mkdtempSync(join(tmpdir(), 'lrp-fuzz-'));
  const outcomes = {};
  const findings = [];
  const report = (r) => {
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    for (const f of r.findings) {
      findings.push(f);
      console.error(`fuzz: ${f.kind} at iteration ${f.iteration}: ${f.detail}${f.file ? ` -> ${f.file}` : ''}`);
    }
  };
  // Chunks of a few thousand iterations per child keep a crash from costing much and let the jobs balance.
  const chunk = Math.max(1, Math.min(5000, Math.ceil(opts.iterations / opts.jobs)));
  let next = 0;
  let done = 0;
  const worker = async (index) => {
    while (next < opts.iterations) {
      const from = next;
      const to = Math.min(opts.iterations, from + chunk);
      next = to;
      await runRange(opts, from, to, tmp, index, ctx, report);
      done += to - from;
      if (!opts.quiet) console.error(`fuzz: ${done}/${opts.iterations} iterations, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: opts.jobs }, (_, j) => worker(j)));
  rmSync(tmp, { recursive: true, force: true });
  for (const m of ctx.models.values()) m.dispose();
  const elapsed = (Date.now() - started) / 1000;
  const byCode = {};
  for (const [k, v] of Object.entries(outcomes)) {
    const code = k.includes(':') ? k.slice(k.indexOf(':') + 1) : k;
    byCode[code] = (byCode[code] ?? 0) + v;
  }
  const fmt = (o) => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`fuzz: targets by outcome: ${fmt(outcomes)}`);
  console.log(`fuzz summary: iterations=${opts.iterations} seed=${opts.seed} jobs=${opts.jobs} elapsed=${elapsed.toFixed(1)}s ` +
    `findings=${findings.length} outcomes: ${fmt(byCode)}`);
  process.exitCode = findings.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------

async function runReplay(opts) {
  const ctx = createContext(ROOT);
  let fuzzCase;
  if (opts.replay) {
    const meta = JSON.parse(readFileSync(opts.replay.replace(/\.bin$/, '.json'), 'utf8'));
    fuzzCase = decodeCase(readFileSync(opts.replay), meta);
  } else {
    fuzzCase = caseFor(ctx, opts.seed, opts.caseIteration, opts.targets);
  }
  const outcome = await runCase(fuzzCase, ctx);
  for (const m of ctx.models.values()) m.dispose();
  console.log(`replay: ${caseSummary(fuzzCase)} -> ${outcome}`);
  process.exitCode = outcome.startsWith('UNEXPECTED') ? 1 : 0;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.child) await runChild(opts);
else if (opts.replay || opts.caseIteration !== undefined) await runReplay(opts);
else await runParent(opts);
