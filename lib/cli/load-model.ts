// Reading the model file and loading it with the ONNX loader, as `lrp explain` and `lrp info` need it.
import * as fs from 'node:fs';
import { LrpError } from '../errors';
import type { Model } from '../model/model';
import type { Device } from '../native';

/** The part of the ONNX loader's API the command line uses. */
export type OnnxModule = typeof import('../onnx/index');
export type { OnnxSummary } from '../onnx/index';

/** Reads a model file; `E_IO` naming the file when it cannot be read. */
export function readModelFile(path: string): Uint8Array {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    throw new LrpError('E_IO', `${path}: cannot read the model: ${(error as Error).message}`, { file: path });
  }
}

/** The ONNX loader, imported only when a command needs it (so `--help` and usage errors never load protobufjs). */
export async function importOnnx(): Promise<OnnxModule> {
  return import('../onnx/index');
}

/** True when every per-sample dimension (all but the first) of a declared input shape is a known positive number. */
export function hasFixedSampleShape(declared: readonly unknown[] | undefined): boolean {
  return declared !== undefined && declared.length > 0 && declared.slice(1).every((d) => typeof d === 'number' && d > 0);
}

/**
 * Loads a model. When the file leaves per-sample dimensions open (a symbolic height/width), they are taken from
 * `inputShape` (the input's shape with or without its batch axis), the only place they can come from. `device` picks
 * the compute device (`--device`).
 */
export async function loadModel(
  onnx: OnnxModule, bytes: Uint8Array, inputShape?: readonly number[], device?: Device,
): Promise<Model> {
  if (inputShape !== undefined) {
    const summary = await onnx.inspectOnnx(bytes);
    const declared = summary.inputs[0]?.shape as readonly unknown[] | undefined;
    if (declared !== undefined && !hasFixedSampleShape(declared)) {
      const perSample = inputShape.length === declared.length ? inputShape.slice(1) : [...inputShape];
      return onnx.loadOnnx(bytes, device === undefined ? { inputShape: perSample } : { inputShape: perSample, device });
    }
  }
  return onnx.loadOnnx(bytes, device === undefined ? undefined : { device });
}
