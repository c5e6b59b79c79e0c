import { RnnxError, nodeError } from '../ir/errors.js';
import type { Attribute, Graph, Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { deadCodeElimination } from '../import/fuse.js';
import { GATES, paramsToOnnx, type DirectionParams, type FloatArray, type RecMode, type RecurrentLayer } from '../ops/rec/layer.js';
import { foldProjection, pinvRows } from '../ops/rec/projection.js';
import { RNNX_DOMAIN } from '../ops/registry.js';

/**
 * Rewrites each ai.rnnx stack node into the standard ONNX nodes PyTorch would write for the
 * module: Transpose for batch_first, one LSTM/GRU/RNN node per layer (gates reordered to iofc /
 * zrh), Slice of h0/c0 per layer, Squeeze or Transpose+Reshape between layers, Concat of h_n/c_n.
 * LSTM with projection becomes an LSTM whose R is W_hh·W_hr, a MatMul by W_hrᵀ on Y and Y_h, and
 * a MatMul by pinv(W_hr)ᵀ on a given h0 (DESIGN.md).
 */
export function lowerStacks(model: Model, opset: number): Model {
  const g = model.graph;
  if (!g.nodes.some((n) => n.domain === RNNX_DOMAIN)) return model;
  const inits = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (n.domain !== RNNX_DOMAIN) nodes.push(n);
    else if (n.opType === 'LSTMCell' || n.opType === 'GRUCell' || n.opType === 'RNNCell') nodes.push(...lowerCell(n, g, inits, opset));
    else nodes.push(...lowerStack(n, g, inits, opset));
  }
  const opsets = new Map(model.opsets);
  opsets.delete(RNNX_DOMAIN);
  return { ...model, opsets, graph: deadCodeElimination({ ...g, nodes, initializers: inits }) };
}

const int = (value: number): Attribute => ({ type: 'int', value });
const ints = (value: number[]): Attribute => ({ type: 'ints', value });

function lowerStack(stack: Node, g: Graph, inits: Map<string, Tensor>, opset: number): Node[] {
  const mode = stack.opType as RecMode;
  const attr = (k: string, d: number) => (stack.attributes.get(k)?.value as number | undefined) ?? d;
  const L = attr('num_layers', 1), H = attr('hidden_size', 0), P = attr('proj_size', 0);
  const D = attr('bidirectional', 0) ? 2 : 1;
  const bias = attr('bias', 1) !== 0, batchFirst = attr('batch_first', 0) !== 0;
  const relu = stack.attributes.get('nonlinearity')?.value === 'relu';
  const G = GATES[mode];
  const base = stack.name || mode.toLowerCase();
  const out: Node[] = [];
  let counter = 0;
  const v = (what: string) => `${base}/${what}_${counter++}`;
  const add = (opType: string, inputs: string[], outputs: string[], attrs: [string, Attribute][] = []) => {
    out.push({ name: `${base}/${opType}_${counter++}`, opType, domain: '', inputs, outputs, attributes: new Map(attrs) });
    return outputs[0];
  };
  const constant = (name: string, t: Tensor) => {
    const key = `${base}.${name}`;
    inits.set(key, t);
    return key;
  };
  const i64 = (vals: number[]) => new Tensor('int64', vals.map(BigInt), [vals.length]);
  const squeeze = (x: string, axis: number) =>
    opset >= 13 ? add('Squeeze', [x, constant(`axes_${counter++}`, i64([axis]))], [v('squeeze')]) : add('Squeeze', [x], [v('squeeze')], [['axes', ints([axis])]]);
  const slice = (x: string, start: number, end: number) =>
    opset >= 10
      ? add('Slice', [x, constant(`starts_${counter++}`, i64([start])), constant(`ends_${counter++}`, i64([end])), constant(`axes_${counter++}`, i64([0]))], [v('slice')])
      : add('Slice', [x], [v('slice')], [['starts', ints([start])], ['ends', ints([end])], ['axes', ints([0])]]);

  const params = stack.inputs.slice(3).map((name) => {
    const t = inits.get(name) ?? g.initializers.get(name);
    if (!t) throw nodeError(stack, `parameter '${name}' is not an initializer`);
    return t;
  });
  const [x, h0, c0] = stack.inputs;
  const [yOut, hnOut, cnOut] = stack.outputs;
  let xk = batchFirst ? add('Transpose', [x], [v('x_tm')], [['perm', ints([1, 0, 2])]]) : x;
  const hs: string[] = [], cs: string[] = [];
  let pi = 0;
  for (let k = 0; k < L; k++) {
    const dirs: DirectionParams[] = [];
    const whr: FloatArray[] = [];
    for (let d = 0; d < D; d++) {
      const weightIh = params[pi++].data as FloatArray;
      let weightHh = params[pi++].data as FloatArray;
      const zeros = () => new (weightIh.constructor as new (m: number) => FloatArray)(G * H);
      const biasIh = bias ? (params[pi++].data as FloatArray) : zeros();
      const biasHh = bias ? (params[pi++].data as FloatArray) : zeros();
      if (P) {
        const w = params[pi++].data as FloatArray;
        whr.push(w);
        const folded = foldProjection(weightHh, w, G * H, P, H);
        weightHh = weightIh instanceof Float32Array ? Float32Array.from(folded) : folded;
      }
      dirs.push({ weightIh, weightHh, biasIh, biasHh });
    }
    const dtype = params[0].type as 'float32' | 'float64';
    const I = dirs[0].weightIh.length / (G * H);
    const layer: RecurrentLayer = {
      mode, dtype, inputSize: I, hiddenSize: H, direction: D === 2 ? 'bidirectional' : 'forward', layout: 0, params: dirs,
      activations: [], inputForget: false, linearBeforeReset: true, hasBias: bias,
    };
    const onnxW = paramsToOnnx(layer);
    const W = constant(`W_l${k}`, onnxW.W), R = constant(`R_l${k}`, onnxW.R);
    const B = bias ? constant(`B_l${k}`, onnxW.B) : '';
    const asT = (a: ArrayLike<number>, dims: number[]) => new Tensor(dtype, dtype === 'float32' ? Float32Array.from(a) : Float64Array.from(a), dims);
    // Projection constants: W_hrᵀ stacked [D, H, P]; pinv(W_hr)ᵀ stacked [D, P, H].
    let projT = '', pinvT = '';
    if (P) {
      const a = new Float64Array(D * H * P), b = new Float64Array(D * P * H);
      whr.forEach((w, d) => {
        for (let p = 0; p < P; p++) for (let h = 0; h < H; h++) a[d * H * P + h * P + p] = w[p * H + h];
        const pinv = pinvRows(w, P, H); // [H, P]
        for (let h = 0; h < H; h++) for (let p = 0; p < P; p++) b[d * P * H + p * H + h] = pinv[h * P + p];
      });
      projT = constant(`W_hr_T_l${k}`, asT(a, [D, H, P]));
      pinvT = constant(`W_hr_pinv_T_l${k}`, asT(b, [D, P, H]));
    }
    let ih = h0 ? slice(h0, k * D, (k + 1) * D) : '';
    if (ih && P) ih = add('MatMul', [ih, pinvT], [v('h0_unproj')]);
    const ic = mode === 'LSTM' && c0 ? slice(c0, k * D, (k + 1) * D) : '';
    const attrs: [string, Attribute][] = [['hidden_size', int(H)]];
    if (D === 2) attrs.push(['direction', { type: 'string', value: 'bidirectional' }]);
    if (mode === 'GRU') attrs.push(['linear_before_reset', int(1)]);
    if (mode === 'RNN' && relu) attrs.push(['activations', { type: 'strings', value: Array(D).fill('Relu') }]);
    const Y = v('Y'), Yh = v('Y_h'), Yc = mode === 'LSTM' ? v('Y_c') : '';
    const inputs = [xk, W, R, B, '', ih, ...(mode === 'LSTM' ? [ic] : [])];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    add(mode, inputs, mode === 'LSTM' ? [Y, Yh, Yc] : [Y, Yh], attrs);
    const y = P ? add('MatMul', [Y, projT], [v('Y_proj')]) : Y;
    hs.push(P ? add('MatMul', [Yh, projT], [v('Y_h_proj')]) : Yh);
    cs.push(Yc);
    if (D === 1) xk = squeeze(y, 1);
    else {
      const t = add('Transpose', [y], [v('Y_t')], [['perm', ints([0, 2, 1, 3])]]);
      xk = add('Reshape', [t, constant(`shape_${counter++}`, i64([0, 0, -1]))], [v('Y_cat')]);
    }
  }
  const rename = (from: string, to: string) => {
    if (!to) return;
    const producer = out.find((n) => n.outputs.includes(from));
    if (!producer) throw new RnnxError(`lowering ${stack.name}: lost value ${from}`);
    const i = producer.outputs.indexOf(from);
    out[out.indexOf(producer)] = { ...producer, outputs: producer.outputs.map((o, j) => (j === i ? to : o)) };
  };
  if (yOut) {
    if (batchFirst) add('Transpose', [xk], [yOut], [['perm', ints([1, 0, 2])]]);
    else rename(xk, yOut);
  }
  for (const [vals, name] of [[hs, hnOut], [cs, cnOut]] as const) {
    if (!name) continue;
    if (L === 1) rename(vals[0], name);
    else add('Concat', [...vals], [name], [['axis', int(0)]]);
  }
  return out;
}

/**
 * An ai.rnnx LSTMCell/GRUCell as one ONNX LSTM/GRU step: Unsqueeze x, h, c to [1, N, ·], the
 * recurrent node (gates reordered), Squeeze(0) of Y_h (and Y_c).
 */
function lowerCell(cell: Node, g: Graph, inits: Map<string, Tensor>, opset: number): Node[] {
  const mode = cell.opType === 'LSTMCell' ? 'LSTM' : cell.opType === 'GRUCell' ? 'GRU' : 'RNN';
  const H = (cell.attributes.get('hidden_size')?.value as number | undefined) ?? 0;
  const bias = ((cell.attributes.get('bias')?.value as number | undefined) ?? 1) !== 0;
  const G = GATES[mode];
  const base = cell.name || mode.toLowerCase();
  const out: Node[] = [];
  let counter = 0;
  const add = (opType: string, inputs: string[], outputs: string[], attrs: [string, Attribute][] = []) => {
    out.push({ name: `${base}/${opType}_${counter++}`, opType, domain: '', inputs, outputs, attributes: new Map(attrs) });
    return outputs[0];
  };
  const constant = (name: string, t: Tensor) => { inits.set(`${base}.${name}`, t); return `${base}.${name}`; };
  const axes0 = () => constant(`axes_${counter++}`, new Tensor('int64', [0n], [1]));
  const unsqueeze = (x: string) =>
    opset >= 13 ? add('Unsqueeze', [x, axes0()], [`${base}/unsqueeze_${counter++}`]) : add('Unsqueeze', [x], [`${base}/unsqueeze_${counter++}`], [['axes', ints([0])]]);
  const squeeze = (x: string, to: string) =>
    opset >= 13 ? add('Squeeze', [x, axes0()], [to]) : add('Squeeze', [x], [to], [['axes', ints([0])]]);
  const params = cell.inputs.slice(3).map((name) => {
    const t = inits.get(name) ?? g.initializers.get(name);
    if (!t) throw nodeError(cell, `parameter '${name}' is not an initializer`);
    return t;
  });
  const [weightIh, weightHh] = params.map((t) => t.data as FloatArray);
  const zeros = () => new (weightIh.constructor as new (m: number) => FloatArray)(G * H);
  const dtype = params[0].type as 'float32' | 'float64';
  const layer: RecurrentLayer = {
    mode, dtype, inputSize: weightIh.length / (G * H), hiddenSize: H, direction: 'forward', layout: 0,
    params: [{ weightIh, weightHh, biasIh: bias ? (params[2].data as FloatArray) : zeros(), biasHh: bias ? (params[3].data as FloatArray) : zeros() }],
    activations: [], inputForget: false, linearBeforeReset: true, hasBias: bias,
  };
  const onnxW = paramsToOnnx(layer);
  const [x, h, c] = cell.inputs;
  const [hy, cy] = cell.outputs;
  const inputs = [unsqueeze(x), constant('W', onnxW.W), constant('R', onnxW.R), bias ? constant('B', onnxW.B) : '', '', h ? unsqueeze(h) : ''];
  if (mode === 'LSTM') inputs.push(c ? unsqueeze(c) : '');
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const attrs: [string, Attribute][] = [['hidden_size', int(H)]];
  if (mode === 'GRU') attrs.push(['linear_before_reset', int(1)]);
  if (mode === 'RNN' && cell.attributes.get('nonlinearity')?.value === 'relu') attrs.push(['activations', { type: 'strings', value: ['Relu'] }]);
  const Yh = `${base}/Y_h`, Yc = mode === 'LSTM' ? `${base}/Y_c` : '';
  add(mode, inputs, mode === 'LSTM' ? ['', Yh, Yc] : ['', Yh], attrs);
  if (hy) squeeze(Yh, hy);
  if (cy && mode === 'LSTM') squeeze(Yc, cy);
  return out;
}
