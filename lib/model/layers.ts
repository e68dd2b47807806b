// Layer descriptions (plain data) and the functions that create them for the builder API.
import { LrpError } from '../errors';
import { type Tensor, type TensorLike, toTensor } from './tensor';

/** Padding of a 2-D layer: one number for all sides, `[vertical, horizontal]`, or `[top, left, bottom, right]`. */
export type Padding2d = number | readonly [number, number] | readonly [number, number, number, number];
/** A 2-D size or step: one number for both axes, or `[height, width]`. */
export type Size2d = number | readonly [number, number];

/** A fully connected layer `y = W x + b` with `W` of shape `[out, in]` (torch's `nn.Linear` layout). */
export interface DenseLayer {
  /** Always `'dense'`. */
  type: 'dense';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** `[outFeatures, inFeatures]`. */
  weight: Tensor;
  /** `[outFeatures]`, or null for no bias. */
  bias: Tensor | null;
}

/** A 2-D convolution (cross-correlation, as torch and ONNX define it) over NCHW input with zero padding. */
export interface Conv2dLayer {
  /** Always `'conv2d'`. */
  type: 'conv2d';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`. */
  weight: Tensor;
  /** `[outChannels]`, or null. */
  bias: Tensor | null;
  /** Step between windows, `[height, width]`. */
  stride: [number, number];
  /** `[top, left, bottom, right]`. */
  padding: [number, number, number, number];
  /** Spacing between kernel taps, `[height, width]`; 1 is an ordinary kernel. */
  dilation: [number, number];
  /** Channel groups: input and output channels are split into `groups` independent convolutions. */
  groups: number;
}

/** 2-D max pooling; padded positions never win. */
export interface MaxPool2dLayer {
  /** Always `'maxPool2d'`. */
  type: 'maxPool2d';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Window size, `[height, width]`. */
  kernel: [number, number];
  /** Step between windows, `[height, width]`. */
  stride: [number, number];
  /** Implicit padding, `[top, left, bottom, right]`; padded positions never win. */
  padding: [number, number, number, number];
  /** Spacing between window taps, `[height, width]`; 1 is an ordinary window. */
  dilation: [number, number];
  /** Round the output size up instead of down (torch `ceil_mode`); the last window still starts inside the input or its leading padding. */
  ceilMode: boolean;
}

/** 2-D average pooling. */
export interface AvgPool2dLayer {
  /** Always `'avgPool2d'`. */
  type: 'avgPool2d';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Window size, `[height, width]`. */
  kernel: [number, number];
  /** Step between windows, `[height, width]`. */
  stride: [number, number];
  /** Implicit zero padding, `[top, left, bottom, right]`. */
  padding: [number, number, number, number];
  /** Round the output size up instead of down (torch `ceil_mode`); the last window still starts inside the input or its leading padding. */
  ceilMode: boolean;
  /** Whether padded zeros count in the divisor (ONNX `count_include_pad`, torch's default true). */
  countIncludePad: boolean;
}

/** Average over all spatial positions: `[C, H, W]` → `[C, 1, 1]`. */
export interface GlobalAvgPoolLayer {
  /** Always `'globalAvgPool'`. */
  type: 'globalAvgPool';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
}

/** Inference-mode batch normalisation `(x − mean) / √(var + eps) · weight + bias`, per channel (axis 1). */
export interface BatchNormLayer {
  /** Always `'batchNorm'`. */
  type: 'batchNorm';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Per-channel scale (torch's `weight`, γ), one value per channel. */
  weight: Tensor;
  /** Per-channel shift (torch's `bias`, β), one value per channel. */
  bias: Tensor;
  /** Per-channel mean subtracted from the input (torch's `running_mean`). */
  runningMean: Tensor;
  /** Per-channel variance the input is divided by (as `√(var + eps)`, torch's `running_var`). */
  runningVar: Tensor;
  /** Added to the variance before the square root. */
  eps: number;
}

/** Element-wise activation functions; all of them pass relevance through unchanged. */
export type ActivationType = 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'elu' | 'gelu';

/** An element-wise activation. `alpha` is the slope of leakyRelu (default 0.01) or the scale of elu (default 1). */
export interface ActivationLayer {
  /** Which activation function. */
  type: ActivationType;
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** leakyRelu: slope for negative inputs (default 0.01); elu: scale of the negative part (default 1); ignored otherwise. */
  alpha?: number;
  /** gelu only: `'none'` (erf, the default) or `'tanh'` (the approximation). */
  approximate?: 'none' | 'tanh';
}

/** Flattens each sample to one dimension (row-major), as torch's `nn.Flatten()` and `x.view(N, -1)`. */
export interface FlattenLayer {
  /** Always `'flatten'`. */
  type: 'flatten';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
}

/** Reshapes each sample (the batch axis is kept); one dimension may be -1. */
export interface ReshapeLayer {
  /** Always `'reshape'`. */
  type: 'reshape';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Per-sample shape, without the batch axis. */
  shape: number[];
}

/** Element-wise sum of two or more inputs of the same shape (a residual connection). */
export interface AddLayer {
  /** Always `'add'`. */
  type: 'add';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
}

/** Concatenation of inputs along `axis`. */
export interface ConcatLayer {
  /** Always `'concat'`. */
  type: 'concat';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Axis of the full tensor, counting the batch axis as 0 (as torch.cat and ONNX do); must be ≥ 1. */
  axis: number;
}

/** Constant zero padding of the last two (spatial) axes of an NCHW tensor. */
export interface PadLayer {
  /** Always `'pad'`. */
  type: 'pad';
  /** Node name, unique in a model; composites pick rules by it (unnamed layers get one from the builder). */
  name?: string;
  /** Zeros added to the spatial axes, `[top, left, bottom, right]`. */
  padding: [number, number, number, number];
}

/** Every layer lrp-node can explain. */
export type Layer =
  | DenseLayer | Conv2dLayer | MaxPool2dLayer | AvgPool2dLayer | GlobalAvgPoolLayer | BatchNormLayer
  | ActivationLayer | FlattenLayer | ReshapeLayer | AddLayer | ConcatLayer | PadLayer;

/** The `type` of every layer. */
export type LayerType = Layer['type'];

/** Layer types that carry weights and take the linear LRP rules (ε, z⁺, αβ, γ, …). */
export const LINEAR_LAYER_TYPES: readonly LayerType[] = ['dense', 'conv2d'];

function positiveInt(value: unknown, what: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new LrpError('E_ARGUMENT', `${what} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`);
  }
  return value;
}

/** Normalises a {@link Size2d} to `[height, width]`. */
export function size2d(value: Size2d | undefined, fallback: number, what: string, allowZero = false): [number, number] {
  const v = value ?? fallback;
  if (typeof v === 'number') return [positiveInt(v, what, allowZero), positiveInt(v, what, allowZero)];
  if (!Array.isArray(v) || v.length !== 2) throw new LrpError('E_ARGUMENT', `${what} must be a number or [height, width]`);
  return [positiveInt(v[0], what, allowZero), positiveInt(v[1], what, allowZero)];
}

/** Normalises a {@link Padding2d} to `[top, left, bottom, right]`. */
export function padding2d(value: Padding2d | undefined, what: string): [number, number, number, number] {
  const v = value ?? 0;
  if (typeof v === 'number') {
    const p = positiveInt(v, what, true);
    return [p, p, p, p];
  }
  if (Array.isArray(v) && v.length === 2) {
    const [h, w] = [positiveInt(v[0], what, true), positiveInt(v[1], what, true)];
    return [h, w, h, w];
  }
  if (Array.isArray(v) && v.length === 4) {
    return [positiveInt(v[0], what, true), positiveInt(v[1], what, true), positiveInt(v[2], what, true), positiveInt(v[3], what, true)];
  }
  throw new LrpError('E_ARGUMENT', `${what} must be a number, [vertical, horizontal] or [top, left, bottom, right]`);
}

function optionalBias(bias: TensorLike | null | undefined, what: string): Tensor | null {
  return bias === undefined || bias === null ? null : toTensor(bias, what, true);
}

/** Options of {@link dense}. */
export interface DenseOptions {
  /** `[outFeatures, inFeatures]` (torch layout). */
  weight: TensorLike;
  /** `[outFeatures]`; omit for no bias. */
  bias?: TensorLike | null;
  /** Node name, unique in the model; composites pick rules by it. Default: the position in a sequential model, else `<type>_<index>`. */
  name?: string;
}

/** A fully connected layer. Weights are copied. */
export function dense(options: DenseOptions): DenseLayer {
  const weight = toTensor(options.weight, 'dense weight', true);
  if (weight.shape.length !== 2) throw new LrpError('E_SHAPE', `dense weight must be [out, in], got [${weight.shape.join(', ')}]`);
  const bias = optionalBias(options.bias, 'dense bias');
  return { type: 'dense', name: options.name, weight, bias };
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** `[outChannels, inChannels / groups, kernelHeight, kernelWidth]` (torch layout). */
  weight: TensorLike;
  /** `[outChannels]`; omit for no bias. */
  bias?: TensorLike | null;
  /** Step between windows; default 1. */
  stride?: Size2d;
  /** Zero padding; default 0. */
  padding?: Padding2d;
  /** Spacing between kernel taps; default 1. */
  dilation?: Size2d;
  /** Channel groups; default 1. Input channels must equal `weight`'s second axis times `groups`. */
  groups?: number;
  /** Node name, unique in the model; composites pick rules by it. Default: the position in a sequential model, else `<type>_<index>`. */
  name?: string;
}

/** A 2-D convolution with zero padding (depthwise when `groups` equals the input channels). Weights are copied. */
export function conv2d(options: Conv2dOptions): Conv2dLayer {
  const weight = toTensor(options.weight, 'conv2d weight', true);
  if (weight.shape.length !== 4) throw new LrpError('E_SHAPE', `conv2d weight must be [out, in/groups, kh, kw], got [${weight.shape.join(', ')}]`);
  const groups = positiveInt(options.groups ?? 1, 'conv2d groups');
  if (weight.shape[0] % groups !== 0) {
    throw new LrpError('E_SHAPE', `conv2d: ${weight.shape[0]} output channels are not divisible by groups=${groups}`);
  }
  return {
    type: 'conv2d', name: options.name, weight, bias: optionalBias(options.bias, 'conv2d bias'),
    stride: size2d(options.stride, 1, 'conv2d stride'), padding: padding2d(options.padding, 'conv2d padding'),
    dilation: size2d(options.dilation, 1, 'conv2d dilation'), groups,
  };
}

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: Size2d;
  /** Defaults to the kernel size (as torch). */
  stride?: Size2d;
  /** Implicit padding (never wins the maximum); default 0. */
  padding?: Padding2d;
  /** Spacing between window taps; default 1. */
  dilation?: Size2d;
  /** Round the output size up instead of down (torch `ceil_mode`); default false. */
  ceilMode?: boolean;
  /** Node name, unique in the model; composites pick rules by it. Default: the position in a sequential model, else `<type>_<index>`. */
  name?: string;
}

/** 2-D max pooling. Relevance goes to the first maximum of each window (zennit's plain gradient). */
export function maxPool2d(options: MaxPool2dOptions): MaxPool2dLayer {
  const kernel = size2d(options.kernel, 1, 'maxPool2d kernel');
  return {
    type: 'maxPool2d', name: options.name, kernel, stride: size2d(options.stride ?? kernel, 1, 'maxPool2d stride'),
    padding: padding2d(options.padding, 'maxPool2d padding'), dilation: size2d(options.dilation, 1, 'maxPool2d dilation'),
    ceilMode: options.ceilMode ?? false,
  };
}

/** Options of {@link avgPool2d}. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernel: Size2d;
  /** Defaults to the kernel size (as torch). */
  stride?: Size2d;
  /** Implicit zero padding; default 0. */
  padding?: Padding2d;
  /** Round the output size up instead of down (torch `ceil_mode`); default false. */
  ceilMode?: boolean;
  /** Default true (torch's default). */
  countIncludePad?: boolean;
  /** Node name, unique in the model; composites pick rules by it. Default: the position in a sequential model, else `<type>_<index>`. */
  name?: string;
}

/** 2-D average pooling (explained with the Norm rule by default). */
export function avgPool2d(options: AvgPool2dOptions): AvgPool2dLayer {
  const kernel = size2d(options.kernel, 1, 'avgPool2d kernel');
  return {
    type: 'avgPool2d', name: options.name, kernel, stride: size2d(options.stride ?? kernel, 1, 'avgPool2d stride'),
    padding: padding2d(options.padding, 'avgPool2d padding'), ceilMode: options.ceilMode ?? false,
    countIncludePad: options.countIncludePad ?? true,
  };
}

/** Global average pooling over H and W. */
export function globalAvgPool(options: { name?: string } = {}): GlobalAvgPoolLayer {
  return { type: 'globalAvgPool', name: options.name };
}

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Per-channel scale (torch's `weight`, γ); its length sets the channel count. */
  weight: TensorLike;
  /** Per-channel shift (torch's `bias`, β). */
  bias: TensorLike;
  /** Per-channel mean (torch's `running_mean`). */
  runningMean: TensorLike;
  /** Per-channel variance (torch's `running_var`). */
  runningVar: TensorLike;
  /** Default 1e-5 (torch). */
  eps?: number;
  /** Node name, unique in the model; composites pick rules by it. Default: the position in a sequential model, else `<type>_<index>`. */
  name?: string;
}

/**
 * Inference-mode batch normalisation. When it directly follows a dense or conv2d layer whose output nothing else
 * uses, it is merged exactly into that layer (as zennit's canonizer does); otherwise it stays an affine layer with
 * the pass rule.
 */
export function batchNorm(options: BatchNormOptions): BatchNormLayer {
  const weight = toTensor(options.weight, 'batchNorm weight', true);
  const channels = weight.data.length;
  const get = (v: TensorLike, what: string): Tensor => {
    const t = toTensor(v, what, true);
    if (t.data.length !== channels) throw new LrpError('E_SHAPE', `${what} has ${t.data.length} values, expected ${channels}`);
    return t;
  };
  const eps = options.eps ?? 1e-5;
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new LrpError('E_ARGUMENT', `batchNorm eps must be a finite number ≥ 0, got ${eps}`);
  return {
    type: 'batchNorm', name: options.name, weight, bias: get(options.bias, 'batchNorm bias'),
    runningMean: get(options.runningMean, 'batchNorm runningMean'), runningVar: get(options.runningVar, 'batchNorm runningVar'), eps,
  };
}

/** ReLU. */
export function relu(options: { name?: string } = {}): ActivationLayer {
  return { type: 'relu', name: options.name };
}
/** Leaky ReLU with slope `alpha` (default 0.01) for negative inputs. */
export function leakyRelu(options: { alpha?: number; name?: string } = {}): ActivationLayer {
  return { type: 'leakyRelu', name: options.name, alpha: options.alpha ?? 0.01 };
}
/** tanh. */
export function tanh(options: { name?: string } = {}): ActivationLayer {
  return { type: 'tanh', name: options.name };
}
/** Logistic sigmoid. */
export function sigmoid(options: { name?: string } = {}): ActivationLayer {
  return { type: 'sigmoid', name: options.name };
}
/** ELU with scale `alpha` (default 1). */
export function elu(options: { alpha?: number; name?: string } = {}): ActivationLayer {
  return { type: 'elu', name: options.name, alpha: options.alpha ?? 1 };
}
/** GELU (exact erf form, or the tanh approximation). */
export function gelu(options: { approximate?: 'none' | 'tanh'; name?: string } = {}): ActivationLayer {
  return { type: 'gelu', name: options.name, approximate: options.approximate ?? 'none' };
}
/** Flattens each sample to one dimension. */
export function flatten(options: { name?: string } = {}): FlattenLayer {
  return { type: 'flatten', name: options.name };
}
/** Reshapes each sample to `shape` (without the batch axis; one entry may be -1). */
export function reshape(options: { shape: number[]; name?: string }): ReshapeLayer {
  if (!Array.isArray(options.shape)) throw new LrpError('E_ARGUMENT', 'reshape shape must be an array of integers');
  return { type: 'reshape', name: options.name, shape: [...options.shape] };
}
/** Element-wise sum of its inputs (residual connection), explained with the Norm rule by default. */
export function add(options: { name?: string } = {}): AddLayer {
  return { type: 'add', name: options.name };
}
/** Concatenation along `axis` (counting the batch axis as 0; default 1, the channels). */
export function concat(options: { axis?: number; name?: string } = {}): ConcatLayer {
  const axis = options.axis ?? 1;
  if (!Number.isSafeInteger(axis) || axis < 1) throw new LrpError('E_ARGUMENT', `concat axis must be an integer ≥ 1 (0 is the batch axis), got ${axis}`);
  return { type: 'concat', name: options.name, axis };
}
/** Zero padding of the two spatial axes. */
export function pad(options: { padding: Padding2d; name?: string }): PadLayer {
  return { type: 'pad', name: options.name, padding: padding2d(options.padding, 'pad padding') };
}
