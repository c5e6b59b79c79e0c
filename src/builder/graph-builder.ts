import { RnnxError } from '../ir/errors.js';
import { validateGraph, type Attribute, type Dim, type Model, type Node, type ValueInfo } from '../ir/graph.js';
import { Tensor, type DataType } from '../ir/tensor.js';
import { toAttribute, type AttrValue } from '../export/onnx.js';
import { ExecutionPlan } from '../runtime/session.js';
import { RNNX_DOMAIN } from '../ops/registry.js';

/** A value in a graph under construction. */
export interface Value {
  readonly name: string;
}

export interface BuilderOptions {
  /** ai.onnx opset of the graph (default 14). */
  readonly opset?: number;
  readonly name?: string;
}

/**
 * Builds the same IR the importer makes: inputs with symbolic dims, constants, any registered op
 * (typed helpers for the common ones, `op` for the rest), outputs. `build()` validates the graph
 * exactly as an imported one is validated (graph checks plus every op's attribute parsing).
 */
export class GraphBuilder {
  readonly opset: number;
  private readonly nodes: Node[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private usesRnnx = false;
  private counter = 0;

  constructor(private readonly options: BuilderOptions = {}) {
    this.opset = options.opset ?? 14;
  }

  /** A fresh value name (`base`, `base_1`, …). */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  input(name: string, type: DataType, shape: readonly Dim[]): Value {
    if (this.names.has(name)) throw new RnnxError(`GraphBuilder: name '${name}' is already used`);
    this.names.add(name);
    this.inputs.push({ name, type, shape: [...shape] });
    return { name };
  }

  /** A constant (initializer); PyTorch-style names like `lstm.weight_ih_l0` are kept as given. */
  constant(name: string, t: Tensor): Value {
    const n = this.fresh(name);
    this.initializers.set(n, t);
    return { name: n };
  }

  /** Any op: `outputs` values are created (names derived from the op type unless given). */
  op(opType: string, inputs: readonly (Value | null | undefined)[], attrs: Record<string, AttrValue | Attribute> = {}, options: { outputs?: number | string[]; domain?: string; name?: string } = {}): Value[] {
    const domain = options.domain ?? '';
    if (domain === RNNX_DOMAIN) this.usesRnnx = true;
    const outs = typeof options.outputs === 'object' ? options.outputs.map((o) => this.fresh(o)) : Array.from({ length: options.outputs ?? 1 }, () => this.fresh(`${opType.toLowerCase()}_out`));
    const attributes = new Map<string, Attribute>(Object.entries(attrs).map(([k, a]) => [k, isAttribute(a) ? a : toAttribute(a)]));
    this.nodes.push({
      name: options.name ?? `${opType}_${this.counter++}`, opType, domain,
      inputs: inputs.map((i) => i?.name ?? ''), outputs: outs, attributes,
    });
    return outs.map((name) => ({ name }));
  }

  /** One-output shorthand for `op`. */
  op1(opType: string, inputs: readonly (Value | null | undefined)[], attrs: Record<string, AttrValue | Attribute> = {}): Value {
    return this.op(opType, inputs, attrs)[0];
  }

  /**
   * Marks `v` as a graph output, renamed to `name` when given (the producing node's output is
   * renamed, so no Identity is added; graph inputs and constants get an Identity).
   */
  /** A graph input holding a sequence of `type` tensors (fed to runValues as a Tensor[]). */
  sequenceInput(name: string, type: DataType): Value {
    if (this.names.has(name)) throw new RnnxError(`GraphBuilder: name '${name}' is already used`);
    this.names.add(name);
    this.inputs.push({ name, kind: 'sequence', type });
    return { name };
  }

  /** Marks a sequence-valued result as a graph output (read it with runValues). */
  sequenceOutput(v: Value, name?: string, type?: DataType): Value {
    const out = this.output(v, name, type);
    const i = this.outputs.findIndex((o) => o.name === out.name);
    this.outputs[i] = { name: out.name, kind: 'sequence', type };
    return out;
  }

  output(v: Value, name?: string, type?: DataType, shape?: readonly Dim[]): Value {
    let n = v.name;
    if (name && name !== v.name) {
      if (this.names.has(name)) throw new RnnxError(`GraphBuilder: name '${name}' is already used`);
      const producer = this.nodes.findIndex((nd) => nd.outputs.includes(v.name));
      if (producer < 0 || this.outputs.some((o) => o.name === v.name)) {
        n = this.op('Identity', [v], {}, { outputs: [name] })[0].name;
      } else {
        this.names.add(name);
        const swap = (x: string) => (x === v.name ? name : x);
        for (let i = 0; i < this.nodes.length; i++) {
          const nd = this.nodes[i];
          this.nodes[i] = { ...nd, inputs: nd.inputs.map(swap), outputs: nd.outputs.map(swap) };
        }
        n = name;
      }
    }
    this.outputs.push({ name: n, type, shape: shape ? [...shape] : undefined });
    return { name: n };
  }

  // Typed helpers for the common ops.
  add(a: Value, b: Value): Value { return this.op1('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.op1('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.op1('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.op1('Div', [a, b]); }
  matmul(a: Value, b: Value): Value { return this.op1('MatMul', [a, b]); }
  gemm(a: Value, b: Value, c?: Value, attrs: { alpha?: number; beta?: number; transA?: number; transB?: number } = {}): Value {
    const at: Record<string, AttrValue> = {};
    if (attrs.alpha !== undefined) at.alpha = { f: attrs.alpha };
    if (attrs.beta !== undefined) at.beta = { f: attrs.beta };
    if (attrs.transA !== undefined) at.transA = attrs.transA;
    if (attrs.transB !== undefined) at.transB = attrs.transB;
    return this.op1('Gemm', [a, b, c], at);
  }
  relu(x: Value): Value { return this.op1('Relu', [x]); }
  sigmoid(x: Value): Value { return this.op1('Sigmoid', [x]); }
  tanh(x: Value): Value { return this.op1('Tanh', [x]); }
  softmax(x: Value, axis = -1): Value { return this.op1('Softmax', [x], { axis }); }
  logSoftmax(x: Value, axis = -1): Value { return this.op1('LogSoftmax', [x], { axis }); }
  transpose(x: Value, perm: number[]): Value { return this.op1('Transpose', [x], { perm }); }
  reshape(x: Value, shape: number[]): Value { return this.op1('Reshape', [x, this.constant('shape', new Tensor('int64', shape.map(BigInt), [shape.length]))]); }
  gather(x: Value, indices: Value, axis = 0): Value { return this.op1('Gather', [x, indices], { axis }); }
  argmax(x: Value, axis = -1, keepdims = 0): Value { return this.op1('ArgMax', [x], { axis, keepdims }); }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.opset >= 13 ? this.op1('Unsqueeze', [x, this.constant('axes', new Tensor('int64', axes.map(BigInt), [axes.length]))]) : this.op1('Unsqueeze', [x], { axes });
  }
  squeeze(x: Value, axes: number[]): Value {
    return this.opset >= 13 ? this.op1('Squeeze', [x, this.constant('axes', new Tensor('int64', axes.map(BigInt), [axes.length]))]) : this.op1('Squeeze', [x], { axes });
  }
  concat(xs: Value[], axis: number): Value { return this.op1('Concat', xs, { axis }); }

  /** The model, validated like an imported one. */
  build(): Model {
    const opsets = new Map<string, number>([['', this.opset]]);
    if (this.usesRnnx) opsets.set(RNNX_DOMAIN, 1);
    const model: Model = {
      irVersion: 8, producerName: 'rnnx', producerVersion: '0.1.0', opsets,
      graph: {
        name: this.options.name ?? 'rnnx_graph', nodes: [...this.nodes], inputs: [...this.inputs], outputs: [...this.outputs],
        initializers: new Map(this.initializers), valueInfo: new Map(),
      },
    };
    validateGraph(model.graph);
    new ExecutionPlan(model); // every op resolved, every attribute parsed and checked
    return model;
  }
}

function isAttribute(a: AttrValue | Attribute): a is Attribute {
  return typeof a === 'object' && a !== null && !(a instanceof Tensor) && !Array.isArray(a) && 'type' in a && 'value' in a;
}
