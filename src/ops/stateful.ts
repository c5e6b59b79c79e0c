/**
 * Stateful sequence ops of opset 27 (Gated DeltaNet, Mamba-style layers): CausalConvWithState
 * (depthwise causal 1-D convolution carrying its last k−1 inputs) and LinearAttention (the
 * linear / gated / delta / gated_delta recurrences over a [d_k, d_v] state per KV head).
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, sizeOf, type DataType } from '../ir/tensor.js';
import { fromFloat64, toFloat64 } from './float-io.js';
import { checkType, defineOp, need, normAxis } from './op.js';

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];
const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

/**
 * input [B, C, L], weight [C, 1, k], bias [C], past_state [B, C, k−1] (zeros when absent):
 * output[b, c, t] = bias[c] + Σ_j weight[c, 0, j] · padded[b, c, t + j], padded = past ‖ input;
 * present_state = the last k−1 positions of padded. activation 'silu'/'swish' applies x·σ(x).
 */
export const CausalConvWithState = defineOp({
  parse(_c, a) {
    const act = a.string('activation', 'none');
    if (!['none', 'silu', 'swish'].includes(act)) throw a.error('activation', `expected 'none', 'silu' or 'swish', got '${act}'`);
    return act !== 'none';
  },
  run(inputs, silu, ctx) {
    const x = need(inputs, 0, ctx, 'input'), w = need(inputs, 1, ctx, 'weight');
    const bias = inputs[2], past = inputs[3];
    checkType(x, FLOAT_TYPES, 0, ctx, 'input');
    checkType(w, [x.type], 1, ctx, 'weight');
    if (x.dims.length !== 3) throw nodeError(ctx.node, `input must be [batch, channels, length], got [${x.dims}]`);
    const [B, C, L] = x.dims;
    if (w.dims.length !== 3 || w.dims[0] !== C || w.dims[1] !== 1 || w.dims[2] < 1) throw nodeError(ctx.node, `weight must be [${C}, 1, k], got [${w.dims}]`);
    const k = w.dims[2];
    if (bias) {
      checkType(bias, [x.type], 2, ctx, 'bias');
      if (bias.dims.length !== 1 || bias.dims[0] !== C) throw nodeError(ctx.node, `bias must be [${C}], got [${bias.dims}]`);
    }
    if (past) {
      checkType(past, [x.type], 3, ctx, 'past_state');
      if (past.dims.length !== 3 || past.dims[0] !== B || past.dims[1] !== C || past.dims[2] !== k - 1) {
        throw nodeError(ctx.node, `past_state must be [${B}, ${C}, ${k - 1}], got [${past.dims}]`);
      }
    }
    const X = toFloat64(x), W = toFloat64(w), Bi = bias ? toFloat64(bias) : undefined, P = past ? toFloat64(past) : undefined;
    const Lp = L + k - 1;
    const padded = new Float64Array(Lp);
    const Y = new Float64Array(B * C * L), S = new Float64Array(B * C * (k - 1));
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
      const bc = b * C + c;
      if (P) padded.set(P.subarray(bc * (k - 1), (bc + 1) * (k - 1)));
      else padded.fill(0, 0, k - 1);
      padded.set(X.subarray(bc * L, (bc + 1) * L), k - 1);
      for (let t = 0; t < L; t++) {
        let acc = Bi ? Bi[c] : 0;
        for (let j = 0; j < k; j++) acc += W[c * k + j] * padded[t + j];
        Y[bc * L + t] = silu ? acc * sigmoid(acc) : acc;
      }
      S.set(padded.subarray(L), bc * (k - 1));
    }
    return [fromFloat64(Y, x.type, x.dims), fromFloat64(S, x.type, [B, C, k - 1])];
  },
});

type Rule = 'linear' | 'gated' | 'delta' | 'gated_delta';

/**
 * query [B, T, Hq·dk], key [B, T, Hkv·dk], value [B, T, Hkv·dv], past_state [B, Hkv, dk, dv],
 * decay [B, T, Hkv] or [B, T, Hkv·dk] (gated rules), beta [B, T, Hkv] or [B, T, 1] (delta rules).
 * Per step t and KV head: S ← S·exp(g_t) (gated); v ← β_t·(v_t − Sᵀk_t) (delta); S ← S + k_t ⊗ v;
 * o_t = scale · q_tᵀ S for each query head of the group. State accumulates in float64.
 */
export const LinearAttention = defineOp({
  parse(_c, a) {
    const rule = a.string('update_rule', 'gated_delta') as Rule;
    if (!['linear', 'gated', 'delta', 'gated_delta'].includes(rule)) throw a.error('update_rule', `expected linear, gated, delta or gated_delta, got '${rule}'`);
    const qHeads = a.int('q_num_heads'), kvHeads = a.int('kv_num_heads');
    if (qHeads === undefined || kvHeads === undefined) throw a.error(qHeads === undefined ? 'q_num_heads' : 'kv_num_heads', 'is required');
    if (!(qHeads > 0 && kvHeads > 0 && qHeads % kvHeads === 0)) throw a.error('q_num_heads', `${qHeads} must be a positive multiple of kv_num_heads ${kvHeads}`);
    a.ignore('chunk_size'); // a tuning hint: the result does not depend on it
    return { rule, qHeads, kvHeads, scale: a.float('scale', 0) };
  },
  run(inputs, p, ctx) {
    const q = need(inputs, 0, ctx, 'query'), k = need(inputs, 1, ctx, 'key'), v = need(inputs, 2, ctx, 'value');
    const [past, decay, beta] = [inputs[3], inputs[4], inputs[5]];
    checkType(q, FLOAT_TYPES, 0, ctx, 'query');
    checkType(k, [q.type], 1, ctx, 'key');
    checkType(v, [q.type], 2, ctx, 'value');
    const gated = p.rule === 'gated' || p.rule === 'gated_delta', delta = p.rule === 'delta' || p.rule === 'gated_delta';
    if (gated !== (decay !== undefined)) throw nodeError(ctx.node, `update_rule '${p.rule}' ${gated ? 'needs' : 'takes no'} decay input`);
    if (delta !== (beta !== undefined)) throw nodeError(ctx.node, `update_rule '${p.rule}' ${delta ? 'needs' : 'takes no'} beta input`);
    for (const [t, n] of [[q, 'query'], [k, 'key'], [v, 'value']] as const) {
      if (t.dims.length !== 3) throw nodeError(ctx.node, `${n} must be [batch, time, heads·size], got [${t.dims}]`);
    }
    const [B, T] = q.dims, Hq = p.qHeads, Hkv = p.kvHeads, G = Hq / Hkv;
    if (q.dims[2] % Hq || k.dims[2] % Hkv || v.dims[2] % Hkv) throw nodeError(ctx.node, 'query/key/value hidden sizes must be multiples of their head counts');
    const dk = q.dims[2] / Hq, dv = v.dims[2] / Hkv;
    for (const t of [k, v]) if (t.dims[0] !== B || t.dims[1] !== T) throw nodeError(ctx.node, `key and value must be [${B}, ${T}, …], got [${t.dims}]`);
    if (k.dims[2] !== Hkv * dk) throw nodeError(ctx.node, `key must be [${B}, ${T}, ${Hkv * dk}], got [${k.dims}]`);
    if (past && (past.dims.length !== 4 || past.dims[0] !== B || past.dims[1] !== Hkv || past.dims[2] !== dk || past.dims[3] !== dv)) {
      throw nodeError(ctx.node, `past_state must be [${B}, ${Hkv}, ${dk}, ${dv}], got [${past.dims}]`);
    }
    if (past) checkType(past, FLOAT_TYPES, 3, ctx, 'past_state');
    let perDim = false;
    if (decay) {
      checkType(decay, FLOAT_TYPES, 4, ctx, 'decay');
      const last = decay.dims[2];
      if (decay.dims.length !== 3 || decay.dims[0] !== B || decay.dims[1] !== T || (last !== Hkv && last !== Hkv * dk)) {
        throw nodeError(ctx.node, `decay must be [${B}, ${T}, ${Hkv}] or [${B}, ${T}, ${Hkv * dk}], got [${decay.dims}]`);
      }
      perDim = last === Hkv * dk && Hkv * dk !== Hkv;
    }
    let betaShared = false;
    if (beta) {
      checkType(beta, FLOAT_TYPES, 5, ctx, 'beta');
      if (beta.dims.length !== 3 || beta.dims[0] !== B || beta.dims[1] !== T || (beta.dims[2] !== Hkv && beta.dims[2] !== 1)) {
        throw nodeError(ctx.node, `beta must be [${B}, ${T}, ${Hkv}] or [${B}, ${T}, 1], got [${beta.dims}]`);
      }
      betaShared = beta.dims[2] === 1;
    }
    const Q = toFloat64(q), K = toFloat64(k), V = toFloat64(v);
    const Dc = decay ? toFloat64(decay) : undefined, Bt = beta ? toFloat64(beta) : undefined;
    const S = past ? Float64Array.from(toFloat64(past)) : new Float64Array(B * Hkv * dk * dv);
    const scale = p.scale === 0 ? 1 / Math.sqrt(dk) : p.scale;
    const Y = new Float64Array(B * T * Hq * dv);
    const vt = new Float64Array(dv);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < Hkv; h++) {
      const s0 = (b * Hkv + h) * dk * dv;
      const k0 = (b * T + t) * Hkv * dk + h * dk, v0 = (b * T + t) * Hkv * dv + h * dv;
      if (Dc) {
        for (let d = 0; d < dk; d++) {
          const g = Math.exp(perDim ? Dc[k0 + d] : Dc[(b * T + t) * Hkv + h]);
          for (let m = 0; m < dv; m++) S[s0 + d * dv + m] *= g;
        }
      }
      for (let m = 0; m < dv; m++) vt[m] = V[v0 + m];
      if (Bt) {
        const beta_t = Bt[(b * T + t) * (betaShared ? 1 : Hkv) + (betaShared ? 0 : h)];
        for (let m = 0; m < dv; m++) {
          let r = 0;
          for (let d = 0; d < dk; d++) r += S[s0 + d * dv + m] * K[k0 + d];
          vt[m] = beta_t * (vt[m] - r);
        }
      }
      for (let d = 0; d < dk; d++) {
        const kd = K[k0 + d];
        for (let m = 0; m < dv; m++) S[s0 + d * dv + m] += kd * vt[m];
      }
      for (let g = 0; g < G; g++) {
        const hq = h * G + g; // query heads h·G … h·G+G−1 read KV head h (interleaved repeat)
        const q0 = (b * T + t) * Hq * dk + hq * dk, y0 = (b * T + t) * Hq * dv + hq * dv;
        for (let m = 0; m < dv; m++) {
          let o = 0;
          for (let d = 0; d < dk; d++) o += Q[q0 + d] * S[s0 + d * dv + m];
          Y[y0 + m] = scale * o;
        }
      }
    }
    return [fromFloat64(Y, q.type, [B, T, Hq * dv]), fromFloat64(S, past?.type ?? q.type, [B, Hkv, dk, dv])];
  },
});

/**
 * TensorScatter (24): writes `update` into a copy of `past_cache` along `axis` (the sequence axis,
 * not the batch axis) at write_indices[b] (0 when absent), wrapping modulo the cache length in
 * 'circular' mode. Shapes: cache [B, …, max_seq, …], update [B, …, seq, …].
 */
export const TensorScatter = defineOp({
  parse(_c, a) {
    const mode = a.string('mode', 'linear');
    if (mode !== 'linear' && mode !== 'circular') throw a.error('mode', `expected 'linear' or 'circular', got '${mode}'`);
    return { circular: mode === 'circular', axis: a.int('axis', -2) };
  },
  run(inputs, p, ctx) {
    const cache = need(inputs, 0, ctx, 'past_cache'), upd = need(inputs, 1, ctx, 'update'), wi = inputs[2];
    const r = cache.dims.length;
    if (upd.type !== cache.type) throw nodeError(ctx.node, `update must be ${cache.type} like past_cache, got ${upd.type}`);
    const axis = normAxis(p.axis, r, ctx);
    if (axis === 0) throw nodeError(ctx.node, 'axis must not be the batch axis 0');
    if (upd.dims.length !== r || upd.dims.some((d, i) => (i === axis ? d > cache.dims[i] : d !== cache.dims[i]))) {
      throw nodeError(ctx.node, `update [${upd.dims}] must match past_cache [${cache.dims}] except a shorter axis ${axis}`);
    }
    const B = cache.dims[0], M = cache.dims[axis], S = upd.dims[axis];
    let idx: number[] = new Array(B).fill(0);
    if (wi) {
      checkType(wi, ['int64'], 2, ctx, 'write_indices');
      if (wi.dims.length !== 1 || wi.dims[0] !== B) throw nodeError(ctx.node, `write_indices must be [${B}], got [${wi.dims}]`);
      idx = Array.from(wi.data as BigInt64Array, Number);
    }
    const inner = sizeOf(cache.dims.slice(axis + 1)), outer = sizeOf(cache.dims.slice(0, axis)), perBatch = outer / B;
    const out = cache.data.slice() as typeof cache.data;
    const U = upd.data as unknown as ArrayLike<unknown>, O = out as unknown as { [i: number]: unknown };
    for (let o = 0; o < outer; o++) {
      const b = Math.floor(o / perBatch);
      for (let s = 0; s < S; s++) {
        let pos = idx[b] + s;
        if (p.circular) pos = ((pos % M) + M) % M;
        else if (pos < 0 || pos >= M) throw nodeError(ctx.node, `write position ${pos} (write_indices[${b}] = ${idx[b]}) is outside the cache length ${M}`);
        const src = (o * S + s) * inner, dst = (o * M + pos) * inner;
        for (let i = 0; i < inner; i++) O[dst + i] = U[src + i];
      }
    }
    return [new Tensor(cache.type, out, cache.dims)];
  },
});
