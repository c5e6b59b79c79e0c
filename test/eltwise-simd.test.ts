// The float32 elementwise ops on the WebAssembly SIMD kernels (src/wasm/eltwise.ts) against
// onnxruntime-node: random data and special values (NaN, ±inf, ±0, denormals, the edges of exp's
// range, saturation of σ and tanh), sizes that are not multiples of 4, and the broadcasts the
// kernels take as rows (scalar, row, column, per-channel, rowPlan's general case), each on a
// tensor large enough to take the SIMD path and on small ones that keep the TypeScript loops.
import { describe, expect, it } from 'vitest';
import type { Graph, Model } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { kernelInfo } from '../src/wasm/runtime.js';
import { binaryF32, blockF32, CHUNK, MIN_BINARY, MIN_TRANSCENDENTAL, MIN_UNARY, U, unaryF32 } from '../src/wasm/eltwise.js';
import { crossCheck, crossCheckModel, OP_TOL, randTensor, rng } from './helpers.js';

const r = rng(4242);
const X = (t: Tensor, name = 'x') => ({ name, tensor: t });
const EXACT = { rtol: 0, atol: 0 };

/** n floats: `specials` first, then uniform in [lo, hi). */
function withSpecials(n: number, specials: number[], lo: number, hi: number): Tensor {
  const t = randTensor(r, [n], 'float32', lo, hi);
  (t.data as Float32Array).set(specials.slice(0, n));
  return t;
}

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 3e-39, -3e-39, 1.1754942e-38, 1, -1, 0.5, 2,
  88, 88.5, 88.72, 88.73, 89, 100, -87, -87.5, -88, -90, -104, -200, 9, -9, 10, -10, 17, -17, 20, -20, 40, -40,
  1e-7, -1e-7, 1e-20, 3.4e38, -3.4e38, 65504, 0.7071067, 0.7071068, 1.4142135, 1.0000001, 0.99999994];

describe('float32 elementwise SIMD kernels against onnxruntime-node', () => {
  it('take the SIMD path when the kernels are available', () => {
    if (!kernelInfo().simd) return;
    const x = new Float32Array(Math.max(MIN_BINARY, MIN_UNARY));
    expect(unaryF32(U.relu, x.subarray(0, MIN_UNARY), new Float32Array(MIN_UNARY))).toBe(true);
    expect(unaryF32(U.relu, x.subarray(0, MIN_UNARY - 1), new Float32Array(MIN_UNARY))).toBe(false);
    expect(unaryF32(U.exp, x.subarray(0, MIN_TRANSCENDENTAL), new Float32Array(MIN_TRANSCENDENTAL))).toBe(true);
    expect(unaryF32(U.exp, x.subarray(0, MIN_TRANSCENDENTAL - 1), new Float32Array(MIN_TRANSCENDENTAL))).toBe(false);
    expect(binaryF32(0, x, x, new Float32Array(x.length), 1, x.length, 1, 1, 0, 0)).toBe(true);
    expect(blockF32(0, x, x.subarray(0, 16), new Float32Array(x.length), x.length, 1, 16, true)).toBe(true);
  });

  const unary: [string, number, number][] = [['Relu', -4, 4], ['Sigmoid', -30, 30], ['Tanh', -12, 12], ['Exp', -90, 90], ['Log', 0, 1000],
    ['Sqrt', 0, 100], ['Neg', -4, 4], ['Abs', -4, 4], ['Reciprocal', -4, 4]];
  for (const [op, lo, hi] of unary) {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 63, 64, 65, 66, 67, 129, 1610, 4187]) {
      it(`${op} on ${n} random values in [${lo}, ${hi})`, async () => {
        const res = await crossCheck({ opType: op, inputs: [X(randTensor(r, [n], 'float32', lo, hi))], outputs: ['y'] }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      });
    }
    it(`${op} on special values`, async () => {
      const res = await crossCheck({ opType: op, inputs: [X(withSpecials(301, SPECIALS, lo, hi))], outputs: ['y'] }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
    it(`${op} on [2, 129, 5] in small and large magnitudes`, async () => {
      const t = randTensor(r, [2, 129, 5], 'float32', -1, 1);
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = (op === 'Log' || op === 'Sqrt' ? Math.abs(d[i]) : d[i]) * 10 ** ((i % 13) - 6);
      const res = await crossCheck({ opType: op, inputs: [X(t)], outputs: ['y'] }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }

  it('unary ops over more than one chunk, and binary ops past the size limit, give the same results', () => {
    if (!kernelInfo().simd) return;
    const n = CHUNK * 2 + 5, x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i) * 3;
    const y = new Float32Array(n);
    expect(unaryF32(U.neg, x, y)).toBe(true);
    let bad = 0;
    for (let i = 0; i < n; i++) if (y[i] !== -x[i]) bad++;
    expect(bad).toBe(0);
    const x0 = x.slice();
    expect(unaryF32(U.sqrt, x, x)).toBe(true); // in place
    let bad2 = 0;
    for (let i = 0; i < n; i++) if (!Object.is(x[i], Math.fround(Math.sqrt(x0[i])))) bad2++;
    expect(bad2).toBe(0);
    expect(binaryF32(0, y, y, new Float32Array(n), 1, n, 1, 1, 0, 0)).toBe(false);
  });

  it('Log of every float32 exponent and the mantissas around √½', async () => {
    const v: number[] = [];
    for (let e = -149; e <= 127; e++) v.push(2 ** e, 2 ** e * 1.5, 2 ** e * 0.70710677, 2 ** e * 0.7071068);
    const res = await crossCheck({ opType: 'Log', inputs: [X(new Tensor('float32', Float32Array.from(v), [v.length]))], outputs: ['y'] }, OP_TOL);
    expect(res.messages.join('; ')).toBe('');
  });

  // Broadcasts: [a] op [b]; exact (each element is one correctly rounded float32 operation)
  const shapes: [number[], number[]][] = [
    [[3, 131], [3, 131]], [[3, 131], []], [[], [3, 131]], [[3, 131], [1]], [[5, 131], [131]], [[131], [5, 131]],
    [[5, 131], [5, 1]], [[5, 1], [5, 131]], [[1, 161, 26], [1, 161, 1]], [[1, 161, 1], [1, 161, 26]], [[1, 1, 26], [1, 161, 26]],
    [[2, 16, 3, 9], [16, 1, 1]], [[16, 1, 1], [2, 16, 3, 9]], [[2, 9, 1], [1, 1, 33]], [[2, 1, 40], [1, 7, 40]], [[2, 1, 40], [2, 7, 1]],
    [[4, 9, 11], [4, 1, 11]], [[7, 3], [7, 3]], [[300, 2], [2]], [[2, 300], [2, 1]], [[40, 7], [40, 7]],
  ];
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const [a, b] of shapes) {
      it(`${op} [${a}] [${b}]`, async () => {
        const ta = randTensor(r, a, 'float32', -3, 3), tb = randTensor(r, b, 'float32', -3, 3);
        (ta.data as Float32Array).set([NaN, Infinity, -Infinity, 0, -0, 1e-40].slice(0, ta.size));
        (tb.data as Float32Array).set([1, 0, -0, Infinity, 3e38, NaN].slice(0, tb.size).reverse());
        const res = await crossCheck({ opType: op, inputs: [X(ta, 'a'), X(tb, 'b')], outputs: ['y'] }, EXACT);
        expect(res.messages.join('; ')).toBe('');
      });
    }
    it(`${op} x ${op} x (one array on both sides)`, async () => {
      const graph: Graph = {
        name: 'same', nodes: [{ name: 'n', opType: op, domain: '', inputs: ['x', 'x'], outputs: ['y'], attributes: new Map() }],
        inputs: [{ name: 'x', type: 'float32' }], outputs: [{ name: 'y', type: 'float32' }], initializers: new Map(), valueInfo: new Map(),
      };
      const model: Model = { irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', 13]]), graph };
      const res = await crossCheckModel(model, { x: withSpecials(1001, SPECIALS, -5, 5) }, EXACT);
      expect(res.messages.join('; ')).toBe('');
    });
  }

  // A dying intermediate is overwritten in place; a kept one (also a graph output) is not.
  for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Sigmoid', 'Log']) {
    for (const keep of [false, true]) {
      for (const side of op.length === 3 ? [0, 1] : [0]) {
        it(`${op} on a ${keep ? 'kept' : 'dying'} intermediate${op.length === 3 ? ` on side ${side}` : ''}`, async () => {
          const binary = ['Add', 'Sub', 'Mul', 'Div'].includes(op);
          const graph: Graph = {
            name: 'fed',
            nodes: [
              { name: 'mul', opType: 'Mul', domain: '', inputs: ['x', 'one'], outputs: ['t'], attributes: new Map() },
              { name: 'op', opType: op, domain: '', inputs: binary ? (side === 0 ? ['t', 'b'] : ['b', 't']) : ['t'], outputs: ['y'], attributes: new Map() },
            ],
            inputs: [{ name: 'x', type: 'float32' }, ...(binary ? [{ name: 'b', type: 'float32' as const }] : [])],
            outputs: [{ name: 'y', type: 'float32' }, ...(keep ? [{ name: 't', type: 'float32' as const }] : [])],
            initializers: new Map([['one', new Tensor('float32', [1], [])]]), valueInfo: new Map(),
          };
          const model: Model = { irVersion: 8, producerName: 'test', producerVersion: '', opsets: new Map([['', 13]]), graph };
          const feeds: Record<string, Tensor> = { x: randTensor(r, [3, 161, 10], 'float32', 0.1, 4) };
          if (binary) feeds.b = randTensor(r, [161, 1], 'float32', 0.5, 2);
          const res = await crossCheckModel(model, feeds, binary ? EXACT : OP_TOL);
          expect(res.messages.join('; ')).toBe('');
        });
      }
    }
  }

  for (const e of [2, 3, 0.5, 1]) {
    for (const n of [7, 257, 1610]) {
      it(`Pow x^${e} on ${n} values with special values`, async () => {
        const x = withSpecials(n, [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1e20, -1e20, 2, -2, 0.5], e === 0.5 ? 0 : -5, 5);
        const res = await crossCheck({ opType: 'Pow', inputs: [X(x), X(new Tensor('float32', [e], []), 'e')], outputs: ['y'] }, e === 0.5 ? OP_TOL : EXACT);
        expect(res.messages.join('; ')).toBe('');
      });
    }
  }

  const C = (t: Tensor, name: string) => ({ name, tensor: t, constant: true });
  const f32 = (v: number) => new Tensor('float32', [v], []);
  for (const n of [7, 64, 65, 1610]) {
    const sp = () => withSpecials(n, SPECIALS, -5, 5);
    const cases: [string, Parameters<typeof crossCheck>[0]][] = [
      ['Clip [-0.5, 0.7]', { opType: 'Clip', inputs: [X(sp()), C(f32(-0.5), 'lo'), C(f32(0.7), 'hi')], outputs: ['y'] }],
      ['Clip max only', { opType: 'Clip', inputs: [X(sp()), null, C(f32(2), 'hi')], outputs: ['y'] }],
      ['Clip min only, fed', { opType: 'Clip', inputs: [X(sp()), X(f32(0), 'lo')], outputs: ['y'] }],
      ['Clip opset 6 attributes', { opType: 'Clip', inputs: [X(sp())], outputs: ['y'], attrs: { min: { f: -0.3 }, max: { f: 0.4 } }, opset: 6 }],
      ['LeakyRelu default alpha', { opType: 'LeakyRelu', inputs: [X(sp())], outputs: ['y'] }],
      ['LeakyRelu alpha 0.2', { opType: 'LeakyRelu', inputs: [X(sp())], outputs: ['y'], attrs: { alpha: { f: 0.2 } } }],
      ['PRelu scalar slope', { opType: 'PRelu', inputs: [X(sp()), C(f32(0.25), 's')], outputs: ['y'] }],
      ['PRelu [1] slope fed', { opType: 'PRelu', inputs: [X(sp()), X(new Tensor('float32', [-1.5], [1]), 's')], outputs: ['y'] }],
    ];
    for (const [name, spec] of cases) {
      it(`${name} on ${n} values with special values`, async () => {
        const res = await crossCheck(spec, EXACT);
        expect(res.messages.join('; ')).toBe('');
      });
    }
  }

  const preluShapes: [number[], number[]][] = [[[2, 16, 3, 9], [16, 1, 1]], [[1, 161, 26], [161, 1]], [[1, 161, 26], [26]], [[5, 131], [5, 131]],
    [[3, 40, 8], [40, 1]], [[2, 4, 3, 5], [4, 1, 1]], [[4, 50], [1, 50]]];
  for (const [xd, sd] of preluShapes) {
    it(`PRelu [${xd}] slope [${sd}] with special values`, async () => {
      const x = randTensor(r, xd, 'float32', -3, 3);
      (x.data as Float32Array).set(SPECIALS.slice(0, x.size));
      const s = randTensor(r, sd, 'float32', -1, 1);
      (s.data as Float32Array).set([0, -0, 1e-40, 2].slice(0, s.size));
      const res = await crossCheck({ opType: 'PRelu', inputs: [X(x), C(s, 's')], outputs: ['y'] }, EXACT);
      expect(res.messages.join('; ')).toBe('');
    });
  }

  for (const op of ['Softmax', 'LogSoftmax']) {
    for (const dims of [[3, 1], [2, 3], [4, 5], [2, 7], [2, 10, 10], [2, 26, 26], [3, 33], [1, 161, 17], [5, 64]]) {
      it(`${op} on [${dims}] over the last axis`, async () => {
        const x = randTensor(r, dims, 'float32', -8, 8);
        const res = await crossCheck({ opType: op, inputs: [X(x)], outputs: ['y'], attrs: { axis: -1 }, opset: 13 }, OP_TOL);
        expect(res.messages.join('; ')).toBe('');
      });
    }
    it(`${op} with -inf, large and NaN values in rows of 9`, async () => {
      const x = randTensor(r, [6, 9], 'float32', -5, 5);
      (x.data as Float32Array).set([-Infinity, -Infinity], 0);
      (x.data as Float32Array).set([80, 85, -80], 9);
      (x.data as Float32Array).set([NaN], 20);
      (x.data as Float32Array).set([1e-40, -1e-40, 0, -0], 27);
      const res = await crossCheck({ opType: op, inputs: [X(x)], outputs: ['y'], attrs: { axis: -1 }, opset: 13 }, OP_TOL);
      expect(res.messages.join('; ')).toBe('');
    });
  }
});
