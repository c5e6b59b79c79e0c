import type { Node } from '../ir/graph.js';

/**
 * Shape arithmetic that depends only on the shapes of the feeds (Shape → Gather → Unsqueeze →
 * Concat → Reshape chains: most of the nodes of some exported models) is computed on the first
 * run and reused while the feeds keep their shapes. To be sound this needs to know, for each op,
 * whether its output shapes follow from its input shapes alone, and which inputs' values matter
 * too: those ops are listed here (with the plan's fused steps: MatMul+Add, Conv+Relu, LayerNorm
 * chain); any other op (NonZero, Unique, control flow, unknown domains) ends the chain.
 */
const SHAPE_FROM_SHAPES = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool',
  'BatchNormalization', 'BitShift', 'Cast', 'CastLike', 'Ceil', 'Celu', 'Clip', 'Concat', 'Conv', 'Conv+Relu', 'ConvInteger',
  'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'DequantizeLinear', 'Div', 'Dropout', 'Einsum', 'Elu',
  'Equal', 'Erf', 'Exp', 'Flatten', 'Floor', 'GRU', 'LSTM', 'RNN', 'Gather', 'GatherElements', 'GatherND', 'Gemm',
  'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'GreaterOrEqual', 'HardSigmoid', 'HardSwish', 'Hardmax',
  'Identity', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LRN', 'LayerNorm chain', 'LayerNormalization', 'LeakyRelu', 'Less',
  'LessOrEqual', 'Log', 'LogSoftmax', 'MatMul', 'MatMul+Add', 'MatMulInteger', 'Max', 'MaxPool', 'Mean',
  'MeanVarianceNormalization', 'Min', 'Mod', 'Mul', 'Neg', 'Not', 'Or', 'PRelu', 'Pow', 'QLinearConv',
  'QLinearMatMul', 'QuantizeLinear', 'Reciprocal', 'Relu', 'ReverseSequence', 'Round', 'Scatter',
  'ScatterElements', 'ScatterND', 'Selu', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Size', 'Softmax',
  'Softplus', 'Softsign', 'SpaceToDepth', 'Sqrt', 'Sub', 'Sum', 'Tan', 'Tanh', 'ThresholdedRelu', 'Transpose',
  'Trilu', 'Where', 'Xor',
]);

/** Ops whose output shapes also follow from the values of these inputs. */
const SHAPE_FROM_VALUES: Readonly<Record<string, readonly number[]>> = {
  Reshape: [1], Expand: [1], Tile: [1], Slice: [1, 2, 3, 4], Pad: [1, 2, 3], Resize: [1, 2, 3], Upsample: [1],
  ConstantOfShape: [0], Range: [0, 1, 2], OneHot: [1], TopK: [1], Squeeze: [1], Unsqueeze: [1], Split: [1],
  ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceMin: [1], ReduceProd: [1], ReduceL1: [1], ReduceL2: [1],
  ReduceLogSum: [1], ReduceLogSumExp: [1], ReduceSumSquare: [1], DFT: [1, 2], MaxUnpool: [2],
};

/**
 * For each node (in execution order): whether its outputs are a function of the feeds' shapes
 * only (plus constants), so they can be cached by feed shapes. `constants` are known values,
 * `feeds` the graph inputs (tensors).
 */
export function shapeOnlyNodes(nodes: readonly Node[], constants: ReadonlySet<string>, feeds: ReadonlySet<string>, deterministic: (n: Node) => boolean): boolean[] {
  // stable: the value's shape follows from the feeds' shapes; known: its value does too.
  const stable = new Set<string>([...constants, ...feeds]);
  const known = new Set<string>(constants);
  return analyse(nodes, stable, known, constants, deterministic);
}

function analyse(nodes: readonly Node[], stable: Set<string>, known: Set<string>, constants: ReadonlySet<string>, deterministic: (n: Node) => boolean): boolean[] {
  return nodes.map((n) => {
    if (n.opType === 'If' && n.domain === '') {
      // PyTorch's squeeze(dim) exports as If(Equal(Shape(x)[dim], 1), Squeeze, Identity): with a
      // condition known from the feeds' shapes the branch taken is too, and when both branches'
      // outputs have shapes that follow from the shapes they read, so do the If's.
      if (n.inputs[0] && known.has(n.inputs[0]) && ['then_branch', 'else_branch'].every((b) => branchStable(n, b, stable, known, deterministic))) {
        for (const o of n.outputs) if (o) stable.add(o);
      }
      return false;
    }
    if (n.opType === 'Constant' && n.domain === '' && n.inputs.length === 0) {
      for (const o of n.outputs) if (o) { known.add(o); stable.add(o); }
      return false;
    }
    const ins = n.inputs.filter((i) => i);
    const rnnx = n.domain === 'ai.rnnx';
    const plain = n.domain === '' && (SHAPE_FROM_SHAPES.has(n.opType) || n.opType in SHAPE_FROM_VALUES);
    if (!deterministic(n) || !(plain || rnnx)) return false;
    if (ins.every((i) => known.has(i)) && ins.some((i) => !constants.has(i))) {
      for (const o of n.outputs) if (o) { known.add(o); stable.add(o); }
      return true;
    }
    if ((n.opType === 'Shape' || n.opType === 'Size') && n.domain === '' && stable.has(n.inputs[0])) {
      for (const o of n.outputs) if (o) { known.add(o); stable.add(o); }
      return true;
    }
    const valueInputs = rnnx ? [] : SHAPE_FROM_VALUES[n.opType] ?? [];
    if (ins.every((i) => stable.has(i)) && valueInputs.every((k) => !n.inputs[k] || known.has(n.inputs[k]))) {
      for (const o of n.outputs) if (o) stable.add(o);
    }
    return false;
  });
}

/** Whether the outputs of If branch `name` have shapes that follow from the shapes (and known values) of what it reads. */
function branchStable(n: Node, name: string, stable: ReadonlySet<string>, known: ReadonlySet<string>, deterministic: (n: Node) => boolean): boolean {
  const a = n.attributes.get(name);
  if (!a || a.type !== 'graph') return false;
  const g = a.value;
  const inits = new Set(g.initializers.keys());
  const s = new Set([...stable, ...inits]), k = new Set([...known, ...inits]);
  analyse(g.nodes, s, k, inits, deterministic);
  return g.outputs.every((o) => s.has(o.name));
}
