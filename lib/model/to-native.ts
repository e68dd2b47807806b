// Converting a validated graph and its rules into the plain objects the native engine takes.
import type { NativeNode, NativeRule } from '../native';
import type { Rule } from '../rules/rules';
import type { Graph, GraphNode } from './graph';

const ACTIVATION_OPS = new Set(['relu', 'leakyRelu', 'tanh', 'sigmoid', 'elu', 'gelu']);

function nodeToNative(node: GraphNode): NativeNode {
  const base = {
    op: node.layer.type as string, name: node.name, inputs: node.inputs,
    inputShapes: node.inputShapes, outputShape: node.outputShape,
  };
  const layer = node.layer;
  switch (layer.type) {
    case 'dense':
      return { ...base, weight: layer.weight.data, weightShape: layer.weight.shape, bias: layer.bias?.data };
    case 'conv2d':
      return {
        ...base, weight: layer.weight.data, weightShape: layer.weight.shape, bias: layer.bias?.data,
        stride: layer.stride, padding: layer.padding, dilation: layer.dilation, groups: layer.groups,
      };
    case 'maxPool2d':
      return { ...base, kernel: layer.kernel, stride: layer.stride, padding: layer.padding, dilation: layer.dilation, ceilMode: layer.ceilMode };
    case 'avgPool2d':
      return { ...base, kernel: layer.kernel, stride: layer.stride, padding: layer.padding, ceilMode: layer.ceilMode, countIncludePad: layer.countIncludePad };
    case 'batchNorm': {
      // Inference BatchNorm is the per-channel affine map x·scale + shift; computed in float64.
      const channels = layer.weight.data.length;
      const scale = new Float32Array(channels);
      const shift = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        const s = layer.weight.data[c] / Math.sqrt(layer.runningVar.data[c] + layer.eps);
        scale[c] = s;
        shift[c] = layer.bias.data[c] - layer.runningMean.data[c] * s;
      }
      return { ...base, scale, shift };
    }
    case 'concat':
      return { ...base, axis: layer.axis - 1 };
    case 'pad':
      return { ...base, padding: layer.padding };
    default:
      if (ACTIVATION_OPS.has(layer.type)) {
        const l = layer as { alpha?: number; approximate?: string };
        return { ...base, alpha: l.alpha ?? 0, approximate: l.approximate === 'tanh' ? 1 : 0 };
      }
      return base;
  }
}

/** The native form of a graph. */
export function graphToNative(graph: Graph): { inputShape: number[]; nodes: NativeNode[] } {
  return { inputShape: graph.inputShape, nodes: graph.nodes.map(nodeToNative) };
}

/** The native form of one rule. */
export function ruleToNative(rule: Rule): NativeRule {
  const out: NativeRule = {
    rule: rule.rule, epsilon: 0, stabilizer: 0, gamma: 0, alpha: 1, beta: 0, ignoreBias: false, low: 0, high: 0,
  };
  if ('stabilizer' in rule) out.stabilizer = rule.stabilizer;
  if ('ignoreBias' in rule) out.ignoreBias = rule.ignoreBias;
  switch (rule.rule) {
    case 'epsilon': out.epsilon = rule.epsilon; break;
    case 'lrp0': out.epsilon = rule.stabilizer; break;
    case 'gamma': out.gamma = rule.gamma; break;
    case 'alphaBeta': out.alpha = rule.alpha; out.beta = rule.beta; break;
    case 'zBox':
      if (typeof rule.low === 'number') out.low = rule.low; else out.lowTensor = rule.low.data;
      if (typeof rule.high === 'number') out.high = rule.high; else out.highTensor = rule.high.data;
      break;
    default: break;
  }
  return out;
}
