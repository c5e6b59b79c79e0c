import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, type DataType, type TensorData } from '../ir/tensor.js';
import { checkType, defineOp, FLOATS, need, NUMERIC, type OpDef } from './op.js';
import { erf, roundHalfEven, sigmoid } from './math.js';
import { U, unaryF32, type UnaryCode } from '../wasm/eltwise.js';

type NumArr = { length: number; [i: number]: number };

type Loop = (X: NumArr, out: NumArr, n: number, f: (v: number) => number) => void;

/**
 * The loop of the ops that real models run often is written out once per op (a function literal
 * of its own, so V8 gives it its own feedback and inlines the op's scalar function): one loop
 * shared by every op calls a different `f` from each and never inlines it (~20 ns an element on
 * Relu/Log/Sqrt over Silero's spectra). Not `new Function`: a page whose Content-Security-Policy
 * forbids eval (Chrome extensions, many sites) must be able to load rnnx.
 */
const SHARED_LOOP: Loop = (X, out, n, f) => { for (let i = 0; i < n; i++) out[i] = f(X[i]); };
const neg = (v: number) => -v;
// max(0, x): a NaN stays NaN (numpy's maximum and onnxruntime's Relu propagate it).
const relu = (v: number) => (v > 0 || v !== v ? v : 0);
const reciprocal = (v: number) => 1 / v;
const LOOPS = {
  neg: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = neg(X[i]); }) as Loop,
  abs: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = Math.abs(X[i]); }) as Loop,
  relu: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = relu(X[i]); }) as Loop,
  exp: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = Math.exp(X[i]); }) as Loop,
  log: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = Math.log(X[i]); }) as Loop,
  sqrt: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = Math.sqrt(X[i]); }) as Loop,
  sigmoid: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = sigmoid(X[i]); }) as Loop,
  tanh: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = Math.tanh(X[i]); }) as Loop,
  erf: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = erf(X[i]); }) as Loop,
  reciprocal: ((X, out, n) => { for (let i = 0; i < n; i++) out[i] = reciprocal(X[i]); }) as Loop,
};

/**
 * out = f(x) elementwise, same type and shape; written over x's own array when `inPlace` (the
 * executor's reuse(0): x dies here and nothing else holds its array). float32 with a `simd`
 * kernel code runs on the WebAssembly SIMD kernel when that is available and x is large enough
 * (src/wasm/eltwise.ts), else the TypeScript loop.
 */
export function unaryMap(x: Tensor, f: (v: number) => number, loop: Loop = SHARED_LOOP, inPlace = false, simd?: UnaryCode): Tensor {
  const X = x.data as NumArr;
  const out = inPlace ? X : (allocData(x.type, X.length) as NumArr);
  if (simd === undefined || x.type !== 'float32' || !unaryF32(simd, X as Float32Array, out as Float32Array)) loop(X, out, X.length, f);
  return new Tensor(x.type, out as unknown as TensorData, x.dims);
}

function floatUnary(f: (v: number) => number, loop: Loop = SHARED_LOOP, simd?: UnaryCode): OpDef<null> {
  return defineOp({
    parse: () => null,
    run(inputs, _a, ctx, reuse) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, FLOATS, 0, ctx, 'X');
      return [unaryMap(x, f, loop, reuse?.(0) ?? false, simd)];
    },
  });
}

/** Ops defined on signed numbers: the bigint path for int64. */
function signedUnary(f: (v: number) => number, big: (v: bigint) => bigint, types: readonly DataType[] = NUMERIC, loop: Loop = SHARED_LOOP, simd?: UnaryCode): OpDef<null> {
  return defineOp({
    parse: () => null,
    run(inputs, _a, ctx, reuse) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, types, 0, ctx, 'X');
      if (isBig(x.type)) {
        const X = x.data as BigInt64Array;
        const out = new BigInt64Array(X.length);
        for (let i = 0; i < X.length; i++) out[i] = big(X[i]);
        return [new Tensor(x.type, out, x.dims)];
      }
      return [unaryMap(x, f, loop, reuse?.(0) ?? false, simd)];
    },
  });
}

export const Neg = signedUnary(neg, (v) => -v, NUMERIC, LOOPS.neg, U.neg);
export const Abs = signedUnary(Math.abs, (v) => (v < 0n ? -v : v), NUMERIC, LOOPS.abs, U.abs);
export const Relu = signedUnary(relu, (v) => (v > 0n ? v : 0n), NUMERIC, LOOPS.relu, U.relu);
export const Exp = floatUnary(Math.exp, LOOPS.exp, U.exp);
export const Log = floatUnary(Math.log, LOOPS.log, U.log);
export const Sqrt = floatUnary(Math.sqrt, LOOPS.sqrt, U.sqrt);
export const Sigmoid = floatUnary(sigmoid, LOOPS.sigmoid, U.sigmoid);
export const Tanh = floatUnary(Math.tanh, LOOPS.tanh, U.tanh);
export const Erf = floatUnary(erf, LOOPS.erf);
export const Reciprocal = floatUnary(reciprocal, LOOPS.reciprocal, U.reciprocal);
export const Floor = floatUnary(Math.floor);
export const Ceil = floatUnary(Math.ceil);
export const Cos = floatUnary(Math.cos);
export const Tan = floatUnary(Math.tan);
export const Acos = floatUnary(Math.acos);
export const Asin = floatUnary(Math.asin);
export const Atan = floatUnary(Math.atan);
export const Cosh = floatUnary(Math.cosh);
export const Sinh = floatUnary(Math.sinh);
export const Acosh = floatUnary(Math.acosh);
export const Asinh = floatUnary(Math.asinh);
export const Atanh = floatUnary(Math.atanh);
export const Round = floatUnary(roundHalfEven);
export const Sin = floatUnary(Math.sin);
export const Softsign = floatUnary((v) => v / (1 + Math.abs(v)));
export const Softplus = floatUnary((v) => (v > 30 ? v : Math.log1p(Math.exp(v))));
export const Sign = signedUnary(Math.sign, (v) => (v > 0n ? 1n : v < 0n ? -1n : 0n));

/** Float activations with alpha (and beta/gamma) attributes and the ONNX defaults. */
function paramUnary(names: readonly [string, number][], f: (p: number[]) => (v: number) => number): OpDef<(v: number) => number> {
  const loop = SHARED_LOOP;
  return defineOp({
    parse: (_c, a) => f(names.map(([n, d]) => a.float(n, d))),
    run(inputs, fn, ctx, reuse) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, FLOATS, 0, ctx, 'X');
      return [unaryMap(x, fn, loop, reuse?.(0) ?? false)];
    },
  });
}
export const Elu = paramUnary([['alpha', 1]], ([a]) => (v) => (v >= 0 ? v : a * (Math.exp(v) - 1)));
// Selu defaults are float32 roundings of the spec's constants.
export const Selu = paramUnary([['alpha', 1.67326319217681884765625], ['gamma', 1.05070102214813232421875]], ([a, g]) => (v) => (v > 0 ? g * v : g * a * (Math.exp(v) - 1)));
export const HardSigmoid = paramUnary([['alpha', 0.2], ['beta', 0.5]], ([a, b]) => (v) => Math.min(1, Math.max(0, a * v + b)));
export const Celu = paramUnary([['alpha', 1]], ([a]) => (v) => Math.max(0, v) + Math.min(0, a * (Math.exp(v / a) - 1)));
export const HardSwish = paramUnary([], () => (v) => v * Math.min(1, Math.max(0, v / 6 + 0.5)));
export const Shrink = paramUnary([['lambd', 0.5], ['bias', 0]], ([l, b]) => (v) => (v < -l ? v + b : v > l ? v - b : 0));
export const ThresholdedRelu = paramUnary([['alpha', 1]], ([a]) => (v) => (v > a ? v : 0));

export const LeakyRelu = defineOp({
  // a float attribute: the default too is float32's 0.01, as onnxruntime has it
  parse: (_c, a) => Math.fround(a.float('alpha', 0.01)),
  run(inputs, alpha, ctx, reuse) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    const X = x.data as NumArr;
    const out = reuse?.(0) ? X : (allocData(x.type, X.length) as NumArr);
    // float32: the SIMD kernel multiplies by alpha rounded to float32, as onnxruntime does
    if (x.type === 'float32' && unaryF32(U.leaky, X as Float32Array, out as Float32Array, X.length, alpha)) return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
    for (let i = 0; i < X.length; i++) { const v = X[i]; out[i] = v >= 0 ? v : alpha * v; }
    return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
  },
});

/** IsNaN / IsInf (detect_positive, detect_negative): float in, bool out. */
export const IsNaN = defineOp({
  parse: () => null,
  run(inputs, _a, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    const X = x.data as Float32Array;
    return [new Tensor('bool', Uint8Array.from(X, (v) => (Number.isNaN(v) ? 1 : 0)), x.dims)];
  },
});
export const IsInf = defineOp({
  parse: (_c, a) => ({ pos: a.int('detect_positive', 1) !== 0, neg: a.int('detect_negative', 1) !== 0 }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, FLOATS, 0, ctx, 'X');
    const X = x.data as Float32Array;
    return [new Tensor('bool', Uint8Array.from(X, (v) => ((v === Infinity && p.pos) || (v === -Infinity && p.neg) ? 1 : 0)), x.dims)];
  },
});

export const Not = defineOp({
  parse: () => null,
  run(inputs, _a, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['bool'], 0, ctx, 'X');
    return [unaryMap(x, (v) => (v ? 0 : 1))];
  },
});

/**
 * Clip: bounds are attributes before opset 11, optional scalar inputs after. A missing bound is
 * the type's lowest / largest finite value (the spec's numeric_limits::lowest() and max(), as in
 * onnxruntime), so ±inf become ∓FLT_MAX (float32) or ∓DBL_MAX (float64) unless a bound says otherwise.
 */
export const Clip = defineOp({
  parse(ctx, a) {
    if (ctx.opset < 11) return { min: a.float('min'), max: a.float('max') };
    return { min: undefined, max: undefined };
  },
  run(inputs, attrs, ctx, reuse) {
    const x = need(inputs, 0, ctx, 'input');
    checkType(x, NUMERIC, 0, ctx, 'input');
    const bound = (i: number, dflt: number | bigint) => {
      const t = inputs[i];
      if (t === undefined) return dflt;
      if (t.type !== x.type) throw nodeError(ctx.node, `input ${i}: expected ${x.type} like the input, got ${t.type}`);
      if (t.size !== 1) throw nodeError(ctx.node, `input ${i}: expected a scalar bound, got shape [${t.dims}]`);
      return t.data[0] as number | bigint;
    };
    if (isBig(x.type)) {
      const lo = bound(1, -(2n ** 63n)) as bigint;
      const hi = bound(2, 2n ** 63n - 1n) as bigint;
      const X = x.data as BigInt64Array;
      const out = new BigInt64Array(X.length);
      for (let i = 0; i < X.length; i++) {
        const v = X[i] < lo ? lo : X[i];
        out[i] = v > hi ? hi : v; // numpy: max wins when min > max
      }
      return [new Tensor(x.type, out, x.dims)];
    }
    const big = x.type === 'float32' ? 3.4028234663852886e38 : x.type === 'float64' ? Number.MAX_VALUE : Infinity;
    const lo = Number(bound(1, attrs.min ?? -big));
    const hi = Number(bound(2, attrs.max ?? big));
    const X = x.data as NumArr;
    const out = reuse?.(0) ? X : (allocData(x.type, X.length) as NumArr);
    // float32 bounds are float32 values (tensors or float attributes), so the kernel compares exactly as this loop
    if (x.type === 'float32' && unaryF32(U.clip, X as Float32Array, out as Float32Array, X.length, lo, hi)) return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
    for (let i = 0; i < X.length; i++) {
      const v = X[i], w = v < lo ? lo : v;
      out[i] = w > hi ? hi : w;
    }
    return [new Tensor(x.type, out as unknown as TensorData, x.dims)];
  },
});
