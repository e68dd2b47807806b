// The ONNX loader on the golden reference models and on tiny models built in the test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';
import { isLrpError } from '../../lib/errors';
import type { Graph } from '../../lib/model/graph';
import { inspectOnnx, loadOnnxGraph } from '../../lib/onnx/index';
import { attr, floatTensor, int64Tensor, makeModel, node, valueInfo, values } from './make-model';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const fixture = (name: string): Uint8Array => fs.readFileSync(path.join(FIXTURES, `${name}.onnx`));
const layers = (graph: Graph): string[] => graph.nodes.map((n) => `${n.name}:${n.layer.type}:${n.outputShape.join('x')}`);
const layerOf = <T>(graph: Graph, name: string): T => graph.nodes.find((n) => n.name === name)!.layer as unknown as T;

test('mlp: three dense layers with ReLUs, torch names kept', (t) => {
  const { graph, summary } = loadOnnxGraph(fixture('mlp'));
  t.deepEqual(graph.inputShape, [20]);
  t.deepEqual(layers(graph), ['/0/Gemm:dense:64', '/1/Relu:relu:64', '/2/Gemm:dense:32', '/3/Relu:relu:32', '/4/Gemm:dense:5']);
  const first = layerOf<{ weight: { shape: number[] }; bias: { data: Float32Array } }>(graph, '/0/Gemm');
  t.deepEqual(first.weight.shape, [64, 20]);
  t.is(first.bias.data.length, 64);
  t.deepEqual(summary.inputs, [{ name: 'input', shape: ['batch', 20], dataType: 'FLOAT' }]);
  t.is(summary.opset, 13);
  t.deepEqual(summary.unsupported, []);
});

test('cnn: conv, max pooling, flatten, dense', (t) => {
  const { graph } = loadOnnxGraph(fixture('cnn'));
  t.deepEqual(layers(graph), [
    '/0/Conv:conv2d:8x16x16', '/1/Relu:relu:8x16x16', '/2/MaxPool:maxPool2d:8x8x8', '/3/Conv:conv2d:16x8x8',
    '/4/Relu:relu:16x8x8', '/5/MaxPool:maxPool2d:16x4x4', '/6/Flatten:flatten:256', '/7/Gemm:dense:32',
    '/8/Relu:relu:32', '/9/Gemm:dense:10',
  ]);
  const conv = layerOf<{ padding: number[]; stride: number[] }>(graph, '/0/Conv');
  t.deepEqual(conv.padding, [1, 1, 1, 1]);
  t.deepEqual(layerOf<{ kernel: number[]; stride: number[] }>(graph, '/2/MaxPool').stride, [2, 2]);
});

test('cnn-bn-avg: the all-zero Pad before AveragePool is removed', (t) => {
  const { graph, summary } = loadOnnxGraph(fixture('cnn-bn-avg'));
  t.deepEqual(layers(graph), [
    '/0/Conv:conv2d:8x12x12', '/2/Relu:relu:8x12x12', '/3/AveragePool:avgPool2d:8x6x6', '/4/Conv:conv2d:8x3x3',
    '/6/Relu:relu:8x3x3', '/7/Flatten:flatten:72', '/8/Gemm:dense:10',
  ]);
  t.false(graph.nodes.some((n) => n.layer.type === 'pad'));
  t.deepEqual(layerOf<{ padding: number[] }>(graph, '/3/AveragePool').padding, [0, 0, 0, 0]);
  t.true(summary.dropped.some((d) => d.name === '/3/Pad'));
});

test('resblock: residual Add becomes an add layer reading both branches', (t) => {
  const { graph } = loadOnnxGraph(fixture('resblock'));
  t.deepEqual(layers(graph), [
    '/stem/Conv:conv2d:8x8x8', '/stem_relu/Relu:relu:8x8x8', '/conv1/Conv:conv2d:8x8x8', '/relu1/Relu:relu:8x8x8',
    '/conv2/Conv:conv2d:8x8x8', '/add/Add:add:8x8x8', '/relu2/Relu:relu:8x8x8', '/pool/GlobalAveragePool:globalAvgPool:8x1x1',
    '/flatten/Flatten:flatten:8', '/fc/Gemm:dense:4',
  ]);
  const addNode = graph.nodes.find((n) => n.name === '/add/Add')!;
  t.deepEqual(addNode.inputs.map((i) => graph.nodes[i].name), ['/stem_relu/Relu', '/conv2/Conv']);
});

test('Gemm with transB=0, alpha and beta folds them into weight and bias', (t) => {
  const b = [1, 2, 3, 4, 5, 6]; // [in=2, out=3]
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('Gemm', ['x', 'B', 'C'], ['y'], [attr.float('alpha', 2), attr.float('beta', 0.5)], 'fc')],
    initializers: [floatTensor('B', [2, 3], b), floatTensor('C', [3], [10, 20, 30])],
  });
  const { graph } = loadOnnxGraph(bytes);
  const fc = layerOf<{ weight: { data: Float32Array; shape: number[] }; bias: { data: Float32Array } }>(graph, 'fc');
  t.deepEqual(fc.weight.shape, [3, 2]);
  t.deepEqual([...fc.weight.data], [2, 8, 4, 10, 6, 12]);
  t.deepEqual([...fc.bias.data], [5, 10, 15]);
});

test('Gemm with transA=1 is unsupported', (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('Gemm', ['x', 'B'], ['y'], [attr.int('transA', 1)], 'fc')],
    initializers: [floatTensor('B', [2, 3], values(6))],
  });
  const error = t.throws(() => loadOnnxGraph(bytes));
  t.is((error as { code?: string }).code, 'E_UNSUPPORTED_OP');
  t.regex(error!.message, /fc.*transA/);
});

test('MatMul followed by Add of a constant vector is one dense layer; MatMul alone has no bias', (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [
      node('MatMul', ['x', 'W1'], ['h'], [], 'mm1'),
      node('Add', ['h', 'b1'], ['h2'], [], 'add1'),
      node('Relu', ['h2'], ['r'], [], 'relu'),
      node('MatMul', ['r', 'W2'], ['y'], [], 'mm2'),
    ],
    initializers: [floatTensor('W1', [2, 3], [1, 2, 3, 4, 5, 6]), floatTensor('b1', [3], [7, 8, 9]), floatTensor('W2', [3, 1], [1, 1, 1])],
  });
  const { graph, summary } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['mm1:dense:3', 'relu:relu:3', 'mm2:dense:1']);
  const mm1 = layerOf<{ weight: { data: Float32Array }; bias: { data: Float32Array } | null }>(graph, 'mm1');
  t.deepEqual([...mm1.weight.data], [1, 4, 2, 5, 3, 6]);
  t.deepEqual([...mm1.bias!.data], [7, 8, 9]);
  t.is(layerOf<{ bias: unknown }>(graph, 'mm2').bias, null);
  t.true(summary.dropped.some((d) => d.name === 'add1' && /mm1/.test(d.reason)));
});

test('a constant Add that is not a MatMul bias is unsupported with an explanation', (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('Relu', ['x'], ['r'], [], 'relu'), node('Add', ['r', 'c'], ['y'], [], 'shift')],
    initializers: [floatTensor('c', [2], [1, 2])],
  });
  const error = t.throws(() => loadOnnxGraph(bytes));
  t.is((error as { code?: string }).code, 'E_UNSUPPORTED_OP');
  t.regex(error!.message, /shift.*MatMul/);
});

const padModel = (consumer: object[], pads: number[]): Uint8Array => makeModel({
  input: ['N', 1, 4, 4],
  nodes: [
    node('Constant', [], ['pads'], [attr.tensor('value', int64Tensor('', [8], pads))], 'padconst'),
    node('Pad', ['x', 'pads'], ['p'], [attr.string('mode', 'constant')], 'pad'),
    ...consumer,
  ],
  initializers: [floatTensor('W', [2, 1, 3, 3], values(18))],
});

test('a Pad before Conv is folded into its padding', (t) => {
  const bytes = padModel([node('Conv', ['p', 'W'], ['y'], [attr.ints('pads', [1, 0, 1, 0])], 'conv')], [0, 0, 1, 2, 0, 0, 3, 4]);
  const { graph, summary } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['conv:conv2d:2x8x8']);
  t.deepEqual(layerOf<{ padding: number[] }>(graph, 'conv').padding, [2, 2, 4, 4]);
  t.true(summary.dropped.some((d) => d.name === 'pad' && /conv/.test(d.reason)));
});

test('a Pad before AveragePool folds with count_include_pad semantics; elsewhere it is a pad layer', (t) => {
  const avg = loadOnnxGraph(padModel([node('AveragePool', ['p'], ['y'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 'avg')], [0, 0, 1, 1, 0, 0, 1, 1])).graph;
  t.deepEqual(layers(avg), ['avg:avgPool2d:1x3x3']);
  t.like(layerOf<object>(avg, 'avg'), { padding: [1, 1, 1, 1], countIncludePad: true });
  const relu = loadOnnxGraph(padModel([node('Relu', ['p'], ['y'], [], 'relu')], [0, 0, 1, 1, 0, 0, 1, 1])).graph;
  t.deepEqual(layers(relu), ['pad:pad:1x6x6', 'relu:relu:1x6x6']);
  const channel = t.throws(() => loadOnnxGraph(padModel([node('Relu', ['p'], ['y'], [], 'relu')], [0, 1, 0, 0, 0, 0, 0, 0])));
  t.is((channel as { code?: string }).code, 'E_UNSUPPORTED_OP');
});

test('Concat of two activations along a negative axis', (t) => {
  const bytes = makeModel({
    input: ['N', 2, 3, 3],
    nodes: [node('Relu', ['x'], ['a'], [], 'a'), node('Tanh', ['x'], ['b'], [], 'b'), node('Concat', ['a', 'b'], ['y'], [attr.int('axis', -3)], 'cat')],
  });
  const { graph } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['a:relu:2x3x3', 'b:tanh:2x3x3', 'cat:concat:4x3x3']);
  t.is(layerOf<{ axis: number }>(graph, 'cat').axis, 1);
});

test('x.view(x.size(0), -1): Shape/Gather/Unsqueeze/Concat/Reshape folds to a flatten', (t) => {
  const bytes = makeModel({
    input: ['N', 2, 3, 3],
    nodes: [
      node('Relu', ['x'], ['r'], [], 'relu'),
      node('Shape', ['r'], ['s'], [], 'shape'),
      node('Constant', [], ['zero'], [attr.tensor('value', int64Tensor('', [], [0]))], 'c0'),
      node('Gather', ['s', 'zero'], ['n'], [attr.int('axis', 0)], 'gather'),
      node('Constant', [], ['axes'], [attr.tensor('value', int64Tensor('', [1], [0]))], 'c1'),
      node('Unsqueeze', ['n', 'axes'], ['n1'], [], 'unsqueeze'),
      node('Constant', [], ['minus1'], [attr.tensor('value', int64Tensor('', [1], [-1]))], 'c2'),
      node('Concat', ['n1', 'minus1'], ['shape2'], [attr.int('axis', 0)], 'concat'),
      node('Reshape', ['r', 'shape2'], ['y'], [], 'view'),
    ],
  });
  const { graph } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['relu:relu:2x3x3', 'view:flatten:18']);
});

test('Reshape to a per-sample shape, and one that would move the batch axis', (t) => {
  const make = (shape: number[]): Uint8Array => makeModel({
    input: ['N', 2, 3, 3],
    nodes: [node('Reshape', ['x', 's'], ['r'], [], 'reshape'), node('Relu', ['r'], ['y'], [], 'relu')],
    initializers: [int64Tensor('s', [shape.length], shape)],
  });
  t.deepEqual(layers(loadOnnxGraph(make([0, 6, -1])).graph), ['reshape:reshape:6x3', 'relu:relu:6x3']);
  t.deepEqual(layers(loadOnnxGraph(make([-1, 18])).graph), ['reshape:flatten:18', 'relu:relu:18']);
  const error = t.throws(() => loadOnnxGraph(make([-1, 9])));
  t.is((error as { code?: string }).code, 'E_UNSUPPORTED_OP');
});

test('Conv with auto_pad SAME_UPPER and SAME_LOWER', (t) => {
  const make = (mode: string): Uint8Array => makeModel({
    input: ['N', 1, 6, 6],
    nodes: [node('Conv', ['x', 'W'], ['y'], [attr.string('auto_pad', mode), attr.ints('strides', [2, 2]), attr.ints('kernel_shape', [3, 3])], 'conv')],
    initializers: [floatTensor('W', [1, 1, 3, 3], values(9))],
  });
  const upper = loadOnnxGraph(make('SAME_UPPER')).graph;
  t.deepEqual(layerOf<{ padding: number[] }>(upper, 'conv').padding, [0, 0, 1, 1]);
  t.deepEqual(upper.nodes[0].outputShape, [1, 3, 3]);
  t.deepEqual(layerOf<{ padding: number[] }>(loadOnnxGraph(make('SAME_LOWER')).graph, 'conv').padding, [1, 1, 0, 0]);
  t.deepEqual(layerOf<{ padding: number[] }>(loadOnnxGraph(make('VALID')).graph, 'conv').padding, [0, 0, 0, 0]);
});

test('a trailing Softmax is dropped and reported', (t) => {
  const bytes = makeModel({
    input: ['N', 2],
    nodes: [node('Gemm', ['x', 'W'], ['logits'], [attr.int('transB', 1)], 'fc'), node('Softmax', ['logits'], ['y'], [attr.int('axis', 1)], 'softmax')],
    initializers: [floatTensor('W', [3, 2], values(6))],
  });
  const { graph, summary } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['fc:dense:3']);
  t.deepEqual(summary.dropped.map((d) => [d.name, d.opType]), [['softmax', 'Softmax']]);
});

test('activations, BatchNorm (merged), Identity, Dropout, empty and duplicate node names', (t) => {
  const bytes = makeModel({
    input: ['N', 2, 4, 4],
    nodes: [
      node('Conv', ['x', 'W'], ['c'], [], 'conv'),
      node('BatchNormalization', ['c', 's', 'b', 'm', 'v'], ['bn'], [attr.float('epsilon', 1e-3)], 'bn'),
      node('LeakyRelu', ['bn'], ['l'], [attr.float('alpha', 0.2)], ''),
      node('Identity', ['l'], ['i'], [], 'dup'),
      node('Elu', ['i'], ['e'], [], 'dup'),
      node('Dropout', ['e'], ['d'], [], ''),
      node('Sigmoid', ['d'], ['g'], [], 'sig'),
      node('Gelu', ['g'], ['y'], [attr.string('approximate', 'tanh')], 'gelu'),
    ],
    initializers: [
      floatTensor('W', [3, 2, 1, 1], values(6)), floatTensor('s', [3], [1, 2, 3]), floatTensor('b', [3], [0, 0, 1]),
      floatTensor('m', [3], [0, 1, 0]), floatTensor('v', [3], [1, 1, 4]),
    ],
    opset: 20,
  });
  const { graph } = loadOnnxGraph(bytes);
  t.deepEqual(layers(graph), ['conv:conv2d:3x4x4', 'LeakyRelu_2:leakyRelu:3x4x4', 'Elu_4:elu:3x4x4', 'sig:sigmoid:3x4x4', 'gelu:gelu:3x4x4']);
  t.is(graph.nodes[0].mergedBatchNorm, 'bn');
  t.like(layerOf<object>(graph, 'gelu'), { approximate: 'tanh' });
  t.like(layerOf<object>(graph, 'LeakyRelu_2'), { alpha: Math.fround(0.2) });
});

test('symbolic per-sample dimensions need inputShape', (t) => {
  const bytes = makeModel({ input: ['N', 'C', 'H', 'W'], nodes: [node('GlobalAveragePool', ['x'], ['y'], [], 'gap')] });
  t.is((t.throws(() => loadOnnxGraph(bytes)) as { code?: string }).code, 'E_SHAPE');
  t.deepEqual(layers(loadOnnxGraph(bytes, { inputShape: [3, 5, 5] }).graph), ['gap:globalAvgPool:3x1x1']);
});

test('every unsupported op is named in one E_UNSUPPORTED_OP; inspectOnnx lists them without throwing', async (t) => {
  const bytes = makeModel({
    input: ['N', 4],
    nodes: [node('Erf', ['x'], ['e'], [], 'my_erf'), node('Relu', ['e'], ['r'], [], 'relu'), node('LSTM', ['r'], ['y'], [], 'my_lstm')],
  });
  const error = t.throws(() => loadOnnxGraph(bytes));
  t.true(isLrpError(error));
  t.is((error as { code?: string }).code, 'E_UNSUPPORTED_OP');
  t.regex(error!.message, /Erf 'my_erf'/);
  t.regex(error!.message, /LSTM 'my_lstm'/);
  t.regex(error!.message, /supported operators: .*Conv.*Gemm/);
  const summary = await inspectOnnx(bytes);
  t.deepEqual(summary.unsupported.map((u) => u.name), ['my_erf', 'my_lstm']);
  t.deepEqual(summary.nodes.map((n) => n.supported), [false, true, false]);
});

test('several graph inputs or outputs are unsupported', (t) => {
  const twoInputs = makeModel({
    inputs: [valueInfo('x', ['N', 2]), valueInfo('z', ['N', 2])],
    nodes: [node('Add', ['x', 'z'], ['y'], [], 'add')],
  });
  t.is((t.throws(() => loadOnnxGraph(twoInputs)) as { code?: string }).code, 'E_UNSUPPORTED_OP');
  const twoOutputs = makeModel({
    input: ['N', 2],
    outputs: [valueInfo('y', ['N', 2]), valueInfo('z', ['N', 2])],
    nodes: [node('Relu', ['x'], ['y'], [], 'a'), node('Tanh', ['x'], ['z'], [], 'b')],
  });
  t.is((t.throws(() => loadOnnxGraph(twoOutputs)) as { code?: string }).code, 'E_UNSUPPORTED_OP');
});
