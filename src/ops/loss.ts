import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf } from '../ir/tensor.js';
import { checkType, defineOp, intsOf, need, type AttrReader } from './op.js';

interface LossAttrs {
  reduction: 'none' | 'sum' | 'mean';
  ignoreIndex?: number;
}

function parseLoss(a: AttrReader): LossAttrs {
  const reduction = a.string('reduction', 'mean');
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') throw a.error('reduction', `expected none, sum or mean, got '${reduction}'`);
  return { reduction, ignoreIndex: a.int('ignore_index') };
}

type FArr = Float32Array | Float64Array;

/**
 * Negative log likelihood of `logp` [N, C, d…] at the targets [N, d…], optionally weighted per
 * class; ignore_index entries count 0 with weight 0. `mean` divides by the summed weights.
 */
function nll(logp: ArrayLike<number>, dims: readonly number[], target: number[], weight: FArr | undefined, p: LossAttrs, fail: (m: string) => Error): { loss: Float64Array; total: number; wsum: number } {
  const [N, C] = dims;
  const inner = sizeOf(dims.slice(2));
  const loss = new Float64Array(N * inner);
  let total = 0, wsum = 0;
  for (let n = 0; n < N; n++)
    for (let i = 0; i < inner; i++) {
      const t = target[n * inner + i];
      if (t === p.ignoreIndex) continue;
      if (t < 0 || t >= C) throw fail(`target ${t} is out of range for ${C} classes`);
      const w = weight ? weight[t] : 1;
      const l = -logp[(n * C + t) * inner + i] * w;
      loss[n * inner + i] = l;
      total += l;
      wsum += w;
    }
  return { loss, total, wsum };
}

function reduce(x: Tensor, r: { loss: Float64Array; total: number; wsum: number }, p: LossAttrs, outDims: number[]): Tensor {
  if (p.reduction === 'none') return new Tensor(x.type, x.type === 'float32' ? Float32Array.from(r.loss) : r.loss, outDims);
  const v = p.reduction === 'sum' ? r.total : r.total / r.wsum;
  return new Tensor(x.type, [v], []);
}

function inputs3(inputs: readonly (Tensor | undefined)[], ctx: Parameters<typeof need>[2], names: [string, string]) {
  const x = need(inputs, 0, ctx, names[0]);
  const t = need(inputs, 1, ctx, names[1]);
  checkType(x, ['float32', 'float64'], 0, ctx, names[0]);
  checkType(t, ['int64', 'int32'], 1, ctx, names[1]);
  if (x.dims.length < 2) throw nodeError(ctx.node, `input 0 (${names[0]}): expected [N, C, …], got [${x.dims}]`);
  const want = [x.dims[0], ...x.dims.slice(2)];
  if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
    throw nodeError(ctx.node, `input 1 (${names[1]}): expected shape [${want}], got [${t.dims}]`);
  }
  const w = inputs[2];
  if (w && (w.type !== x.type || w.dims.length !== 1 || w.dims[0] !== x.dims[1])) {
    throw nodeError(ctx.node, `input 2 (weight): expected ${x.type} [${x.dims[1]}], got ${w.type} [${w.dims}]`);
  }
  return { x, target: intsOf(t), weight: w?.data as FArr | undefined, outDims: want };
}

export const NegativeLogLikelihoodLoss = defineOp({
  parse: (_c, a) => parseLoss(a),
  run(inputs, p, ctx) {
    const { x, target, weight, outDims } = inputs3(inputs, ctx, ['input', 'target']);
    const r = nll(x.data as FArr, x.dims, target, weight, p, (m) => nodeError(ctx.node, m));
    return [reduce(x, r, p, outDims)];
  },
});

/** Log-softmax over axis 1, then the negative log likelihood; the second output is the log-softmax. */
export const SoftmaxCrossEntropyLoss = defineOp({
  parse: (_c, a) => parseLoss(a),
  run(inputs, p, ctx) {
    const { x, target, weight, outDims } = inputs3(inputs, ctx, ['scores', 'labels']);
    const [N, C] = x.dims;
    const inner = sizeOf(x.dims.slice(2));
    const X = x.data as FArr;
    const logp = allocData(x.type, x.size) as FArr;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < inner; i++) {
        let m = -Infinity;
        for (let c = 0; c < C; c++) m = Math.max(m, X[(n * C + c) * inner + i]);
        let s = 0;
        for (let c = 0; c < C; c++) s += Math.exp(X[(n * C + c) * inner + i] - m);
        const ls = Math.log(s);
        for (let c = 0; c < C; c++) logp[(n * C + c) * inner + i] = X[(n * C + c) * inner + i] - m - ls;
      }
    const r = nll(logp, x.dims, target, weight, p, (msg) => nodeError(ctx.node, msg));
    return [reduce(x, r, p, outDims), new Tensor(x.type, logp, x.dims)];
  },
});
