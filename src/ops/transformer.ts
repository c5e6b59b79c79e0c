/**
 * Transformer building blocks: RMSNormalization (23), RotaryEmbedding (23), and the activations
 * Gelu (20, none/tanh), Swish (24), SwiGLU (28), Mish (18). Computed in float64 on any float type
 * (float16/bfloat16 included), rounded once to the input type.
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, sizeOf, type DataType } from '../ir/tensor.js';
import { broadcastIndex, broadcastShapes } from './broadcast.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { erf } from './math.js';
import { checkType, defineOp, need, normAxis, type OpDef } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];

/** y = f(x) elementwise over a float tensor of any width. */
function floatMap(x: Tensor, f: (v: number) => number): Tensor {
  const X = toFloat64(x);
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = f(X[i]);
  return fromFloat64(out, x.type, x.dims);
}

function activation<A>(parse: OpDef<A>['parse'], f: (a: A) => (v: number) => number): OpDef<A> {
  return defineOp({
    parse,
    run(inputs, a, ctx) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, FLOAT_TYPES, 0, ctx, 'X');
      return [floatMap(x, f(a))];
    },
  });
}

const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
const softplus = (v: number) => (v > 30 ? v : Math.log1p(Math.exp(v)));

/** Gelu: 0.5·x·(1 + erf(x/√2)), or the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export const Gelu = activation((_c, a) => {
  const approx = a.string('approximate', 'none');
  if (approx !== 'none' && approx !== 'tanh') throw a.error('approximate', `expected 'none' or 'tanh', got '${approx}'`);
  return approx;
}, (approx) => approx === 'tanh'
  ? (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
  : (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));

/** Swish: x·sigmoid(alpha·x). */
export const Swish = activation((_c, a) => a.float('alpha', 1), (alpha) => (v) => v * sigmoid(alpha * v));

/** Mish: x·tanh(softplus(x)). */
export const Mish = activation(() => null, () => (v) => v * Math.tanh(softplus(v)));

/** SwiGLU: Swish_alpha(A)·B, A and B of identical shape (no broadcasting). */
export const SwiGLU = defineOp({
  parse: (_c, a) => a.float('alpha', 1),
  run(inputs, alpha, ctx) {
    const A = need(inputs, 0, ctx, 'A'), B = need(inputs, 1, ctx, 'B');
    checkType(A, FLOAT_TYPES, 0, ctx, 'A');
    checkType(B, [A.type], 1, ctx, 'B');
    if (A.dims.length !== B.dims.length || A.dims.some((d, i) => d !== B.dims[i])) {
      throw nodeError(ctx.node, `A [${A.dims}] and B [${B.dims}] must have the same shape`);
    }
    const a = toFloat64(A), b = toFloat64(B);
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i] * sigmoid(alpha * a[i]) * b[i];
    return [fromFloat64(out, A.type, A.dims)];
  },
});

/** RMSNormalization: X / sqrt(mean(X², axes axis..) + epsilon) · scale (scale broadcast to X). */
export const RMSNormalization = defineOp({
  parse(_c, a) {
    const stash = a.int('stash_type', 1);
    if (stash !== 1) throw a.error('stash_type', `only 1 (float32 or wider) is supported, got ${stash}`);
    return { axis: a.int('axis', -1), epsilon: a.float('epsilon', 1e-5) };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), scale = need(inputs, 1, ctx, 'scale');
    checkType(x, FLOAT_TYPES, 0, ctx, 'X');
    checkType(scale, FLOAT_TYPES, 1, ctx, 'scale');
    const axis = normAxis(p.axis, x.dims.length, ctx);
    const dims = broadcastShapes([x.dims, scale.dims], ctx);
    if (dims.length !== x.dims.length || dims.some((d, i) => d !== x.dims[i])) {
      throw nodeError(ctx.node, `scale [${scale.dims}] does not broadcast to X [${x.dims}]`);
    }
    const inner = sizeOf(x.dims.slice(axis));
    const X = toFloat64(x), S = toFloat64(scale);
    const si = broadcastIndex(scale.dims, x.dims);
    const out = new Float64Array(X.length);
    for (let o = 0; o < X.length; o += inner) {
      let ss = 0;
      for (let i = 0; i < inner; i++) ss += X[o + i] * X[o + i];
      const r = 1 / Math.sqrt(ss / inner + p.epsilon);
      for (let i = 0; i < inner; i++) out[o + i] = X[o + i] * r * S[si ? si[o + i] : o + i];
    }
    return [fromFloat64(out, scale.type, x.dims)];
  },
});

/**
 * RotaryEmbedding: rotates the first rotary_embedding_dim features of each head by the angles whose
 * cos/sin are given per position (cos_cache[position_ids] or cos_cache[b, s]), in halves or interleaved.
 * X: [B, H, S, D] or [B, S, H·D] (num_heads given).
 */
export const RotaryEmbedding = defineOp({
  parse: (_c, a) => {
    const interleaved = a.int('interleaved', 0);
    if (interleaved !== 0 && interleaved !== 1) throw a.error('interleaved', `must be 0 or 1, got ${interleaved}`);
    return { interleaved: interleaved === 1, rotDim: a.int('rotary_embedding_dim', 0), numHeads: a.int('num_heads') };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), cos = need(inputs, 1, ctx, 'cos_cache'), sin = need(inputs, 2, ctx, 'sin_cache');
    const pos = inputs[3];
    checkType(x, FLOAT_TYPES, 0, ctx, 'X');
    checkType(cos, [x.type], 1, ctx, 'cos_cache');
    checkType(sin, [x.type], 2, ctx, 'sin_cache');
    let B: number, S: number, H: number, D: number;
    // offset of (b, s, h), feature stride 1
    let at: (b: number, s: number, h: number) => number;
    if (x.dims.length === 4) {
      [B, H, S, D] = x.dims;
      at = (b, s, h) => ((b * H + h) * S + s) * D;
    } else if (x.dims.length === 3) {
      if (p.numHeads === undefined || p.numHeads <= 0) throw nodeError(ctx.node, '3-D X needs the num_heads attribute');
      [B, S] = x.dims;
      H = p.numHeads;
      if (x.dims[2] % H !== 0) throw nodeError(ctx.node, `hidden size ${x.dims[2]} is not a multiple of num_heads ${H}`);
      D = x.dims[2] / H;
      at = (b, s, h) => (b * S + s) * H * D + h * D;
    } else throw nodeError(ctx.node, `X must be 3-D or 4-D, got [${x.dims}]`);
    const R = p.rotDim || D;
    if (R > D || R % 2 !== 0) throw nodeError(ctx.node, `rotary_embedding_dim ${R} must be even and at most the head size ${D}`);
    const half = R / 2;
    // row of the caches for (b, s)
    let row: (b: number, s: number) => number;
    if (pos) {
      checkType(pos, ['int64'], 3, ctx, 'position_ids');
      if (pos.dims.length !== 2 || pos.dims[0] !== B || pos.dims[1] !== S) throw nodeError(ctx.node, `position_ids must be [${B}, ${S}], got [${pos.dims}]`);
      if (cos.dims.length !== 2 || cos.dims[1] !== half) throw nodeError(ctx.node, `cos_cache must be [max_position + 1, ${half}], got [${cos.dims}]`);
      const P = pos.data as BigInt64Array, maxPos = cos.dims[0];
      row = (b, s) => {
        const v = Number(P[b * S + s]);
        if (!(v >= 0 && v < maxPos)) throw nodeError(ctx.node, `position id ${v} is outside the cache's ${maxPos} rows`);
        return v;
      };
    } else {
      if (cos.dims.length !== 3 || cos.dims[0] !== B || cos.dims[1] !== S || cos.dims[2] !== half) {
        throw nodeError(ctx.node, `without position_ids cos_cache must be [${B}, ${S}, ${half}], got [${cos.dims}]`);
      }
      row = (b, s) => b * S + s;
    }
    if (sin.dims.length !== cos.dims.length || sin.dims.some((d, i) => d !== cos.dims[i])) {
      throw nodeError(ctx.node, `sin_cache [${sin.dims}] must have cos_cache's shape [${cos.dims}]`);
    }
    const X = toFloat64(x), C = toFloat64(cos), Sn = toFloat64(sin);
    const out = Float64Array.from(X);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) {
      const c0 = row(b, s) * half;
      for (let h = 0; h < H; h++) {
        const o = at(b, s, h);
        for (let k = 0; k < half; k++) {
          const i1 = p.interleaved ? o + 2 * k : o + k, i2 = p.interleaved ? o + 2 * k + 1 : o + half + k;
          const x1 = X[i1], x2 = X[i2], c = C[c0 + k], sn = Sn[c0 + k];
          out[i1] = c * x1 - sn * x2;
          out[i2] = sn * x1 + c * x2;
        }
      }
    }
    return [fromFloat64(out, x.type, x.dims)];
  },
});
