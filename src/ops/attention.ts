/**
 * Attention (opset 23, 24): scaled dot-product attention with MHA / GQA / MQA head counts, 3-D or
 * 4-D inputs, boolean or additive masks (shorter masks padded with -inf), bottom-right causal
 * masking, a past/present KV cache or an external cache with `nonpad_kv_seqlen`, softcap, and the
 * four `qk_matmul_output` modes. Computed in float64, rounded to the input type at the end.
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, dtypeFromOnnx, onnxDtypeName, type DataType } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { checkType, defineOp, need, type OpContext } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];

interface AttentionAttrs {
  readonly isCausal: boolean;
  readonly scale?: number;
  readonly qHeads?: number;
  readonly kvHeads?: number;
  readonly softcap: number;
  readonly mode: number;
}

export const Attention = defineOp({
  parse(_ctx, a): AttentionAttrs {
    const isCausal = a.int('is_causal', 0);
    if (isCausal !== 0 && isCausal !== 1) throw a.error('is_causal', `must be 0 or 1, got ${isCausal}`);
    const scale = a.float('scale');
    const qHeads = a.int('q_num_heads'), kvHeads = a.int('kv_num_heads');
    for (const [n, v] of [['q_num_heads', qHeads], ['kv_num_heads', kvHeads]] as const) {
      if (v !== undefined && !(v > 0)) throw a.error(n, `must be positive, got ${v}`);
    }
    const sp = a.int('softmax_precision');
    // Only the precision of the softmax: rnnx computes it in float64 whatever is asked.
    if (sp !== undefined && !FLOAT_TYPES.includes(dtypeFromOnnx(sp) as DataType)) {
      throw a.error('softmax_precision', `expected a float type, got ${onnxDtypeName(sp)}`);
    }
    const softcap = a.float('softcap', 0);
    if (softcap < 0) throw a.error('softcap', `must be >= 0, got ${softcap}`);
    const mode = a.int('qk_matmul_output_mode', 0);
    if (![0, 1, 2, 3].includes(mode)) throw a.error('qk_matmul_output_mode', `must be 0, 1, 2 or 3, got ${mode}`);
    return { isCausal: isCausal === 1, scale, qHeads, kvHeads, softcap, mode };
  },
  run(inputs, p, ctx) {
    return attention(inputs, p, ctx);
  },
});

/** [B, H, S, D] view of a 3-D ([B, S, H·D]) or 4-D input: offset of (b, h, s), d stride 1. */
interface Heads {
  readonly B: number; readonly H: number; readonly S: number; readonly D: number;
  at(b: number, h: number, s: number): number;
}
function heads(t: Tensor, nHeads: number | undefined, what: string, ctx: OpContext): Heads {
  const d = t.dims;
  if (d.length === 4) {
    const [B, H, S, D] = d;
    if (nHeads !== undefined && nHeads !== H) throw nodeError(ctx.node, `${what} has ${H} heads but the num_heads attribute says ${nHeads}`);
    return { B, H, S, D, at: (b, h, s) => ((b * H + h) * S + s) * D };
  }
  if (d.length !== 3) throw nodeError(ctx.node, `${what} must be 3-D or 4-D, got [${d}]`);
  if (nHeads === undefined) throw nodeError(ctx.node, `3-D ${what} needs the q_num_heads and kv_num_heads attributes`);
  const [B, S, hidden] = d;
  if (hidden % nHeads !== 0) throw nodeError(ctx.node, `${what} hidden size ${hidden} is not a multiple of ${nHeads} heads`);
  const D = hidden / nHeads;
  return { B, H: nHeads, S, D, at: (b, h, s) => (b * S + s) * hidden + h * D };
}

/** past ‖ new along the sequence axis, as a [B, H, P+S, D] float64 array. */
function present(past: Tensor | undefined, x: Float64Array, v: Heads, what: string, ctx: OpContext): { data: Float64Array; T: number } {
  const P = past ? past.dims[2] : 0;
  if (past && (past.dims.length !== 4 || past.dims[0] !== v.B || past.dims[1] !== v.H || past.dims[3] !== v.D)) {
    throw nodeError(ctx.node, `${what} must be [${v.B}, ${v.H}, past_sequence_length, ${v.D}], got [${past.dims}]`);
  }
  const T = P + v.S;
  const out = new Float64Array(v.B * v.H * T * v.D);
  const pd = past ? toFloat64(past) : undefined;
  for (let b = 0; b < v.B; b++) {
    for (let h = 0; h < v.H; h++) {
      const base = (b * v.H + h) * T * v.D;
      if (pd) out.set(pd.subarray((b * v.H + h) * P * v.D, (b * v.H + h + 1) * P * v.D), base);
      for (let s = 0; s < v.S; s++) out.set(x.subarray(v.at(b, h, s), v.at(b, h, s) + v.D), base + (P + s) * v.D);
    }
  }
  return { data: out, T };
}

function attention(inputs: readonly (Tensor | undefined)[], p: AttentionAttrs, ctx: OpContext): (Tensor | undefined)[] {
  const q = need(inputs, 0, ctx, 'Q'), k = need(inputs, 1, ctx, 'K'), v = need(inputs, 2, ctx, 'V');
  checkType(q, FLOAT_TYPES, 0, ctx, 'Q');
  checkType(k, [q.type], 1, ctx, 'K');
  checkType(v, FLOAT_TYPES, 2, ctx, 'V');
  const [mask, pastK, pastV, nonpad] = [inputs[3], inputs[4], inputs[5], inputs[6]];
  if (q.dims.length !== k.dims.length || q.dims.length !== v.dims.length) {
    throw nodeError(ctx.node, `Q, K and V must have the same rank, got [${q.dims}], [${k.dims}], [${v.dims}]`);
  }
  if ((pastK === undefined) !== (pastV === undefined)) throw nodeError(ctx.node, 'past_key and past_value must be given together');
  if (nonpad && pastK) throw nodeError(ctx.node, 'nonpad_kv_seqlen cannot be used with past_key / past_value');
  const Q = heads(q, p.qHeads, 'Q', ctx), K = heads(k, p.kvHeads, 'K', ctx), V = heads(v, p.kvHeads, 'V', ctx);
  const { B, H: Hq, S: Sq, D } = Q;
  if (K.B !== B || V.B !== B) throw nodeError(ctx.node, `Q, K and V must have the same batch size`);
  if (K.D !== D) throw nodeError(ctx.node, `Q head size ${D} and K head size ${K.D} differ`);
  if (K.H !== V.H || K.S !== V.S) throw nodeError(ctx.node, `K and V must have the same heads and sequence length, got [${k.dims}] and [${v.dims}]`);
  const Hkv = K.H;
  if (Hq % Hkv !== 0) throw nodeError(ctx.node, `q_num_heads ${Hq} is not a multiple of kv_num_heads ${Hkv}`);
  const reps = Hq / Hkv, Dv = V.D;
  if (pastV && pastV.dims[3] !== Dv) throw nodeError(ctx.node, `past_value head size ${pastV.dims[3]} differs from V's ${Dv}`);
  const pk = present(pastK, toFloat64(k), K, 'past_key', ctx), pv = present(pastV, toFloat64(v), V, 'past_value', ctx);
  const T = pk.T, P = T - K.S;
  let lens: number[] | undefined;
  if (nonpad) {
    checkType(nonpad, ['int64'], 6, ctx, 'nonpad_kv_seqlen');
    if (nonpad.dims.length !== 1 || nonpad.dims[0] !== B) throw nodeError(ctx.node, `nonpad_kv_seqlen must be [${B}], got [${nonpad.dims}]`);
    lens = Array.from(nonpad.data as BigInt64Array, Number);
    if (lens.some((l) => l < 0 || l > T)) throw nodeError(ctx.node, `nonpad_kv_seqlen values must lie in [0, ${T}], got [${lens}]`);
  }
  const bias = maskBias(mask, B, Hq, Sq, T, ctx);
  const scale = p.scale ?? 1 / Math.sqrt(D);

  const Xq = toFloat64(q);
  const Y = new Float64Array(B * Hq * Sq * Dv);
  const wantQK = (ctx.node.outputs[3] ?? '') !== '';
  const QK = wantQK ? new Float64Array(B * Hq * Sq * T) : undefined;
  const s = new Float64Array(T), bRow = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    // causal frontier: key j is allowed for query i iff j <= i + offset
    const offset = pastK ? P : lens ? lens[b] - Sq : 0;
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / reps);
      const kBase = (b * Hkv + kvh) * T * D, vBase = (b * Hkv + kvh) * T * Dv;
      for (let i = 0; i < Sq; i++) {
        const qo = Q.at(b, h, i);
        const qkRow = QK ? ((b * Hq + h) * Sq + i) * T : 0;
        let maxBias = -Infinity;
        for (let j = 0; j < T; j++) {
          let bj = bias ? bias(b, h, i, j) : 0;
          if (p.isCausal && j > i + offset) bj = -Infinity;
          if (lens && j >= lens[b]) bj = -Infinity;
          bRow[j] = bj;
          if (bj > maxBias) maxBias = bj;
          let dot = 0;
          const ko = kBase + j * D;
          for (let d = 0; d < D; d++) dot += Xq[qo + d] * pk.data[ko + d];
          let x = dot * scale;
          if (QK && p.mode === 0) QK[qkRow + j] = x;
          if (p.softcap > 0) x = p.softcap * Math.tanh(x / p.softcap);
          if (QK && p.mode === 1) QK[qkRow + j] = x;
          x += bj;
          if (QK && p.mode === 2) QK[qkRow + j] = x;
          s[j] = x;
        }
        const yo = ((b * Hq + h) * Sq + i) * Dv;
        // A row whose bias masks every key attends nothing: its probabilities and output are 0.
        if (maxBias === -Infinity || T === 0) continue;
        let mx = -Infinity;
        for (let j = 0; j < T; j++) if (s[j] > mx) mx = s[j];
        const safe = mx === -Infinity ? 0 : mx;
        let sum = 0;
        for (let j = 0; j < T; j++) { s[j] = Math.exp(s[j] - safe); sum += s[j]; }
        if (sum === 0) sum = 1;
        for (let j = 0; j < T; j++) {
          const w = s[j] / sum;
          if (QK && p.mode === 3) QK[qkRow + j] = w;
          if (w === 0) continue;
          const vo = vBase + j * Dv;
          for (let d = 0; d < Dv; d++) Y[yo + d] += w * pv.data[vo + d];
        }
      }
    }
  }
  const y3 = q.dims.length === 3;
  let yOut = Y;
  if (y3) {
    // [B, Hq, Sq, Dv] -> [B, Sq, Hq·Dv]
    yOut = new Float64Array(Y.length);
    for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) for (let i = 0; i < Sq; i++) {
      yOut.set(Y.subarray(((b * Hq + h) * Sq + i) * Dv, ((b * Hq + h) * Sq + i + 1) * Dv), (b * Sq + i) * Hq * Dv + h * Dv);
    }
  }
  return [
    fromFloat64(yOut, q.type, y3 ? [B, Sq, Hq * Dv] : [B, Hq, Sq, Dv]),
    fromFloat64(pk.data, k.type, [B, Hkv, T, D]),
    fromFloat64(pv.data, v.type, [B, Hkv, T, Dv]),
    QK ? fromFloat64(QK, q.type, [B, Hq, Sq, T]) : undefined,
  ];
}

/**
 * The attn_mask as an additive bias (b, h, i, j) -> value: boolean true = 0, false = -inf; a float
 * mask is added as is. Broadcast to [B, Hq, Sq, T]; a last axis shorter than T is padded with -inf.
 */
function maskBias(mask: Tensor | undefined, B: number, H: number, S: number, T: number, ctx: OpContext): ((b: number, h: number, i: number, j: number) => number) | undefined {
  if (!mask) return undefined;
  const r = mask.dims.length;
  if (r < 1 || r > 4) throw nodeError(ctx.node, `attn_mask must have rank 1 to 4, got [${mask.dims}]`);
  const md = [...new Array(4 - r).fill(1), ...mask.dims];
  const want = [B, H, S, T];
  for (let a = 0; a < 3; a++) {
    if (md[a] !== 1 && md[a] !== want[a]) throw nodeError(ctx.node, `attn_mask [${mask.dims}] does not broadcast to [${want}]`);
  }
  const mT = md[3];
  if (mT > T) throw nodeError(ctx.node, `attn_mask's last axis ${mT} is longer than the total sequence length ${T}`);
  const isBool = mask.type === 'bool';
  if (!isBool) checkType(mask, FLOAT_TYPES, 3, ctx, 'attn_mask');
  const M = isBool ? undefined : toFloat64(mask);
  const Mb = mask.data as Uint8Array;
  const [sb, sh, ss] = [md[1] * md[2] * mT, md[2] * mT, mT];
  return (b, h, i, j) => {
    if (j >= mT) return -Infinity;
    const o = (md[0] === 1 ? 0 : b * sb) + (md[1] === 1 ? 0 : h * sh) + (md[2] === 1 ? 0 : i * ss) + j;
    return M ? M[o] : Mb[o] ? 0 : -Infinity;
  };
}
