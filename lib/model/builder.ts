// The sequential builder and the graph builder entry points.
import { GraphBuilder, type NodeRef } from './graph';
import type { Layer } from './layers';
import { Model, type ModelOptions } from './model';

/** Options of {@link sequential}. */
export interface SequentialOptions extends ModelOptions {
  /** Per-sample input shape, e.g. `[1, 28, 28]` for MNIST or `[20]` for 20 features. */
  inputShape: number[];
}

/**
 * A model that applies `layers` in order. Unnamed layers are named by their position (`'0'`, `'1'`, …), as torch's
 * `nn.Sequential` names its modules, so composites can pick them by name.
 */
export function sequential(options: SequentialOptions, layers: Layer[]): Model {
  const builder = new GraphBuilder(options.inputShape);
  let x: NodeRef = builder.input;
  layers.forEach((layer, i) => {
    x = builder.add(layer, x, layer?.name ?? String(i));
  });
  return new Model(builder.build(x), options);
}

/**
 * Starts a graph model (residual blocks, concatenations):
 * ```ts
 * const g = graph({ inputShape: [3, 8, 8] });
 * const a = g.add(conv2d({ weight, padding: 1 }), g.input);
 * const y = g.add(add(), [a, g.input]);
 * const model = g.build(y);
 * ```
 */
export function graph(options: SequentialOptions): ModelGraphBuilder {
  return new ModelGraphBuilder(options);
}

/** A {@link GraphBuilder} whose `build` returns a {@link Model}. */
export class ModelGraphBuilder {
  private readonly builder: GraphBuilder;
  private readonly options: SequentialOptions;
  /** The model input. */
  readonly input: NodeRef;

  constructor(options: SequentialOptions) {
    this.options = options;
    this.builder = new GraphBuilder(options.inputShape);
    this.input = this.builder.input;
  }

  /** Adds `layer` reading `inputs`; returns its output. */
  add(layer: Layer, inputs: NodeRef | readonly NodeRef[], name?: string): NodeRef {
    return this.builder.add(layer, inputs, name);
  }

  /** Builds the model whose output is `output`. */
  build(output: NodeRef): Model {
    return new Model(this.builder.build(output), this.options);
  }
}
