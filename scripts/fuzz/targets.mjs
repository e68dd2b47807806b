// The fuzz targets: how each one generates a hostile case from a seeded stream, and how a case is run.
// Outcome of a run: 'ok', an LrpError code, 'AbortError' / 'callback' where the case asked for them; anything else
// is returned as `UNEXPECTED ...` and is a finding.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Rng } from './rng.mjs';
import { mutateBytes } from './mutate.mjs';

const require = createRequire(import.meta.url);

export const TARGETS = ['onnx', 'npy', 'plan', 'explain'];
export const TARGET_WEIGHTS = { onnx: 35, npy: 20, plan: 25, explain: 20 };

/** Loads the built package and the corpus once. */
export function createContext(root) {
  const dist = join(root, 'dist');
  const lrp = require(dist);
  const ctx = {
    root, lrp,
    npy: require(join(dist, 'io', 'npy.js')),
    schema: require(join(dist, 'onnx', 'schema.js')),
    toNative: require(join(dist, 'model', 'to-native.js')),
    loadNative: require(join(dist, 'native.js')).loadNative,
    onnxSeeds: {},
    onnxMessages: {},
    npySeeds: [],
    models: new Map(),
  };
  const onnxDir = join(root, 'test', 'fixtures', 'onnx');
  for (const f of readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')).sort()) {
    ctx.onnxSeeds[f.replace(/\.onnx$/, '')] = new Uint8Array(readFileSync(join(onnxDir, f)));
  }
  const type = ctx.schema.modelProtoType();
  for (const [name, bytes] of Object.entries(ctx.onnxSeeds)) {
    ctx.onnxMessages[name] = type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false });
  }
  const npyDir = join(root, 'test', 'fixtures', 'npy');
  for (const f of readdirSync(npyDir).filter((f) => f.endsWith('.npy')).sort()) {
    ctx.npySeeds.push(new Uint8Array(readFileSync(join(npyDir, f))));
  }
  for (const f of readdirSync(onnxDir).filter((f) => f.endsWith('.npy')).sort()) {
    ctx.npySeeds.push(new Uint8Array(readFileSync(join(onnxDir, f))));
  }
  // Headers numpy would not write but a hand-made file might.
  const header = (text) => {
    const h = Buffer.from(text);
    const len = Buffer.alloc(2);
    len.writeUInt16LE(h.length);
    return new Uint8Array(Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), len, h, Buffer.alloc(16)]));
  };
  ctx.npySeeds.push(
    header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"),
    header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }\n"),
    header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f8', }\n"),
    header("{'descr': '<i8', 'fortran_order': False, 'shape': (0, 0, 0, 0), }\n"),
    header("{'descr': '<f4', 'fortran_order': False, 'shape': (1e3,), }\n"),
  );
  return ctx;
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile values

const HOSTILE_DIMS = [0, 1, 2, 3, 5, -1, -7, NaN, Infinity, -Infinity, 1.5, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 1e300, 65536, '3', null, undefined];
const HOSTILE_NUMBERS = [0, -0, 1, -1, 1e-45, 1e-30, 1e30, 3.4e38, 1e300, NaN, Infinity, -Infinity, 2 ** 31, 0.5, -0.5, 1e6, '1', null, undefined, {}];

function dim(rng, typical) {
  return rng.bool(0.75) ? typical : rng.pick(HOSTILE_DIMS);
}

function num(rng, typical) {
  return rng.bool(0.75) ? typical : rng.pick(HOSTILE_NUMBERS);
}

/** A weight description: shape plus how to fill it (materialized at run time, deterministically). */
function weightDesc(rng, shape) {
  const desc = { shape, fill: rng.weighted({ rand: 10, zero: 1, nan: 1, inf: 1, huge: 1, tiny: 1 }) };
  if (rng.bool(0.1)) desc.length = rng.pick([0, 1, 3, 17]);
  if (rng.bool(0.05)) desc.as = rng.pick(['Float64Array', 'Int32Array', 'array', 'nested', 'string']);
  return desc;
}

function materialize(desc, seed) {
  if (desc === null || desc === undefined || typeof desc !== 'object' || !('fill' in desc)) return desc;
  let n = desc.length;
  if (n === undefined) {
    let p = 1;
    for (const d of desc.shape) p *= typeof d === 'number' && Number.isFinite(d) && d >= 0 ? d : 1;
    n = p > 1 << 20 ? 16 : p;  // a declared shape too large to fill gets a short buffer (a mismatch)
  }
  const rng = new Rng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (desc.fill) {
      case 'zero': data[i] = 0; break;
      case 'nan': data[i] = rng.bool(0.2) ? NaN : rng.float() - 0.5; break;
      case 'inf': data[i] = rng.bool(0.2) ? (rng.bool() ? Infinity : -Infinity) : rng.float() - 0.5; break;
      case 'huge': data[i] = (rng.float() - 0.5) * 1e30; break;
      case 'tiny': data[i] = (rng.float() - 0.5) * 1e-40; break;
      default: data[i] = rng.float() * 2 - 1;
    }
  }
  switch (desc.as) {
    case 'Float64Array': return { data: Float64Array.from(data), shape: desc.shape };
    case 'Int32Array': return { data: Int32Array.from(data), shape: desc.shape };
    case 'array': return { data: Array.from(data), shape: desc.shape };
    case 'nested': return [Array.from(data)];
    case 'string': return 'weights';
    default: return { data, shape: desc.shape };
  }
}

function productOf(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// onnx: byte mutations and structure-aware edits of the fixture models

const ONNX_OPS = ['Conv', 'Gemm', 'MatMul', 'Relu', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'Flatten',
  'Reshape', 'Add', 'Concat', 'Pad', 'Softmax', 'Identity', 'Transpose', 'Constant', 'Mul', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Gelu',
  'Dropout', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'LSTM', ''];
const ATTR_NAMES = ['kernel_shape', 'strides', 'pads', 'dilations', 'group', 'axis', 'transA', 'transB', 'alpha', 'beta', 'epsilon',
  'ceil_mode', 'count_include_pad', 'auto_pad', 'perm', 'mode', 'value', 'allowzero', 'approximate'];

function structuralEdit(rng, message, name) {
  const m = structuredClone(message);
  const g = m.graph ?? (m.graph = {});
  g.node ??= []; g.initializer ??= []; g.input ??= []; g.output ??= [];
  const edits = rng.range(1, 3);
  const done = [];
  for (let e = 0; e < edits; e++) {
    const kind = rng.weighted({ dims: 4, dataType: 2, rawData: 3, opType: 2, inputs: 3, dupNode: 1, delNode: 1, attr: 4, graphIo: 2, opset: 1, delInit: 1, cycle: 1 });
    done.push(kind);
    const init = g.initializer.length ? rng.pick(g.initializer) : null;
    const node = g.node.length ? rng.pick(g.node) : null;
    switch (kind) {
      case 'dims':
        if (init) {
          init.dims ??= [];
          if (rng.bool(0.3)) init.dims.push(rng.pick(HOSTILE_DIMS.filter((d) => typeof d === 'number' && Number.isFinite(d) && Number.isInteger(d))));
          else if (init.dims.length) init.dims[rng.int(init.dims.length)] = rng.pick([0, -1, 1, 2, 2 ** 31, 2 ** 40, 3]);
          else init.dims = [rng.pick([0, 1, 2 ** 33])];
        }
        break;
      case 'dataType':
        if (init) init.dataType = rng.pick([0, 1, 2, 6, 7, 10, 11, 16, 99, -1]);
        break;
      case 'rawData':
        if (init) {
          const r = init.rawData ?? [];
          const choice = rng.int(4);
          if (choice === 0) init.rawData = r.slice(0, rng.int(r.length + 1));
          else if (choice === 1) { delete init.rawData; init.floatData = Array.from({ length: rng.int(8) }, () => rng.pick([0, 1, NaN, Infinity, 1e30])); }
          else if (choice === 2) { init.rawData = r; init.floatData = [1, 2, 3]; }
          else { init.dataLocation = 1; init.externalData = [{ key: 'location', value: rng.pick(['/etc/passwd', '../../x.bin', 'weights.bin']) }]; }
        }
        break;
      case 'opType':
        if (node) node.opType = rng.pick(ONNX_OPS);
        break;
      case 'inputs':
        if (node) {
          node.input ??= [];
          const names = [...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output ?? []), 'dangling', ''];
          const r = rng.int(3);
          if (r === 0 && node.input.length) node.input[rng.int(node.input.length)] = rng.pick(names);
          else if (r === 1) node.input.push(rng.pick(names));
          else node.input = node.input.slice(0, rng.int(node.input.length + 1));
        }
        break;
      case 'dupNode':
        if (node) g.node.splice(rng.int(g.node.length + 1), 0, structuredClone(node));
        break;
      case 'delNode':
        if (node) g.node.splice(g.node.indexOf(node), 1);
        break;
      case 'attr':
        if (node) {
          node.attribute ??= [];
          const a = node.attribute.length && rng.bool(0.6) ? rng.pick(node.attribute) : (node.attribute.push({ name: rng.pick(ATTR_NAMES) }), node.attribute[node.attribute.length - 1]);
          const t = rng.int(5);
          if (t === 0) { a.type = 2; a.i = rng.pick([0, -1, 1, 2, 3, 2 ** 31, -(2 ** 31), 2 ** 40]); }
          else if (t === 1) { a.type = 7; a.ints = Array.from({ length: rng.int(6) }, () => rng.pick([0, -1, 1, 2, 3, 1 << 20, 2 ** 31])); }
          else if (t === 2) { a.type = 1; a.f = rng.pick([0, -1, NaN, Infinity, 1e-5, 1e30]); }
          else if (t === 3) { a.type = 3; a.s = Array.from(Buffer.from(rng.pick(['SAME_UPPER', 'VALID', 'NOTSET', 'SAME_LOWER', 'constant', 'reflect', 'tanh', 'none', '']))); }
          else { a.type = rng.int(15); }
        }
        break;
      case 'graphIo': {
        const v = rng.bool() ? (g.input.length ? rng.pick(g.input) : null) : (g.output.length ? rng.pick(g.output) : null);
        if (v) {
          const dims = v.type?.tensorType?.shape?.dim;
          const r = rng.int(4);
          if (r === 0 && dims?.length) dims[rng.int(dims.length)] = rng.bool() ? { dimValue: rng.pick([0, -1, 1, 2 ** 31, 7]) } : { dimParam: 'N' };
          else if (r === 1 && dims) dims.splice(rng.int(dims.length + 1), 0, { dimValue: rng.pick([1, 0, 3]) });
          else if (r === 2) v.name = rng.pick(['dangling', '', g.node[0]?.output?.[0] ?? 'x']);
          else if (v.type?.tensorType) v.type.tensorType.elemType = rng.pick([0, 1, 7, 10, 11]);
        }
        break;
      }
      case 'opset':
        m.opsetImport = [{ domain: rng.pick(['', 'ai.onnx', 'com.microsoft']), version: rng.pick([1, 6, 7, 9, 11, 13, 18, 21, 100, 0, -1, 2 ** 40]) }];
        break;
      case 'delInit':
        if (init) g.initializer.splice(g.initializer.indexOf(init), 1);
        break;
      case 'cycle':
        if (g.node.length >= 2) {
          const a = g.node[rng.int(g.node.length)];
          const b = g.node[rng.int(g.node.length)];
          if (a.input?.length && b.output?.length) a.input[0] = b.output[0];
        }
        break;
    }
  }
  return { message: m, edits: done, name };
}

function generateOnnx(rng, ctx) {
  const names = Object.keys(ctx.onnxSeeds);
  const name = rng.pick(names);
  let bytes;
  let how;
  if (rng.bool(0.45)) {
    const { message, edits } = structuralEdit(rng, ctx.onnxMessages[name], name);
    const type = ctx.schema.modelProtoType();
    try {
      bytes = type.encode(type.fromObject(message)).finish();
    } catch {
      bytes = ctx.onnxSeeds[name];
    }
    how = `edit:${edits.join('+')}`;
    if (rng.bool(0.2)) {
      const r = mutateBytes(rng, bytes, ctx.onnxSeeds[rng.pick(names)]);
      bytes = r.bytes;
      how += `,bytes:${r.mutations.join('+')}`;
    }
  } else {
    const r = mutateBytes(rng, ctx.onnxSeeds[name], ctx.onnxSeeds[rng.pick(names)]);
    bytes = r.bytes;
    how = `bytes:${r.mutations.join('+')}`;
  }
  const fuzzCase = { target: 'onnx', seedFile: name, how, mode: rng.weighted({ graph: 4, load: 5, inspect: 1 }), bytes };
  if (rng.bool(0.1)) fuzzCase.options = { inputShape: rng.bool() ? [dim(rng, 1), dim(rng, 8)] : [dim(rng, 20)], maxTensorElements: dim(rng, 2 ** 20) };
  return fuzzCase;
}

async function runOnnx(c, ctx) {
  const { lrp } = ctx;
  const options = c.options ?? {};
  if (c.mode === 'graph') {
    lrp.loadOnnxGraph(c.bytes, options);
    return 'ok';
  }
  if (c.mode === 'inspect') {
    await lrp.inspectOnnx(c.bytes, options);
    return 'ok';
  }
  const model = await lrp.loadOnnx(c.bytes, options);
  try {
    if (cheapToExplain(model.graph)) {
      const size = productOf(model.inputShape);
      const input = new Float32Array(size * 2);
      for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.37);
      await model.explain(input, { threads: 1, composite: c.composite ?? 'epsilon-plus' });
    }
  } finally {
    model.dispose();
  }
  return 'ok';
}

/** True when one explain of a batch of 2 stays well below a millisecond budget (a valid but big model is no bug). */
function cheapToExplain(graph) {
  let cost = productOf(graph.inputShape);
  for (const node of graph.nodes) {
    const out = productOf(node.outputShape);
    const layer = node.layer;
    if (layer.type === 'dense') cost += layer.weight.data.length * 4;
    else if (layer.type === 'conv2d') cost += out * (layer.weight.data.length / layer.weight.shape[0]) * 4;
    else if (layer.type === 'maxPool2d' || layer.type === 'avgPool2d') cost += out * layer.kernel[0] * layer.kernel[1];
    else cost += out * 2;
  }
  return cost < 2e6;
}

// ---------------------------------------------------------------------------------------------------------------
// npy

function generateNpy(rng, ctx) {
  const seed = rng.pick(ctx.npySeeds);
  const r = mutateBytes(rng, seed, rng.pick(ctx.npySeeds));
  return { target: 'npy', how: r.mutations.join('+'), bytes: r.bytes };
}

async function runNpy(c, ctx) {
  const a = ctx.npy.parseNpy(c.bytes, 'fuzz.npy');
  // What was parsed must be self-consistent.
  if (productOf(a.shape) !== a.data.length) return `UNEXPECTED inconsistent npy: shape [${a.shape}] with ${a.data.length} values`;
  ctx.npy.encodeNpy(a);
  return 'ok';
}

// ---------------------------------------------------------------------------------------------------------------
// plan: random layer stacks through the public builders, or a valid plan with hostile edits sent to the addon directly

function randomLayers(rng) {
  // A plausible stack on a [C, H, W] input, each value replaced by a hostile one now and then.
  const c = rng.range(1, 3), h = rng.range(1, 9), w = rng.range(1, 9);
  const inputShape = rng.bool(0.1) ? [dim(rng, c), dim(rng, h)] : [dim(rng, c), dim(rng, h), dim(rng, w)];
  const layers = [];
  let channels = c;
  let spatial = true;
  let flat = c * h * w;
  const count = rng.range(1, 6);
  for (let i = 0; i < count; i++) {
    const kind = spatial
      ? rng.weighted({ conv2d: 5, maxPool2d: 2, avgPool2d: 2, batchNorm: 1, relu: 2, act: 2, pad: 1, globalAvgPool: 1, flatten: 2, reshape: 1, dense: 1 })
      : rng.weighted({ dense: 5, relu: 2, act: 2, reshape: 1, batchNorm: 1 });
    const k = rng.range(1, 3);
    switch (kind) {
      case 'conv2d': {
        const out = rng.range(1, 4);
        const groups = rng.bool(0.2) ? channels : 1;
        layers.push({ type: 'conv2d', weight: weightDesc(rng, [dim(rng, out * (groups > 1 ? 1 : 1) * (groups > 1 ? groups : 1)), dim(rng, channels / groups), dim(rng, k), dim(rng, k)]),
          bias: rng.bool(0.7) ? weightDesc(rng, [dim(rng, out * (groups > 1 ? groups : 1))]) : null,
          stride: rng.bool(0.3) ? dim(rng, 2) : undefined, padding: rng.bool(0.4) ? (rng.bool() ? dim(rng, 1) : [dim(rng, 0), dim(rng, 1), dim(rng, 1), dim(rng, 0)]) : undefined,
          dilation: rng.bool(0.2) ? dim(rng, 2) : undefined, groups: rng.bool(0.9) ? groups : dim(rng, 2) });
        channels = groups > 1 ? out * groups : out;
        break;
      }
      case 'maxPool2d':
      case 'avgPool2d':
        layers.push({ type: kind, kernel: rng.bool() ? dim(rng, k) : [dim(rng, k), dim(rng, 1)], stride: rng.bool(0.3) ? dim(rng, 1) : undefined,
          padding: rng.bool(0.3) ? dim(rng, 0) : undefined, ceilMode: rng.bool(0.3), ...(kind === 'maxPool2d' && rng.bool(0.2) ? { dilation: dim(rng, 2) } : {}),
          ...(kind === 'avgPool2d' ? { countIncludePad: rng.bool() } : {}) });
        break;
      case 'batchNorm': {
        const n = spatial ? channels : flat;
        const v = () => weightDesc(rng, [dim(rng, n)]);
        layers.push({ type: 'batchNorm', weight: v(), bias: v(), runningMean: v(), runningVar: rng.bool(0.9) ? { shape: [n], fill: 'rand', abs: true } : v(),
          eps: num(rng, 1e-5) });
        break;
      }
      case 'relu': layers.push({ type: 'relu' }); break;
      case 'act': layers.push({ type: rng.pick(['leakyRelu', 'tanh', 'sigmoid', 'elu', 'gelu']), alpha: rng.bool(0.3) ? num(rng, 0.1) : undefined,
        approximate: rng.bool(0.2) ? rng.pick(['tanh', 'none', 'bogus']) : undefined }); break;
      case 'pad': layers.push({ type: 'pad', padding: rng.bool() ? dim(rng, 1) : [dim(rng, 1), dim(rng, 0)] }); break;
      case 'globalAvgPool': layers.push({ type: 'globalAvgPool' }); break;
      case 'flatten': layers.push({ type: 'flatten' }); spatial = false; flat = channels * 4; break;
      case 'reshape': layers.push({ type: 'reshape', shape: rng.bool() ? [dim(rng, -1)] : [dim(rng, channels), dim(rng, -1), dim(rng, 1)] }); break;
      case 'dense': {
        const out = rng.range(1, 5);
        if (spatial) { layers.push({ type: 'flatten' }); spatial = false; }
        layers.push({ type: 'dense', weight: weightDesc(rng, [dim(rng, out), dim(rng, flat)]), bias: rng.bool(0.7) ? weightDesc(rng, [dim(rng, out)]) : null });
        flat = out;
        break;
      }
    }
  }
  if (rng.bool(0.7)) {
    if (spatial) layers.push({ type: 'flatten' });
    layers.push({ type: 'dense', weight: weightDesc(rng, [dim(rng, 3), dim(rng, flat)]), bias: null, fixInputs: true });
  }
  return { inputShape, layers };
}

function generatePlan(rng, ctx) {
  const { inputShape, layers } = randomLayers(rng);
  const via = rng.weighted({ api: 5, graph: 1, native: 4 });
  const fuzzCase = { target: 'plan', via, inputShape, layers, dataSeed: rng.u32(), composite: rng.pick(['epsilon', 'epsilon-plus', 'zplus', 'gamma', 'alpha-beta', 'epsilon-gamma-box', 'wsquare-epsilon', 'epsilon-plus-flat']) };
  if (via === 'native') {
    // Start from a plan the builder accepts (hostile values dropped), then edit its fields.
    fuzzCase.edits = Array.from({ length: rng.range(0, 4) }, () => ({
      node: rng.int(8), field: rng.pick(['inputs', 'inputShapes', 'outputShape', 'weightShape', 'weight', 'bias', 'kernel', 'stride', 'padding',
        'dilation', 'groups', 'axis', 'op', 'scale', 'alpha', 'approximate', 'ceilMode', 'inputShape', 'name']),
      value: rng.int(1 << 30), hostile: rng.pick(HOSTILE_DIMS),
    }));
  }
  return fuzzCase;
}

function buildLayer(lrp, desc, seed) {
  const m = (d, s) => materialize(d, seed + s);
  switch (desc.type) {
    case 'conv2d': return lrp.conv2d({ weight: m(desc.weight, 1), bias: m(desc.bias, 2), stride: desc.stride, padding: desc.padding, dilation: desc.dilation, groups: desc.groups });
    case 'dense': return lrp.dense({ weight: m(desc.weight, 3), bias: m(desc.bias, 4) });
    case 'maxPool2d': return lrp.maxPool2d(desc);
    case 'avgPool2d': return lrp.avgPool2d(desc);
    case 'batchNorm': {
      let variance = m(desc.runningVar, 8);
      if (desc.runningVar?.abs && variance?.data) variance = { ...variance, data: variance.data.map(Math.abs) };
      return lrp.batchNorm({ weight: m(desc.weight, 5), bias: m(desc.bias, 6), runningMean: m(desc.runningMean, 7), runningVar: variance, eps: desc.eps });
    }
    case 'relu': return lrp.relu();
    case 'leakyRelu': return lrp.leakyRelu({ alpha: desc.alpha });
    case 'elu': return lrp.elu({ alpha: desc.alpha });
    case 'tanh': return lrp.tanh();
    case 'sigmoid': return lrp.sigmoid();
    case 'gelu': return lrp.gelu({ approximate: desc.approximate });
    case 'pad': return lrp.pad({ padding: desc.padding });
    case 'globalAvgPool': return lrp.globalAvgPool();
    case 'flatten': return lrp.flatten();
    case 'reshape': return lrp.reshape({ shape: desc.shape });
    default: throw new Error(`unknown layer ${desc.type}`);
  }
}

function buildModel(lrp, c) {
  // A residual block around the first layer (which must keep the shape for the add to be valid).
  const g = lrp.graph({ inputShape: c.inputShape });
  let x = g.input;
  c.layers.forEach((desc, i) => {
    const y = g.add(buildLayer(lrp, desc, c.dataSeed + i * 16), x, `l${i}`);
    x = i === 0 ? g.add(lrp.add(), [y, g.input], 'residual') : y;
  });
  return g.build(x);
}

function sanitizeLayers(c) {
  // For the native path: the same stack with hostile values replaced by typical ones, so the plan is valid first.
  const fix = (v, typical) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 16 ? v : typical);
  const clean = structuredClone(c);
  clean.inputShape = clean.inputShape.map((d) => fix(d, 2) || 1);
  for (const l of clean.layers) {
    for (const key of ['weight', 'bias', 'runningMean', 'runningVar']) {
      const w = l[key];
      if (w && typeof w === 'object' && 'fill' in w) { w.shape = w.shape.map((d) => fix(d, 1) || 1); delete w.length; delete w.as; w.fill = 'rand'; }
    }
    for (const key of ['stride', 'padding', 'dilation', 'kernel', 'groups']) {
      if (Array.isArray(l[key])) l[key] = l[key].map((v) => fix(v, key === 'padding' ? 0 : 1) || (key === 'padding' ? 0 : 1));
      else if (l[key] !== undefined) l[key] = fix(l[key], key === 'padding' ? 0 : 1) || (key === 'padding' ? 0 : 1);
    }
    if ('eps' in l) l.eps = 1e-5;
    if ('alpha' in l) l.alpha = 0.1;
    if (l.type === 'gelu') l.approximate = 'none';
  }
  return clean;
}

function buildSequentialWithFix(lrp, c) {
  // Builds layer by layer so the closing dense can read the real width.
  const gb = new lrp.GraphBuilder(c.inputShape);
  let x = gb.input;
  let shape = c.inputShape;
  c.layers.forEach((desc, i) => {
    let d = desc;
    if (desc.fixInputs && desc.weight && typeof desc.weight === 'object') d = { ...desc, weight: { ...desc.weight, shape: [desc.weight.shape[0], productOf(shape)] } };
    x = gb.add(buildLayer(lrp, d, c.dataSeed + i * 16), x, `l${i}`);
    const graphSoFar = gb.build(x);
    shape = graphSoFar.nodes[graphSoFar.nodes.length - 1].outputShape;
  });
  return gb.build(x);
}

const LINEAR_RULES = ['epsilon', 'lrp0', 'zPlus', 'alphaBeta', 'gamma', 'flat', 'wSquare', 'zBox'];

function ruleForOp(op, rng) {
  if (op === 'dense' || op === 'conv2d') {
    const rule = rng.pick(LINEAR_RULES);
    return { rule, epsilon: rng.pick([1e-6, 0, 0.25]), stabilizer: rng.pick([1e-6, 0]), gamma: 0.25, alpha: 2, beta: 1, ignoreBias: rng.bool(0.2), low: -1, high: 1 };
  }
  if (['relu', 'leakyRelu', 'tanh', 'sigmoid', 'elu', 'gelu', 'batchNorm'].includes(op)) return { rule: 'pass', epsilon: 0, stabilizer: 0, gamma: 0, alpha: 1, beta: 0, ignoreBias: false, low: 0, high: 0 };
  if (['avgPool2d', 'globalAvgPool', 'add'].includes(op)) return { rule: 'norm', epsilon: 0, stabilizer: 1e-6, gamma: 0, alpha: 1, beta: 0, ignoreBias: false, low: 0, high: 0 };
  return { rule: 'gradient', epsilon: 0, stabilizer: 0, gamma: 0, alpha: 1, beta: 0, ignoreBias: false, low: 0, high: 0 };
}

function applyEdit(spec, edit) {
  if (edit.field === 'inputShape') {
    spec.inputShape[edit.value % Math.max(1, spec.inputShape.length)] = edit.hostile;
    return;
  }
  const node = spec.nodes[edit.node % spec.nodes.length];
  const v = edit.value;
  const h = edit.hostile;
  const ints = (arr) => (Array.isArray(arr) && arr.length ? (arr[v % arr.length] = h, arr) : [h]);
  switch (edit.field) {
    case 'inputs': node.inputs = v % 3 === 0 ? [h] : v % 3 === 1 ? [...node.inputs, node.inputs[0]] : [spec.nodes.length + 1]; break;
    case 'inputShapes': if (node.inputShapes[0]) ints(node.inputShapes[0]); else node.inputShapes = [[h]]; break;
    case 'outputShape': node.outputShape = ints(node.outputShape); break;
    case 'weightShape': node.weightShape = ints(node.weightShape ? [...node.weightShape] : []); break;
    case 'weight': node.weight = v % 2 ? new Float32Array(v % 7) : node.weight ? node.weight.subarray(0, Math.max(0, node.weight.length - 1)) : new Float32Array(3); break;
    case 'bias': node.bias = v % 2 ? new Float32Array(v % 5) : (v % 4 === 0 ? new Float64Array(2) : undefined); break;
    case 'kernel': case 'stride': case 'padding': case 'dilation': node[edit.field] = ints(node[edit.field] ? [...node[edit.field]] : [1, 1]); break;
    case 'groups': node.groups = h; break;
    case 'axis': node.axis = h; break;
    case 'op': node.op = ['dense', 'conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool', 'batchNorm', 'add', 'concat', 'pad', 'reshape', 'flatten', 'bogus'][v % 12]; break;
    case 'scale': node.scale = new Float32Array(v % 4); node.shift = new Float32Array(v % 3); break;
    case 'alpha': node.alpha = h; break;
    case 'approximate': node.approximate = h; break;
    case 'ceilMode': node.ceilMode = v % 2 ? 'yes' : true; break;
    case 'name': node.name = v % 2 ? h : 'x'.repeat(v % 100000); break;
  }
}

async function runPlan(c, ctx) {
  const { lrp } = ctx;
  if (c.via === 'native') {
    let graph;
    try {
      graph = buildSequentialWithFix(lrp, sanitizeLayers(c));
    } catch (error) {
      if (isLrp(error)) return `clean:${error.code}`;  // the sanitized stack was still invalid: nothing to edit
      throw error;
    }
    const spec = ctx.toNative.graphToNative(graph);
    spec.inputShape = [...spec.inputShape];
    spec.nodes = spec.nodes.map((n) => ({ ...n, inputs: [...n.inputs], inputShapes: n.inputShapes.map((s) => [...s]), outputShape: [...n.outputShape] }));
    for (const edit of c.edits) applyEdit(spec, edit);
    const addon = ctx.loadNative();
    const native = new addon.NativeModel(spec);
    try {
      if (cheapNative(spec)) {
        const rng = new Rng(c.dataSeed);
        const inSize = productOf(spec.inputShape), outSize = productOf(spec.nodes[spec.nodes.length - 1].outputShape);
        const batch = 2;
        const input = Float32Array.from({ length: batch * inSize }, () => rng.float() * 2 - 1);
        await native.explain({
          input, batch, rules: spec.nodes.map((n) => ruleForOp(n.op, rng)), targetMode: 0,
          relevance: new Float32Array(batch * inSize), logits: new Float32Array(batch * outSize), targetsOut: new Int32Array(batch),
          layerSums: new Float64Array(batch * spec.nodes.length * 2), threads: rng.range(1, 3),
        });
      }
    } finally {
      native.dispose();
    }
    return 'ok';
  }
  const model = c.via === 'graph' ? buildModel(lrp, c) : new lrp.Model(buildSequentialWithFix(lrp, c));
  try {
    if (cheapToExplain(model.graph)) {
      const size = productOf(model.inputShape);
      const rng = new Rng(c.dataSeed);
      const input = Float32Array.from({ length: size * 2 }, () => rng.float() * 2 - 1);
      await model.explain(input, { threads: 1, composite: c.composite, compositeParams: c.composite === 'epsilon-gamma-box' ? { low: -1, high: 1 } : {} });
    }
  } finally {
    model.dispose();
  }
  return 'ok';
}

function cheapNative(spec) {
  let cost = productOf(spec.inputShape);
  for (const n of spec.nodes) {
    const out = productOf(n.outputShape);
    if (n.weight) cost += out * Math.max(1, n.weight.length / Math.max(1, n.weightShape?.[0] ?? 1)) * 4;
    else cost += out * (n.kernel ? n.kernel[0] * n.kernel[1] : 2);
  }
  return cost < 2e6;
}

// ---------------------------------------------------------------------------------------------------------------
// explain: small fixed models, hostile inputs, targets and options

const EXPLAIN_MODELS = ['tiny-dense', 'tiny-conv', 'mlp', 'resblock', 'cnn-bn-avg'];

function namedModel(ctx, name) {
  if (ctx.models.has(name)) return ctx.models.get(name);
  const { lrp } = ctx;
  const rng = new Rng(1234);
  const fill = (shape) => ({ data: Float32Array.from({ length: productOf(shape) }, () => rng.float() * 2 - 1), shape });
  let model;
  if (name === 'tiny-dense') {
    model = lrp.sequential({ inputShape: [4] }, [lrp.dense({ weight: fill([3, 4]), bias: fill([3]) }), lrp.relu(), lrp.dense({ weight: fill([2, 3]), bias: fill([2]) })]);
  } else if (name === 'tiny-conv') {
    model = lrp.sequential({ inputShape: [1, 4, 4] }, [lrp.conv2d({ weight: fill([2, 1, 3, 3]), bias: fill([2]), padding: 1 }), lrp.relu(),
      lrp.maxPool2d({ kernel: 2 }), lrp.flatten(), lrp.dense({ weight: fill([3, 8]), bias: fill([3]) })]);
  } else {
    const { graph } = lrp.loadOnnxGraph(ctx.onnxSeeds[name]);
    model = new lrp.Model(graph, { name });
  }
  ctx.models.set(name, model);
  return model;
}

function hostileInput(rng, sampleSize) {
  const batch = rng.pick([1, 1, 2, 3, 5]);
  const n = sampleSize * batch;
  const kind = rng.weighted({ valid: 6, nonFinite: 2, huge: 1, wrongLength: 1, empty: 1, f64: 1, array: 1, tensor: 2, garbage: 1 });
  const values = () => Float32Array.from({ length: n }, () => rng.float() * 2 - 1);
  switch (kind) {
    case 'valid': return values();
    case 'nonFinite': { const v = values(); v[rng.int(n)] = rng.pick([NaN, Infinity, -Infinity]); return v; }
    case 'huge': return Float32Array.from({ length: n }, () => (rng.float() - 0.5) * rng.pick([1e30, 3e38, 1e-40]));
    case 'wrongLength': return new Float32Array(n + rng.pick([-1, 1, sampleSize - 1]));
    case 'empty': return new Float32Array(0);
    case 'f64': return Float64Array.from(values(), (v) => (rng.bool(0.05) ? 1e300 : v));
    case 'array': return Array.from(values());
    case 'tensor': return { data: values(), shape: rng.bool(0.6) ? [batch, sampleSize] : [dim(rng, batch), dim(rng, sampleSize)] };
    default: return rng.pick([null, undefined, 'input', 42, {}, [[1, 2], [3]], { data: 'x', shape: [1] }, { data: new Float32Array(2), shape: [-1] }]);
  }
}

function hostileTarget(rng, classes, batch) {
  const kind = rng.weighted({ none: 4, argmax: 1, index: 2, perSample: 2, bigint: 1, relevance: 2, garbage: 1 });
  switch (kind) {
    case 'none': return undefined;
    case 'argmax': return 'argmax';
    case 'index': return rng.bool(0.7) ? rng.int(classes) : rng.pick([-1, classes, 1.5, NaN, Infinity, 2 ** 53, -0]);
    case 'perSample': return Array.from({ length: rng.bool(0.8) ? batch : batch + 1 }, () => (rng.bool(0.9) ? rng.int(classes) : rng.pick([-1, classes, NaN])));
    case 'bigint': return BigInt64Array.from({ length: batch }, () => (rng.bool(0.9) ? BigInt(rng.int(classes)) : rng.pick([-1n, 2n ** 40n, -(2n ** 63n)])));
    case 'relevance': {
      const data = Float32Array.from({ length: batch * classes }, () => rng.float());
      if (rng.bool(0.2)) data[rng.int(data.length)] = rng.pick([NaN, Infinity, 3e38]);
      return { data, shape: rng.bool(0.8) ? [batch, classes] : [batch, dim(rng, classes)] };
    }
    default: return rng.pick([null, 'max', {}, [], [[1]], { data: [1], shape: [1, 1, 1] }, true]);
  }
}

function generateExplain(rng, ctx) {
  const modelName = rng.pick(EXPLAIN_MODELS);
  const model = namedModel(ctx, modelName);
  const sampleSize = productOf(model.inputShape);
  const classes = productOf(model.outputShape);
  const via = rng.weighted({ api: 8, native: 3 });
  const input = hostileInput(rng, sampleSize);
  const batch = input && typeof input.length === 'number' ? Math.max(1, Math.floor(input.length / sampleSize)) : 1;
  const c = { target: 'explain', model: modelName, via, input };
  if (via === 'api') {
    const options = {};
    if (rng.bool(0.4)) options.composite = rng.pick(['epsilon', 'epsilon-plus', 'epsilon-alpha2-beta1', 'epsilon-plus-flat', 'epsilon-gamma-box', 'zplus', 'gamma', 'alpha-beta', 'wsquare-epsilon', 'bogus', '']);
    if (rng.bool(0.3)) {
      options.compositeParams = {};
      for (const key of ['epsilon', 'stabilizer', 'gamma', 'alpha', 'beta', 'low', 'high']) if (rng.bool(0.3)) options.compositeParams[key] = num(rng, key === 'low' ? -1 : 1);
      if (rng.bool(0.1)) options.compositeParams.low = Float32Array.from({ length: rng.pick([sampleSize, 3]) }, () => -1);
    }
    const target = hostileTarget(rng, classes, batch);
    if (target !== undefined) options.target = target;
    if (rng.bool(0.2)) options.threads = rng.bool(0.6) ? rng.range(1, 4) : rng.pick([0, -1, 1.5, 1025, NaN, '2']);
    if (rng.bool(0.2)) options.keepLayers = rng.bool(0.9) ? true : 'yes';
    if (rng.bool(0.2)) options.maxMemoryBytes = rng.pick([1, 1000, 20000, 60000, 200000, 2 ** 40, 0, -1, NaN, Infinity, '1e6']);
    c.options = options;
    c.signal = rng.weighted({ none: 10, before: 1, progress: 1, throwInProgress: 1 });
    c.concurrent = rng.bool(0.1) ? rng.range(2, 6) : 1;
  } else {
    c.nativeEdits = Array.from({ length: rng.range(1, 3) }, () => ({
      field: rng.pick(['batch', 'threads', 'targetMode', 'targets', 'outputRelevance', 'relevance', 'logits', 'targetsOut', 'layerSums', 'rules', 'rule', 'layerRelevance', 'input', 'args']),
      value: rng.int(1 << 30), hostile: rng.pick([...HOSTILE_DIMS, ...HOSTILE_NUMBERS]),
    }));
  }
  return c;
}

async function runExplain(c, ctx) {
  const model = namedModel(ctx, c.model);
  if (c.via === 'native') return runNativeExplain(c, ctx, model);
  const options = { ...(c.options ?? {}) };
  let onProgressCalls = 0;
  if (c.signal === 'before') {
    const controller = new AbortController();
    controller.abort();
    options.signal = controller.signal;
  } else if (c.signal === 'progress') {
    const controller = new AbortController();
    options.signal = controller.signal;
    options.onProgress = () => { onProgressCalls++; controller.abort(); };
  } else if (c.signal === 'throwInProgress') {
    options.onProgress = () => { const e = new Error('progress callback failed'); e.fuzzCallback = true; throw e; };
  }
  const calls = Array.from({ length: c.concurrent ?? 1 }, () => model.explain(c.input, options));
  const settled = await Promise.allSettled(calls);
  const outcomes = settled.map((s) => (s.status === 'fulfilled' ? checkResult(s.value) : classify(s.reason, c)));
  for (const o of outcomes) if (o.startsWith('UNEXPECTED')) return o;
  // Concurrent calls on one model must agree.
  const first = settled[0];
  for (const s of settled.slice(1)) {
    if (s.status !== first.status) return 'UNEXPECTED concurrent calls disagree on success';
    if (s.status === 'fulfilled' && !sameFloats(s.value.relevance, first.value.relevance)) return 'UNEXPECTED concurrent calls differ';
  }
  void onProgressCalls;
  return outcomes[0];
}

function checkResult(result) {
  // Success with a non-finite relevance is a finding: the engine must reject it with E_NON_FINITE.
  for (const v of result.relevance) if (!Number.isFinite(v)) return 'UNEXPECTED non-finite relevance returned as success';
  return 'ok';
}

function sameFloats(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

async function runNativeExplain(c, ctx, model) {
  const native = model.native;
  if (!native) return 'E_DISPOSED';
  const inSize = productOf(model.inputShape), outSize = productOf(model.outputShape);
  const nodes = model.graph.nodes;
  const rng = new Rng(7);
  const input = c.input instanceof Float32Array && c.input.length % inSize === 0 && c.input.length > 0 ? c.input : new Float32Array(inSize);
  const batch = input.length / inSize;
  const args = {
    input, batch, rules: nodes.map((n) => ruleForOp(n.layer.type, rng)), targetMode: 0, relevance: new Float32Array(batch * inSize),
    logits: new Float32Array(batch * outSize), targetsOut: new Int32Array(batch), layerSums: new Float64Array(batch * nodes.length * 2), threads: 2,
  };
  let finalArgs = args;
  for (const e of c.nativeEdits) {
    const h = e.hostile;
    switch (e.field) {
      case 'batch': args.batch = e.value % 2 ? h : batch + (e.value % 5) - 2; break;
      case 'threads': args.threads = h; break;
      case 'targetMode': args.targetMode = e.value % 2 ? h : e.value % 4; if (args.targetMode === 1) args.targets = new Int32Array(batch).fill(e.value % (outSize + 2) - 1); if (args.targetMode === 2) args.outputRelevance = new Float32Array(batch * outSize + (e.value % 3) - 1); break;
      case 'targets': args.targetMode = 1; args.targets = e.value % 3 === 0 ? new Int32Array(batch + 1) : e.value % 3 === 1 ? Int32Array.from({ length: batch }, () => e.value) : new Float32Array(batch); break;
      case 'outputRelevance': args.targetMode = 2; args.outputRelevance = e.value % 2 ? new Float32Array(batch * outSize).fill(h) : new Float32Array(batch * outSize - 1); break;
      case 'relevance': case 'logits': case 'targetsOut': case 'layerSums': case 'input':
        args[e.field] = e.value % 3 === 0 ? h : e.value % 3 === 1 ? new Float32Array(e.value % 64) : new Float64Array(args[e.field]?.length ?? 4);
        break;
      case 'rules': args.rules = e.value % 2 && Array.isArray(args.rules) ? args.rules.slice(1) : h; break;
      case 'rule': {
        if (!Array.isArray(args.rules) || !args.rules.length) break;
        const r = { ...args.rules[e.value % args.rules.length] };
        const key = ['rule', 'epsilon', 'stabilizer', 'gamma', 'alpha', 'beta', 'low', 'high', 'lowTensor', 'highTensor', 'ignoreBias'][e.value % 11];
        r[key] = key === 'rule' ? ['zBox', 'norm', 'pass', 'gradient', 'bogus', 'epsilon'][e.value % 6] : key.endsWith('Tensor') ? new Float32Array(e.value % 9).fill(e.value % 2 ? NaN : 1) : h;
        args.rules[e.value % args.rules.length] = r;
        break;
      }
      case 'layerRelevance': args.layerRelevance = e.value % 3 === 0 ? nodes.map(() => null) : e.value % 3 === 1 ? nodes.map(() => new Float32Array(e.value % 50)) : [h]; break;
      case 'args': finalArgs = h; break;
    }
  }
  try {
    await native.explain(finalArgs);
  } catch (error) {
    return classifyNative(error);
  }
  return 'ok';
}

function classifyNative(error) {
  if (error && typeof error.code === 'string' && /^E_[A-Z_]+$/.test(error.code) && /^\[E_[A-Z_]+\]/.test(error.message)) return error.code;
  return `UNEXPECTED native ${error?.name}: ${String(error?.message).slice(0, 200)}`;
}

function isLrp(error) {
  return error !== null && typeof error === 'object' && error.name === 'LrpError' && typeof error.code === 'string';
}

function classify(error, c) {
  if (isLrp(error)) return error.code;
  if (error?.name === 'AbortError' && (c.signal === 'before' || c.signal === 'progress')) return 'AbortError';
  if (error?.fuzzCallback && c.signal === 'throwInProgress') return 'callback';
  return `UNEXPECTED ${error?.name ?? typeof error}: ${String(error?.message ?? error).slice(0, 200)}`;
}

// ---------------------------------------------------------------------------------------------------------------

const GENERATORS = { onnx: generateOnnx, npy: generateNpy, plan: generatePlan, explain: generateExplain };
const RUNNERS = { onnx: runOnnx, npy: runNpy, plan: runPlan, explain: runExplain };

/** The case for one iteration; `only` restricts the targets. */
export function generateCase(rng, ctx, only) {
  const weights = only ? Object.fromEntries(Object.entries(TARGET_WEIGHTS).filter(([k]) => only.includes(k))) : TARGET_WEIGHTS;
  const target = rng.weighted(weights);
  return GENERATORS[target](rng, ctx);
}

/** Runs a case; resolves to its outcome (never rejects). */
export async function runCase(c, ctx) {
  try {
    const outcome = await RUNNERS[c.target](c, ctx);
    return outcome;
  } catch (error) {
    if (c.target === 'plan' && c.via === 'native') return classifyNative(error);
    return classify(error, c);
  }
}
