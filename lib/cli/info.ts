// `lrp info`: what an ONNX model contains, the rule a composite gives each layer, and what cannot be explained.
import { LrpError } from '../errors';
import type { LayerRuleInfo } from '../model/model';
import {
  COMPOSITE_HELP, COMPOSITE_OPTIONS, type CompositeChoice, type ParsedCommandLine, parseComposite, usageError,
} from './args';
import type { CliContext, CliIo, Command } from './command';
import { formatParams, formatShape, formatTable, toJson } from './format';
import type { OnnxSummary } from '../onnx/index';
import { loadModel, readModelFile } from './load-model';

const HELP = `Usage: lrp info MODEL.onnx [options]

Lists the model's inputs and outputs, every layer with its shapes and the rule the composite assigns to it,
the operators that were dropped (a trailing Softmax: the logits are explained) and any operator lrp-node
cannot explain (then the exit status is 1).

${COMPOSITE_HELP}
  --input-shape D,D,..  per-sample input shape, for models whose file leaves dimensions open
  --json                print everything as JSON
  --verbose             print the stack trace of an error
  -h, --help            show this help`;

/** Parses `--input-shape 3,224,224` (also `[3, 224, 224]` or `3x224x224`). */
export function parseShapeOption(text: string | undefined, command: string): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.replace(/^\[|\]$/g, '').split(/[,x×\s]+/).filter(Boolean);
  const dims = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (dims.length === 0 || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw usageError(`--input-shape expects positive integers separated by commas, got '${text}'`, command);
  }
  return dims;
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null || value === '') return '?';
  if (typeof value === 'object') return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  return String(value);
}

function droppedNote(entry: { name: string; opType: string; reason: string }): string {
  const logits = /softmax/i.test(entry.opType) ? '; the logits before it are explained' : '';
  return `dropped ${entry.opType} '${entry.name}': ${entry.reason}${logits}`;
}

function layerRow(layer: LayerRuleInfo): string[] {
  const note = layer.mergedBatchNorm ? `merged BatchNorm '${layer.mergedBatchNorm}'` : '';
  return [String(layer.index), layer.name, layer.type, layer.inputShapes.map(formatShape).join(' + '),
    formatShape(layer.outputShape), layer.rule, note];
}

function printText(path: string, summary: OnnxSummary, choice: CompositeChoice, layers: LayerRuleInfo[] | undefined, io: CliIo): void {
  const io1 = (s: { name: string; shape: readonly unknown[] }): string => `${s.name} ${formatShape(s.shape as (number | string)[])}`;
  const lines = [
    `${path}: ONNX IR ${formatValue(summary.irVersion)}, opset ${formatValue(summary.opset)}, producer ${formatValue(summary.producer)}`,
    `inputs:  ${summary.inputs.map(io1).join(', ')}`,
    `outputs: ${summary.outputs.map(io1).join(', ')}`,
  ];
  if (layers) {
    const params = formatParams(choice.params as Record<string, unknown>);
    lines.push(`layers (composite ${choice.composite.name}${params ? `, ${params}` : ''}):`);
    lines.push(formatTable([['index', 'name', 'type', 'input shape', 'output shape', 'rule', ''], ...layers.map(layerRow)]));
  }
  for (const entry of summary.dropped) lines.push(droppedNote(entry));
  if (summary.unsupported.length > 0) {
    lines.push('unsupported operators:');
    for (const op of summary.unsupported) lines.push(`  ${op.opType} '${op.name}'${op.reason ? `: ${op.reason}` : ''}`);
  }
  io.stdout(`${lines.join('\n')}\n`);
}

function printJson(path: string, summary: OnnxSummary, choice: CompositeChoice, layers: LayerRuleInfo[] | undefined, io: CliIo): void {
  io.stdout(`${toJson({
    command: 'info', model: path, irVersion: summary.irVersion, opset: summary.opset, producer: summary.producer,
    inputs: summary.inputs, outputs: summary.outputs, composite: choice.composite.name, params: choice.params,
    layers: layers?.map((l) => ({
      index: l.index, name: l.name, type: l.type, inputShapes: l.inputShapes, outputShape: l.outputShape, rule: l.rule,
      ...(l.mergedBatchNorm ? { mergedBatchNorm: l.mergedBatchNorm } : {}),
    })) ?? null,
    dropped: summary.dropped, unsupported: summary.unsupported,
  })}\n`);
}

async function run(args: ParsedCommandLine, io: CliIo, context: CliContext): Promise<number> {
  const { values, positionals } = args;
  if (positionals.length === 0) throw usageError('missing MODEL.onnx', 'info');
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`, 'info');
  const modelPath = positionals[0];
  const choice = parseComposite(values, 'info');
  const inputShape = parseShapeOption(values['input-shape'] as string | undefined, 'info');
  const bytes = readModelFile(modelPath);
  const onnx = await context.importOnnx();
  const summary = await onnx.inspectOnnx(bytes);
  let layers: LayerRuleInfo[] | undefined;
  if (summary.unsupported.length === 0) {
    const model = await loadModel(onnx, bytes, inputShape);
    try {
      layers = model.describe(choice.composite);
    } finally {
      model.dispose();
    }
  }
  (values.json === true ? printJson : printText)(modelPath, summary, choice, layers, io);
  if (summary.unsupported.length > 0) {
    const list = summary.unsupported.map((op) => `${op.opType} '${op.name}'`).join(', ');
    throw new LrpError('E_UNSUPPORTED_OP', `${modelPath}: ${summary.unsupported.length} unsupported operator` +
      `${summary.unsupported.length === 1 ? '' : 's'}: ${list}`);
  }
  return 0;
}

/** The `info` subcommand. */
export const infoCommand: Command = {
  name: 'info',
  summary: 'show the layers of an ONNX model and the rule each one gets',
  help: HELP,
  options: {
    ...COMPOSITE_OPTIONS,
    'input-shape': { type: 'string' },
    json: { type: 'boolean' },
  },
  run,
};
