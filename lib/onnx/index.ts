// The ONNX loader's public API: load a file as a Model, convert it to a Graph, or inspect it.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { LrpError } from '../errors';
import type { Graph } from '../model/graph';
import { Model } from '../model/model';
import { type LoadOnnxOptions, type OnnxSummary, convertOnnx, summarizeOnnx } from './convert';

export { DEFAULT_MAX_TENSOR_ELEMENTS, type LoadOnnxOptions, type OnnxSummary, type OnnxValueSummary } from './convert';
export type { DroppedNode, UnsupportedNode } from './context';
export { SUPPORTED_OPS } from './ops';

async function readBytes(pathOrBytes: string | Uint8Array): Promise<{ bytes: Uint8Array; name?: string }> {
  if (pathOrBytes instanceof Uint8Array) return { bytes: pathOrBytes };
  if (typeof pathOrBytes !== 'string') throw new LrpError('E_ARGUMENT', 'expected a file path or the file contents as a Uint8Array');
  try {
    return { bytes: await fsp.readFile(pathOrBytes), name: path.basename(pathOrBytes).replace(/\.onnx$/i, '') };
  } catch (error) {
    throw new LrpError('E_IO', `${pathOrBytes}: cannot read the model: ${(error as Error).message}`, { file: pathOrBytes });
  }
}

/**
 * Converts an ONNX model (the file's bytes) to a validated graph, without the native addon.
 *
 * @example
 * const { graph, summary } = loadOnnxGraph(fs.readFileSync('model.onnx'));
 * console.log(graph.nodes.map((n) => n.name), summary.dropped);
 */
export function loadOnnxGraph(bytes: Uint8Array, options: LoadOnnxOptions = {}): {
  /** The converted, canonized graph. */
  graph: Graph;
  /** What the file contains and what became of each node. */
  summary: OnnxSummary;
} {
  return convertOnnx(bytes, options);
}

/**
 * Loads an ONNX model (a path or the file's bytes) as a {@link Model} ready to explain.
 * Throws `E_UNSUPPORTED_OP` listing every node it cannot convert, `E_MODEL` for malformed files.
 *
 * @example
 * const model = await loadOnnx('model.onnx');
 * const { relevance } = await model.explain(input, { composite: 'epsilon-plus' });
 */
export async function loadOnnx(pathOrBytes: string | Uint8Array, options: LoadOnnxOptions = {}): Promise<Model> {
  const { bytes, name } = await readBytes(pathOrBytes);
  const { graph } = convertOnnx(bytes, options);
  return new Model(graph, { name: name ?? 'onnx-model', device: options.device });
}

/**
 * Describes an ONNX file (inputs, outputs, every node and whether it is supported, dropped nodes) without failing on
 * unsupported operators. Malformed files still throw `E_MODEL`.
 */
export async function inspectOnnx(pathOrBytes: string | Uint8Array, options: LoadOnnxOptions = {}): Promise<OnnxSummary> {
  const { bytes } = await readBytes(pathOrBytes);
  return summarizeOnnx(bytes, options);
}
