// The public exports of lrp-node, nothing else.
export { LrpError, isLrpError, LRP_ERROR_CODES, type LrpErrorCode } from './errors';
export { type Tensor, type TensorLike, type NumericArray, type NestedNumbers, tensor } from './model/tensor';
export {
  dense, conv2d, maxPool2d, avgPool2d, globalAvgPool, batchNorm, relu, leakyRelu, tanh, sigmoid, elu, gelu,
  flatten, reshape, add, concat, pad,
  type Layer, type LayerType, type ActivationType, type Padding2d, type Size2d,
  type DenseLayer, type Conv2dLayer, type MaxPool2dLayer, type AvgPool2dLayer, type GlobalAvgPoolLayer,
  type BatchNormLayer, type ActivationLayer, type FlattenLayer, type ReshapeLayer, type AddLayer, type ConcatLayer,
  type PadLayer, type DenseOptions, type Conv2dOptions, type MaxPool2dOptions, type AvgPool2dOptions, type BatchNormOptions,
} from './model/layers';
export { GraphBuilder, type Graph, type GraphNode, type NodeRef } from './model/graph';
export { sequential, graph, ModelGraphBuilder, type SequentialOptions } from './model/builder';
export {
  Model, type ModelOptions, type ModelInput, type Target, type ExplainOptions, type ExplainResult, type LayerReport,
  type ConservationReport, type LayerInfo, type LayerRuleInfo,
} from './model/model';
export {
  rules, describeRule, type Rule, type RuleName, type BiasOptions, type StabilizerOptions, type Lrp0Rule, type EpsilonRule,
  type ZPlusRule, type AlphaBetaRule, type GammaRule, type FlatRule, type WSquareRule, type ZBoxRule, type PassRule,
  type NormRule, type GradientRule,
} from './rules/rules';
export {
  composites, composite, compositeByName, COMPOSITE_NAMES, type Composite, type CompositeOptions, type CompositeParams,
  type FirstLayerType,
} from './rules/composites';
export { RULES_BY_LAYER_TYPE } from './rules/assign';
export { backendInfo, type BackendInfo, type Device } from './native';
export { defaultMemoryBudget, type MemoryEstimate } from './model/model';
export { checkConservation, type ConservationOptions, type ConservationCheck } from './conservation';
export {
  loadOnnx, loadOnnxGraph, inspectOnnx, SUPPORTED_OPS, DEFAULT_MAX_TENSOR_ELEMENTS,
  type LoadOnnxOptions, type OnnxSummary, type OnnxValueSummary, type UnsupportedNode, type DroppedNode,
} from './onnx/index';
export { readNpy, parseNpy, writeNpy, encodeNpy, type NpyArray, type NpyDtype, type NpyData, type NpyWritable } from './io/npy';
export {
  renderHeatmap, renderHeatmapRgba,
  type RelevanceMap, type HeatmapOptions, type HeatmapOverlay, type HeatmapNormalization, type RgbaImage,
} from './io/heatmap';
export {
  COLORMAPS, COLORMAP_NAMES, colormapStops, colorAt,
  type Colormap, type ColormapName, type ColorStop, type Rgb,
} from './io/colormaps';
export {
  loadImage, decodeImage, imageToTensor, resizeImage, resizeBilinear, IMAGENET_MEAN, IMAGENET_STD,
  type Image, type ImageLike, type LoadImageOptions, type ImageToTensorOptions, type ImageTensor,
} from './io/image';
export { readCsv, parseCsv, type CsvOptions, type CsvTable } from './io/csv';
export {
  rankFeatures, formatFeatureReport,
  type RankFeaturesOptions, type RankedFeature, type FeatureRanking, type FeatureReportOptions,
} from './io/features';
