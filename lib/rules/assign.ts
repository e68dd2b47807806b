// Assigning a rule to every layer of a graph from a composite, and checking that each rule fits its layer.
import { LrpError } from '../errors';
import type { Graph, GraphNode } from '../model/graph';
import type { LayerType } from '../model/layers';
import { shapeSize } from '../model/tensor';
import type { Composite } from './composites';
import { type Rule, type RuleName, rules } from './rules';

const LINEAR_RULES: readonly RuleName[] = ['lrp0', 'epsilon', 'zPlus', 'alphaBeta', 'gamma', 'flat', 'wSquare', 'zBox'];

/** Which rules each layer type accepts. */
export const RULES_BY_LAYER_TYPE: Record<LayerType, readonly RuleName[]> = {
  dense: LINEAR_RULES,
  conv2d: LINEAR_RULES,
  relu: ['pass'], leakyRelu: ['pass'], tanh: ['pass'], sigmoid: ['pass'], elu: ['pass'], gelu: ['pass'],
  batchNorm: ['pass'],
  avgPool2d: ['norm'], globalAvgPool: ['norm'], add: ['norm'],
  maxPool2d: ['gradient'], flatten: ['gradient'], reshape: ['gradient'], pad: ['gradient'], concat: ['gradient'],
};

function builtInRule(type: LayerType, composite: Composite): Rule | undefined {
  switch (RULES_BY_LAYER_TYPE[type][0]) {
    case 'pass': return rules.pass();
    case 'norm': return rules.norm({ stabilizer: composite.normStabilizer });
    case 'gradient': return rules.gradient();
    default: return undefined;
  }
}

/** Throws `E_RULE` unless `rule` applies to `node` (type and, for zBox, the bounds' shape). */
export function checkRule(node: GraphNode, rule: Rule): void {
  const allowed = RULES_BY_LAYER_TYPE[node.layer.type];
  if (!rule || typeof rule !== 'object' || typeof (rule as { rule?: unknown }).rule !== 'string') {
    throw new LrpError('E_RULE', `layer '${node.name}': expected a rule created by rules.*(), got ${String(rule)}`, { layer: node.name });
  }
  if (!allowed.includes(rule.rule)) {
    throw new LrpError('E_RULE', `rule '${rule.rule}' does not apply to layer '${node.name}' (${node.layer.type}); it accepts ${allowed.join(', ')}`,
      { layer: node.name, rule: rule.rule });
  }
  if (rule.rule === 'zBox') {
    const size = shapeSize(node.inputShapes[0]);
    for (const [what, bound] of [['low', rule.low], ['high', rule.high]] as const) {
      if (typeof bound !== 'number' && bound.data.length !== size) {
        throw new LrpError('E_RULE', `zBox ${what} on layer '${node.name}' has shape [${bound.shape.join(', ')}] (${bound.data.length} values); ` +
          `it must be a number or match the layer's input shape [${node.inputShapes[0].join(', ')}]`, { layer: node.name });
      }
    }
  }
}

/** The rule of every node of `graph` under `composite`, checked. */
export function assignRules(graph: Graph, composite: Composite): Rule[] {
  if (!composite || typeof composite !== 'object' || !composite.byType) {
    throw new LrpError('E_RULE', 'expected a composite from composites.*() or composite({ ... })');
  }
  for (const name of Object.keys(composite.byName)) {
    if (!graph.nodes.some((n) => n.name === name)) {
      throw new LrpError('E_RULE', `composite '${composite.name}' names layer '${name}', which the model does not have; layers: ${graph.nodes.map((n) => n.name).join(', ')}`);
    }
  }
  for (const key of Object.keys(composite.byIndex)) {
    const index = Number(key);
    if (!Number.isSafeInteger(index) || index < 0 || index >= graph.nodes.length) {
      throw new LrpError('E_RULE', `composite '${composite.name}' has a rule for layer index ${key}; the model has layers 0…${graph.nodes.length - 1}`);
    }
  }
  const firstIndex = composite.first
    ? graph.nodes.findIndex((n) => (composite.first!.types as readonly string[]).includes(n.layer.type)) : -1;
  return graph.nodes.map((node) => {
    const type = node.layer.type;
    const rule = composite.byName[node.name]
      ?? composite.byIndex[node.index]
      ?? (node.index === firstIndex ? composite.first!.rule : undefined)
      ?? composite.byType[type]
      ?? (type === 'dense' || type === 'conv2d' ? composite.linearDefault : builtInRule(type, composite));
    if (!rule) throw new LrpError('E_RULE', `no rule for layer '${node.name}' (${type})`);
    checkRule(node, rule);
    return rule;
  });
}
