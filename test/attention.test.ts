// Attention (opset 23/24) cross-checked against onnxruntime-node on random inputs: MHA and GQA
// head counts, 3-D and 4-D inputs, boolean and additive masks (full and short), causal masking,
// past/present KV caches, softcap, scale and every qk_matmul_output mode.
import { describe, expect, it } from 'vitest';
import type { SingleNodeSpec } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { crossCheck, randTensor, rng, runRnnx } from './helpers.js';
import { singleNodeModel } from '../src/export/onnx.js';

const r = rng(2323);
const f = (dims: number[]) => randTensor(r, dims, 'float32', -1, 1);
const X = (name: string, t: Tensor) => ({ name, tensor: t });
const TOL = { rtol: 1e-4, atol: 1e-5 };

interface Case {
  name: string; B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; Dv: number; P?: number;
  three?: boolean; mask?: 'bool' | 'float' | 'short-bool' | 'float-3d'; attrs?: Record<string, unknown>; qk?: boolean;
}
const cases: Case[] = [
  { name: 'MHA 4-D', B: 2, Hq: 3, Hkv: 3, Sq: 4, Skv: 6, D: 8, Dv: 8 },
  { name: 'MHA 4-D different v head size, scale', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 5, D: 8, Dv: 4, attrs: { scale: { f: 0.3 } } },
  { name: 'GQA 4-D causal', B: 2, Hq: 4, Hkv: 2, Sq: 5, Skv: 5, D: 4, Dv: 4, attrs: { is_causal: 1 } },
  { name: 'MQA 3-D', B: 2, Hq: 4, Hkv: 1, Sq: 3, Skv: 4, D: 4, Dv: 6, three: true },
  { name: 'GQA 3-D bool mask', B: 1, Hq: 6, Hkv: 3, Sq: 4, Skv: 7, D: 4, Dv: 4, three: true, mask: 'bool' },
  { name: 'float mask 2-D', B: 2, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, mask: 'float' },
  { name: 'float mask 3-D + causal', B: 2, Hq: 2, Hkv: 2, Sq: 4, Skv: 4, D: 4, Dv: 4, mask: 'float-3d', attrs: { is_causal: 1 } },
  { name: 'past/present + causal', B: 2, Hq: 2, Hkv: 2, Sq: 2, Skv: 2, D: 4, Dv: 4, P: 3, attrs: { is_causal: 1 } },
  { name: 'GQA past/present + bool mask', B: 1, Hq: 4, Hkv: 2, Sq: 1, Skv: 1, D: 8, Dv: 8, P: 5, mask: 'bool' },
  { name: 'softcap', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, attrs: { softcap: { f: 2.5 }, scale: { f: 1.7 } } },
  { name: 'qk output mode 0', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, mask: 'float', qk: true, attrs: { qk_matmul_output_mode: 0 } },
  { name: 'qk output mode 1 (softcap)', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, mask: 'float', qk: true, attrs: { qk_matmul_output_mode: 1, softcap: { f: 1.5 } } },
  { name: 'qk output mode 2', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, mask: 'float', qk: true, attrs: { qk_matmul_output_mode: 2 } },
  { name: 'qk output mode 3', B: 1, Hq: 2, Hkv: 2, Sq: 3, Skv: 4, D: 4, Dv: 4, mask: 'bool', qk: true, attrs: { qk_matmul_output_mode: 3 } },
];

function spec(c: Case): SingleNodeSpec {
  const T = (c.P ?? 0) + c.Skv;
  const q = c.three ? f([c.B, c.Sq, c.Hq * c.D]) : f([c.B, c.Hq, c.Sq, c.D]);
  const k = c.three ? f([c.B, c.Skv, c.Hkv * c.D]) : f([c.B, c.Hkv, c.Skv, c.D]);
  const v = c.three ? f([c.B, c.Skv, c.Hkv * c.Dv]) : f([c.B, c.Hkv, c.Skv, c.Dv]);
  const inputs: (ReturnType<typeof X> | null)[] = [X('q', q), X('k', k), X('v', v)];
  if (c.mask === 'bool') {
    // every row keeps its first key so no row is fully masked (onnxruntime gives NaN there)
    const m = randTensor(r, [c.Sq, T], 'bool');
    const d = m.data as Uint8Array;
    for (let i = 0; i < c.Sq; i++) d[i * T] = 1;
    inputs.push(X('mask', m));
  } else if (c.mask === 'float') inputs.push(X('mask', f([c.Sq, T])));
  else if (c.mask === 'float-3d') inputs.push(X('mask', f([c.Hq, c.Sq, T])));
  else if (c.P) inputs.push(null);
  if (c.P) inputs.push(X('pk', f([c.B, c.Hkv, c.P, c.D])), X('pv', f([c.B, c.Hkv, c.P, c.Dv])));
  const outputs = c.P ? ['y', 'present_k', 'present_v'] : ['y'];
  if (c.qk) outputs.push(...(c.P ? [] : ['', '']), 'qk');
  const attrs = { ...(c.attrs ?? {}), ...(c.three ? { q_num_heads: c.Hq, kv_num_heads: c.Hkv } : {}) };
  return { opType: 'Attention', inputs, outputs, attrs: attrs as SingleNodeSpec['attrs'], opset: 23 };
}

describe('Attention against onnxruntime-node', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const res = await crossCheck(spec(c), TOL);
    expect(res.messages).toEqual([]);
  });
});

describe('Attention edge cases (ONNX spec)', () => {
  it('a fully masked row gives zeros, not NaN; a short bool mask is padded with false', () => {
    const q = f([1, 1, 2, 4]), k = f([1, 1, 3, 4]), v = f([1, 1, 3, 4]);
    const mask = new Tensor('bool', [0, 0, 1, 0], [2, 2]); // row 0 masks both given keys, key 2 is padding
    const m = singleNodeModel({ opType: 'Attention', inputs: [X('q', q), X('k', k), X('v', v), X('mask', mask)], outputs: ['y', '', '', 'qk'], attrs: { qk_matmul_output_mode: 3 }, opset: 23 });
    const out = runRnnx(m, { q, k, v, mask });
    expect(Array.from(out.y.data as Float32Array).slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.qk.data as Float32Array)).toEqual([0, 0, 0, 1, 0, 0]);
    expect(Array.from(out.y.data as Float32Array).slice(4)).toEqual(Array.from(v.data as Float32Array).slice(0, 4));
  });
  it('refuses inconsistent heads, shapes and cache inputs with named errors', () => {
    const bad: [SingleNodeSpec, RegExp][] = [
      [{ opType: 'Attention', inputs: [X('q', f([1, 3, 2, 4])), X('k', f([1, 2, 2, 4])), X('v', f([1, 2, 2, 4]))], outputs: ['y'], opset: 23 }, /multiple of kv_num_heads/],
      [{ opType: 'Attention', inputs: [X('q', f([1, 2, 8])), X('k', f([1, 2, 8])), X('v', f([1, 2, 8]))], outputs: ['y'], opset: 23 }, /q_num_heads/],
      [{ opType: 'Attention', inputs: [X('q', f([1, 2, 2, 4])), X('k', f([1, 2, 2, 4])), X('v', f([1, 2, 2, 4])), null, X('pk', f([1, 2, 1, 4]))], outputs: ['y'], opset: 23 }, /past_value/],
      [{ opType: 'Attention', inputs: [X('q', f([1, 2, 2, 4])), X('k', f([1, 2, 2, 4])), X('v', f([1, 2, 2, 4])), X('m', f([2, 5]))], outputs: ['y'], opset: 23 }, /longer/],
    ];
    for (const [s, re] of bad) {
      const feeds = Object.fromEntries(s.inputs.filter((i) => i).map((i) => [i!.name, i!.tensor]));
      expect(() => runRnnx(singleNodeModel(s), feeds)).toThrow(re);
    }
  });
});
