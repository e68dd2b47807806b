// LrpError, the one error class that lrp-node throws, and the list of its stable codes.

/**
 * Stable error codes. Code that handles errors should switch on these, never on message text.
 *
 * - `E_SHAPE`: a tensor or layer has the wrong shape, or shapes do not fit together.
 * - `E_INPUT`: an input value is invalid (wrong type, wrong length, not finite).
 * - `E_NON_FINITE`: an input contains NaN or ±Infinity, or a rule produced a non-finite relevance.
 * - `E_ARGUMENT`: an option or parameter is invalid (out of range, wrong type, unknown name).
 * - `E_RULE`: a rule is invalid or does not apply to the layer it was assigned to.
 * - `E_TARGET`: the explained target is invalid (class out of range, wrong length).
 * - `E_CONSERVATION`: a strict conservation check failed.
 * - `E_UNSUPPORTED_OP`: a model uses an operator that lrp-node cannot explain.
 * - `E_MODEL`: a model file is malformed (corrupt protobuf, dangling input, missing initializer).
 * - `E_TOO_LARGE`: a declared size is larger than lrp-node accepts.
 * - `E_IO`: a file could not be read or written, or has the wrong format.
 * - `E_DISPOSED`: the model was disposed.
 * - `E_NATIVE`: the native addon could not be loaded or failed unexpectedly.
 * - `E_USAGE`: the command line was used wrongly.
 * - `E_MEMORY_BUDGET`: the work would need more memory than the configured budget.
 * - `E_DEVICE`: the requested compute device is unavailable (CUDA not built into the addon, no NVIDIA driver or one
 *   too old, no CUDA device, or a GPU this build cannot run).
 */
export type LrpErrorCode =
  | 'E_SHAPE'
  | 'E_INPUT'
  | 'E_NON_FINITE'
  | 'E_ARGUMENT'
  | 'E_RULE'
  | 'E_TARGET'
  | 'E_CONSERVATION'
  | 'E_UNSUPPORTED_OP'
  | 'E_MODEL'
  | 'E_TOO_LARGE'
  | 'E_IO'
  | 'E_DISPOSED'
  | 'E_NATIVE'
  | 'E_USAGE'
  | 'E_MEMORY_BUDGET'
  | 'E_DEVICE';

/** Every code an {@link LrpError} can carry. */
export const LRP_ERROR_CODES: readonly LrpErrorCode[] = [
  'E_SHAPE', 'E_INPUT', 'E_NON_FINITE', 'E_ARGUMENT', 'E_RULE', 'E_TARGET', 'E_CONSERVATION',
  'E_UNSUPPORTED_OP', 'E_MODEL', 'E_TOO_LARGE', 'E_IO', 'E_DISPOSED', 'E_NATIVE', 'E_USAGE', 'E_MEMORY_BUDGET', 'E_DEVICE',
];

/** The error thrown (or rejected) by every lrp-node API, with a stable {@link LrpErrorCode}. */
export class LrpError extends Error {
  /** Stable machine-readable code. */
  readonly code: LrpErrorCode;
  /** Optional structured details (the offending layer, value, …). */
  readonly details?: Record<string, unknown>;

  constructor(code: LrpErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'LrpError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** True when `value` is an {@link LrpError} (also across realms, e.g. worker threads). */
export function isLrpError(value: unknown): value is LrpError {
  return value instanceof LrpError || (
    typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'LrpError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}
