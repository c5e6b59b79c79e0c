import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, isBig, type DataType, type TensorData } from '../ir/tensor.js';
import { broadcastShapes, rowPlan } from './broadcast.js';
import { castTensor } from './cast.js';
import { viaFloat32 } from './float-io.js';
import { checkType, defineOp, need, NUMERIC, type OpContext, type OpDef } from './op.js';
import { B as SIMD_OP, binaryF32, blockF32, U, unaryF32 } from '../wasm/eltwise.js';

type Scalar = number | bigint | string; // strings only pass through (Equal, Where)
type Fn2 = (a: any, b: any) => Scalar; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * How `small` broadcasts to `out` when its non-1 axes are one contiguous block of out's axes
 * (a scalar, a bias row, a per-channel [C, 1, 1] vector): out element i reads
 * small[floor(i / inner) % block]. Null for any other broadcast.
 */
function blockOf(small: readonly number[], out: readonly number[]): { inner: number; block: number } | null {
  if (small.length > out.length) return null;
  const pad = out.length - small.length;
  let first = -1, last = -1;
  for (let d = 0; d < small.length; d++) {
    if (small[d] === 1) continue;
    if (small[d] !== out[pad + d]) return null;
    if (first < 0) first = d;
    else if (last !== d - 1) return null;
    last = d;
  }
  let block = 1, inner = 1;
  if (first >= 0) for (let d = first; d <= last; d++) block *= small[d];
  for (let d = (first >= 0 ? pad + last + 1 : 0); d < out.length; d++) inner *= out[d];
  return { inner, block };
}

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Loops for the four arithmetic ops on float arrays, one per op so each has its own
 * monomorphic loop (a shared loop calling `f` would be megamorphic): same shape, or the other
 * operand a block broadcast (blockOf) with A (mode 1) or B (mode 2) the full shape.
 */
type FastLoop = (A: ArrayLike<number>, B: ArrayLike<number>, out: { [i: number]: number }, n: number, inner: number, block: number, mode: number) => void;
// Written out per op (each loop its own function literal, so V8 keeps its feedback monomorphic and
// inlines the arithmetic), not generated with `new Function`: a page whose Content-Security-Policy
// forbids eval (Chrome extensions, many sites) must be able to load rnnx.
const add = (x: number, y: number) => x + y;
const sub = (x: number, y: number) => x - y;
const mul = (x: number, y: number) => x * y;
const div = (x: number, y: number) => x / y;
const FAST: Record<string, FastLoop> = {
  add: (A, B, out, n, inner, block, mode) => {
    if (mode === 0) { for (let i = 0; i < n; i++) out[i] = add(A[i], B[i]); return; }
    let i = 0;
    if (mode === 1) {
      if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = add(A[i], B[j]); return; }
      while (i < n) for (let j = 0; j < block; j++) { const v = B[j], e = i + inner; for (; i < e; i++) out[i] = add(A[i], v); }
      return;
    }
    if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = add(A[j], B[i]); return; }
    while (i < n) for (let j = 0; j < block; j++) { const v = A[j], e = i + inner; for (; i < e; i++) out[i] = add(v, B[i]); }
  },
  sub: (A, B, out, n, inner, block, mode) => {
    if (mode === 0) { for (let i = 0; i < n; i++) out[i] = sub(A[i], B[i]); return; }
    let i = 0;
    if (mode === 1) {
      if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = sub(A[i], B[j]); return; }
      while (i < n) for (let j = 0; j < block; j++) { const v = B[j], e = i + inner; for (; i < e; i++) out[i] = sub(A[i], v); }
      return;
    }
    if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = sub(A[j], B[i]); return; }
    while (i < n) for (let j = 0; j < block; j++) { const v = A[j], e = i + inner; for (; i < e; i++) out[i] = sub(v, B[i]); }
  },
  mul: (A, B, out, n, inner, block, mode) => {
    if (mode === 0) { for (let i = 0; i < n; i++) out[i] = mul(A[i], B[i]); return; }
    let i = 0;
    if (mode === 1) {
      if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = mul(A[i], B[j]); return; }
      while (i < n) for (let j = 0; j < block; j++) { const v = B[j], e = i + inner; for (; i < e; i++) out[i] = mul(A[i], v); }
      return;
    }
    if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = mul(A[j], B[i]); return; }
    while (i < n) for (let j = 0; j < block; j++) { const v = A[j], e = i + inner; for (; i < e; i++) out[i] = mul(v, B[i]); }
  },
  div: (A, B, out, n, inner, block, mode) => {
    if (mode === 0) { for (let i = 0; i < n; i++) out[i] = div(A[i], B[i]); return; }
    let i = 0;
    if (mode === 1) {
      if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = div(A[i], B[j]); return; }
      while (i < n) for (let j = 0; j < block; j++) { const v = B[j], e = i + inner; for (; i < e; i++) out[i] = div(A[i], v); }
      return;
    }
    if (inner === 1) { while (i < n) for (let j = 0; j < block; j++, i++) out[i] = div(A[j], B[i]); return; }
    while (i < n) for (let j = 0; j < block; j++) { const v = A[j], e = i + inner; for (; i < e; i++) out[i] = div(v, B[i]); }
  },
};

/** The same four ops over any other broadcast, row by row (rowPlan). */
type RowsLoop = (A: ArrayLike<number>, B: ArrayLike<number>, out: { [i: number]: number }, rows: number, len: number, sa: number, sb: number, oa: Int32Array, ob: Int32Array) => void;
const FAST_ROWS: Record<string, RowsLoop> = {
  add: (A, B, out, rows, len, sa, sb, oa, ob) => {
    for (let r = 0, o = 0; r < rows; r++) {
      let ia = oa[r], ib = ob[r];
      for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = add(A[ia], B[ib]);
    }
  },
  sub: (A, B, out, rows, len, sa, sb, oa, ob) => {
    for (let r = 0, o = 0; r < rows; r++) {
      let ia = oa[r], ib = ob[r];
      for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = sub(A[ia], B[ib]);
    }
  },
  mul: (A, B, out, rows, len, sa, sb, oa, ob) => {
    for (let r = 0, o = 0; r < rows; r++) {
      let ia = oa[r], ib = ob[r];
      for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = mul(A[ia], B[ib]);
    }
  },
  div: (A, B, out, rows, len, sa, sb, oa, ob) => {
    for (let r = 0, o = 0; r < rows; r++) {
      let ia = oa[r], ib = ob[r];
      for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = div(A[ia], B[ib]);
    }
  },
};

function fastArith(name: 'add' | 'sub' | 'mul' | 'div', a: Tensor, b: Tensor, reuseA = false, reuseB = false, ctx?: OpContext): Tensor | null {
  if ((a.type !== 'float32' && a.type !== 'float64') || a.type !== b.type) return null;
  const loop = FAST[name];
  // float32 on the WebAssembly SIMD kernels when available and large enough (src/wasm/eltwise.ts;
  // exact: the same correctly rounded float32 operations as the loops), else the loops.
  const simd = a.type === 'float32' ? SIMD_OP[name] : -1;
  const A = a.data as Float32Array, B = b.data as Float32Array;
  if (sameDims(a.dims, b.dims)) {
    // A dying input is overwritten in place (element i is read before it is written).
    const out = reuseA ? A : reuseB ? B : (allocData(a.type, a.size) as Float32Array);
    if (a.size > 0 && !(simd >= 0 && binaryF32(simd as 0, A, B, out, 1, a.size, 1, 1, 0, 0))) loop(A, B, out, a.size, 1, 1, 0);
    return new Tensor(a.type, out, a.dims);
  }
  const bb = a.dims.length >= b.dims.length ? blockOf(b.dims, a.dims) : null;
  if (bb) {
    const out = reuseA ? A : (allocData(a.type, a.size) as Float32Array);
    if (a.size > 0 && !(simd >= 0 && blockF32(simd as 0, A, B, out, a.size, bb.inner, bb.block, true))) loop(A, B, out, a.size, bb.inner, bb.block, 1);
    return new Tensor(a.type, out, a.dims);
  }
  const ab = b.dims.length >= a.dims.length ? blockOf(a.dims, b.dims) : null;
  if (ab) {
    const out = reuseB ? B : (allocData(a.type, b.size) as Float32Array);
    if (b.size > 0 && !(simd >= 0 && blockF32(simd as 0, B, A, out, b.size, ab.inner, ab.block, false))) loop(A, B, out, b.size, ab.inner, ab.block, 2);
    return new Tensor(a.type, out, b.dims);
  }
  if (!ctx) return null;
  // Any other broadcast ([B, T, 1] · [1, 1, C], [B, 1, C] + [B, T, C], …): rows, no index map. An
  // input of the output's shape is read at the position being written, so it may be the output.
  const dims = broadcastShapes([a.dims, b.dims], ctx);
  const p = rowPlan([a.dims, b.dims], dims);
  const out = reuseA && sameDims(a.dims, dims) ? A : reuseB && sameDims(b.dims, dims) ? B : (allocData(a.type, p.rows * p.len) as Float32Array);
  if (!(simd >= 0 && binaryF32(simd as 0, A, B, out, p.rows, p.len, p.steps[0], p.steps[1], p.offs[0], p.offs[1])))
    FAST_ROWS[name](A, B, out, p.rows, p.len, p.steps[0], p.steps[1], p.offs[0], p.offs[1]);
  return new Tensor(a.type, out, dims);
}

/** out[i] = f(a[ia], b[ib]) over the broadcast shape. */
export function binaryMap(a: Tensor, b: Tensor, outType: DataType, f: Fn2, ctx: OpContext): Tensor {
  const dims = broadcastShapes([a.dims, b.dims], ctx);
  const A0 = a.data as Scalar[], B0 = b.data as Scalar[];
  // One side full-shaped, the other a block broadcast: no index map.
  const fullA = sameDims(a.dims, dims), fullB = sameDims(b.dims, dims);
  const bl = fullA && !fullB ? blockOf(b.dims, dims) : !fullA && fullB ? blockOf(a.dims, dims) : null;
  if (bl) {
    const n = fullA ? a.size : b.size;
    const out = allocData(outType, n) as Scalar[];
    let i = 0;
    if (fullA) while (i < n) for (let j = 0; j < bl.block; j++) { const v = B0[j], e = i + bl.inner; for (; i < e; i++) out[i] = f(A0[i], v); }
    else while (i < n) for (let j = 0; j < bl.block; j++) { const v = A0[j], e = i + bl.inner; for (; i < e; i++) out[i] = f(v, B0[i]); }
    return new Tensor(outType, out as unknown as TensorData, dims);
  }
  // Any other broadcast: rows along the innermost axes (rowPlan), no per-element index map.
  const p = rowPlan([a.dims, b.dims], dims);
  const out = allocData(outType, dims.reduce((x, y) => x * y, 1)) as Scalar[];
  const sa = p.steps[0], sb = p.steps[1], oa = p.offs[0], ob = p.offs[1], len = p.len;
  let o = 0;
  for (let r = 0; r < p.rows; r++) {
    let ia = oa[r], ib = ob[r];
    for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = f(A0[ia], B0[ib]);
  }
  return new Tensor(outType, out as unknown as TensorData, dims);
}

function sameType(a: Tensor, b: Tensor, ctx: OpContext): void {
  if (a.type !== b.type) throw nodeError(ctx.node, `inputs must have the same type, got ${a.type} and ${b.type}`);
}

/** Arithmetic op with a number form and a bigint form. Integer results wrap/truncate like C. */
function arith(name: 'add' | 'sub' | 'mul' | 'div', num: (a: number, b: number) => number, big: (a: bigint, b: bigint) => bigint, intNum?: (a: number, b: number) => number): OpDef<null> {
  // float16/bfloat16 run in float32 (viaFloat32); made here, not in the registry, so the executor's
  // MatMul+Add fusion still recognises Add by identity.
  return viaFloat32(defineOp({
    parse: () => null,
    run(inputs, _a, ctx, reuse) {
      const a = need(inputs, 0, ctx, 'A');
      const b = need(inputs, 1, ctx, 'B');
      checkType(a, NUMERIC, 0, ctx, 'A');
      sameType(a, b, ctx);
      const fast = fastArith(name, a, b, reuse?.(0) ?? false, reuse?.(1) ?? false, ctx);
      if (fast) return [fast];
      if (isBig(a.type)) return [binaryMap(a, b, a.type, big, ctx)];
      const isInt = a.type !== 'float32' && a.type !== 'float64';
      return [binaryMap(a, b, a.type, isInt && intNum ? intNum : num, ctx)];
    },
  }));
}

/** Integer division by zero has no value: an error (the executor names the node). */
class DivisionByZero extends RangeError {
  constructor() {
    super('integer division by zero');
  }
}

export const Add = arith('add', (a, b) => a + b, (a, b) => a + b);
export const Sub = arith('sub', (a, b) => a - b, (a, b) => a - b);
// Math.imul wraps like C for int32/uint32; narrower ints are exact in it too.
export const Mul = arith('mul', (a, b) => a * b, (a, b) => a * b, Math.imul);
// Integer division truncates toward zero, like C and onnxruntime.
export const Div = arith('div', (a, b) => a / b, (a, b) => {
  if (b === 0n) throw new DivisionByZero();
  return a / b;
}, (a, b) => {
  if (b === 0) throw new DivisionByZero();
  return Math.trunc(a / b);
});

/** Mod: fmod=0 is integer modulo with the divisor's sign (Python); fmod=1 is C fmod (required for floats). */
export const Mod: OpDef<boolean> = defineOp({
  parse: (_c, a) => a.int('fmod', 0) !== 0,
  run(inputs, fmod, ctx) {
    const a = need(inputs, 0, ctx, 'A');
    const b = need(inputs, 1, ctx, 'B');
    if (a.type === 'float16' && b.type === 'float16') {
      const wide = [castTensor(a, 'float32', ctx), castTensor(b, 'float32', ctx)];
      return [castTensor(Mod.run(wide, fmod, ctx)[0]!, 'float16', ctx)];
    }
    checkType(a, NUMERIC, 0, ctx, 'A');
    sameType(a, b, ctx);
    const isFloat = a.type === 'float32' || a.type === 'float64';
    if (isFloat && !fmod) throw nodeError(ctx.node, "attribute 'fmod': floating-point inputs need fmod=1");
    if (isBig(a.type)) {
      return [binaryMap(a, b, a.type, (x: bigint, y: bigint) => {
        if (y === 0n) throw new DivisionByZero();
        const r = x % y;
        return !fmod && r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
      }, ctx)];
    }
    return [binaryMap(a, b, a.type, (x: number, y: number) => {
      if (!isFloat && y === 0) throw new DivisionByZero();
      const r = x % y;
      return !fmod && r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
    }, ctx)];
  },
});

/** BitShift on unsigned integers: direction LEFT or RIGHT. */
export const BitShift = defineOp({
  parse: (_c, a) => {
    const d = a.string('direction');
    if (d !== 'LEFT' && d !== 'RIGHT') throw a.error('direction', `expected LEFT or RIGHT, got '${d}'`);
    return d === 'LEFT';
  },
  run(inputs, left, ctx) {
    const a = need(inputs, 0, ctx, 'X');
    const b = need(inputs, 1, ctx, 'Y');
    checkType(a, ['uint8', 'uint16', 'uint32', 'uint64'], 0, ctx, 'X');
    sameType(a, b, ctx);
    if (a.type === 'uint64') return [binaryMap(a, b, a.type, (x: bigint, y: bigint) => BigInt.asUintN(64, left ? x << y : x >> y), ctx)];
    // Shifts of 32 or more give 0 (JS masks the count to 5 bits).
    return [binaryMap(a, b, a.type, (x: number, y: number) => (y >= 32 ? 0 : left ? (x << y) >>> 0 : x >>> y), ctx)];
  },
});

/** PRelu: x < 0 ? slope·x : x, slope broadcast to x. */
export const PRelu = defineOp({
  parse: () => null,
  run(inputs, _a, ctx, reuse) {
    const x = need(inputs, 0, ctx, 'X');
    const s = need(inputs, 1, ctx, 'slope');
    checkType(x, ['float32', 'float64', 'int32', 'int64', 'uint32', 'uint64'], 0, ctx, 'X');
    sameType(x, s, ctx);
    // Floats with the slope a block broadcast of X (a scalar, per channel, or X's shape): one loop,
    // into X's own array when it dies here.
    const bl = (x.type === 'float32' || x.type === 'float64') && x.dims.length >= s.dims.length ? blockOf(s.dims, x.dims) : null;
    if (bl) {
      const X = x.data as Float32Array, S = s.data as Float32Array, n = X.length, inner = bl.inner, block = bl.block;
      const out = reuse?.(0) ? X : (allocData(x.type, n) as Float32Array);
      // float32 on the SIMD kernels (exact: k·v is one float32 product): one slope for all (a scalar
      // or [1, 1, 1]) as LeakyRelu, a slope per channel or per position as binop's PRelu
      if (x.type === 'float32' && (block === 1 ? unaryF32(U.leaky, X, out, n, S[0]) : blockF32(SIMD_OP.prelu, X, S as Float32Array, out, n, inner, block, true))) {
        return [new Tensor(x.type, out, x.dims)];
      }
      let i = 0;
      while (i < n) {
        for (let j = 0; j < block; j++) {
          const k = S[j], e = i + inner;
          for (; i < e; i++) { const v = X[i]; out[i] = v < 0 ? k * v : v; }
        }
      }
      return [new Tensor(x.type, out, x.dims)];
    }
    return [binaryMap(x, s, x.type, (v: number, k: number) => (v < 0 ? k * v : v), ctx)];
  },
});

export const Pow = defineOp({
  parse: () => null,
  run(inputs, _a, ctx, reuse) {
    const a = need(inputs, 0, ctx, 'X');
    const b = need(inputs, 1, ctx, 'Y');
    checkType(a, NUMERIC, 0, ctx, 'X');
    checkType(b, NUMERIC, 1, ctx, 'Y');
    if (isBig(a.type)) return [binaryMap(a, b, a.type, (x: bigint, y: Scalar) => BigInt(Math.trunc(Number(x) ** Number(y))), ctx)];
    if ((a.type === 'float32' || a.type === 'float64') && b.size === 1) {
      // A scalar exponent: one loop, squares as x·x (exact before rounding, as onnxruntime does);
      // into X's own array when it dies here.
      // Exponents 2, 3 and 0.5 on float32 run on the WebAssembly SIMD kernel when available
      // (x·x, x·x·x with float32 rounding after each product as onnxruntime does, and √x).
      const e = Number(b.data[0]), X = a.data as Float32Array, n = a.size;
      const out = reuse?.(0) ? X : (allocData(a.type, n) as Float32Array);
      const simd = a.type !== 'float32' ? -1 : e === 2 ? U.square : e === 3 ? U.cube : e === 0.5 ? U.powHalf : -1;
      if (simd >= 0 && unaryF32(simd as 9, X, out)) { /* done */ }
      else if (e === 2) for (let i = 0; i < n; i++) out[i] = X[i] * X[i];
      else if (e === 3 && a.type === 'float32') for (let i = 0; i < n; i++) { const v = X[i]; out[i] = Math.fround(v * v) * v; }
      else if (e === 1) { if (out !== X) out.set(X); }
      else for (let i = 0; i < n; i++) out[i] = X[i] ** e;
      return [new Tensor(a.type, out, broadcastShapes([a.dims, b.dims], ctx))];
    }
    return [binaryMap(a, b, a.type, (x: number, y: Scalar) => x ** Number(y), ctx)];
  },
});

function compare(f: (a: Scalar, b: Scalar) => boolean, allowBool: boolean): OpDef<null> {
  return defineOp({
    parse: () => null,
    run(inputs, _a, ctx) {
      const a = need(inputs, 0, ctx, 'A');
      const b = need(inputs, 1, ctx, 'B');
      checkType(a, allowBool ? [...NUMERIC, 'bool', 'string'] : NUMERIC, 0, ctx, 'A');
      sameType(a, b, ctx);
      return [binaryMap(a, b, 'bool', (x: Scalar, y: Scalar) => (f(x, y) ? 1 : 0), ctx)];
    },
  });
}
export const Equal = compare((a, b) => a === b, true);
export const Less = compare((a, b) => a < b, false);
export const Greater = compare((a, b) => a > b, false);
export const LessOrEqual = compare((a, b) => a <= b, false);
export const GreaterOrEqual = compare((a, b) => a >= b, false);

function logical(f: (a: number, b: number) => number): OpDef<null> {
  return defineOp({
    parse: () => null,
    run(inputs, _a, ctx) {
      const a = need(inputs, 0, ctx, 'A');
      const b = need(inputs, 1, ctx, 'B');
      checkType(a, ['bool'], 0, ctx, 'A');
      checkType(b, ['bool'], 1, ctx, 'B');
      return [binaryMap(a, b, 'bool', f, ctx)];
    },
  });
}
export const And = logical((a, b) => (a && b ? 1 : 0));
export const Or = logical((a, b) => (a || b ? 1 : 0));
export const Xor = logical((a, b) => (!a !== !b ? 1 : 0));

/** Min / Max: variadic with broadcasting; NaN propagates like onnxruntime. */
function variadic(pick: (a: Scalar, b: Scalar) => Scalar): OpDef<null> {
  const op: OpDef<null> = {
    parse: () => null,
    run(inputs, _a, ctx) {
      const ts = inputs.filter((t): t is Tensor => t !== undefined);
      if (ts.length === 0) throw nodeError(ctx.node, 'needs at least one input');
      if (ts[0].type === 'float16') {
        // Computed in float32: min, max and sum of halves round back exactly or as the spec allows.
        const wide = ts.map((t) => castTensor(t, 'float32', ctx));
        return [castTensor(op.run(wide, null, ctx)[0]!, 'float16', ctx)];
      }
      checkType(ts[0], NUMERIC, 0, ctx);
      let acc = ts[0];
      for (let i = 1; i < ts.length; i++) {
        sameType(acc, ts[i], ctx);
        acc = binaryMap(acc, ts[i], acc.type, pick, ctx);
      }
      return [ts.length === 1 ? new Tensor(acc.type, acc.data.slice(), acc.dims) : acc];
    },
  };
  return op;
}
const nanOr = (a: Scalar, b: Scalar, r: Scalar) => (a !== a ? a : b !== b ? b : r);
export const Min = variadic((a, b) => nanOr(a, b, a < b ? a : b));
export const Max = variadic((a, b) => nanOr(a, b, a > b ? a : b));
export const Sum = variadic((a, b) => (a as number) + (b as number));
/** Mean: the broadcast sum divided by the number of inputs. */
export const Mean = defineOp({
  parse: () => null,
  run(inputs, _a, ctx) {
    const s = Sum.run(inputs, null, ctx)[0]!;
    checkType(s, ['float32', 'float64', 'float16'], 0, ctx);
    const n = inputs.filter((t) => t !== undefined).length;
    if (s.type === 'float16') return [castTensor(binaryMap(castTensor(s, 'float32', ctx), new Tensor('float32', [n], []), 'float32', (x: number, y: number) => x / y, ctx), 'float16', ctx)];
    return [binaryMap(s, new Tensor(s.type, [n], []), s.type, (x: number, y: number) => x / y, ctx)];
  },
});

export const Where = defineOp({
  parse: () => null,
  run(inputs, _a, ctx) {
    const c = need(inputs, 0, ctx, 'condition');
    const x = need(inputs, 1, ctx, 'X');
    const y = need(inputs, 2, ctx, 'Y');
    checkType(c, ['bool'], 0, ctx, 'condition');
    sameType(x, y, ctx);
    const dims = broadcastShapes([c.dims, x.dims, y.dims], ctx);
    const p = rowPlan([c.dims, x.dims, y.dims], dims);
    const out = allocData(x.type, dims.reduce((q, v) => q * v, 1)) as Scalar[];
    const C = c.data as Uint8Array;
    const X = x.data as Scalar[];
    const Y = y.data as Scalar[];
    const [sc, sx, sy] = p.steps, [oc, ox, oy] = p.offs, len = p.len;
    let o = 0;
    for (let r = 0; r < p.rows; r++) {
      let ic = oc[r], ix = ox[r], iy = oy[r];
      for (let j = 0; j < len; j++, ic += sc, ix += sx, iy += sy) out[o++] = C[ic] ? X[ix] : Y[iy];
    }
    return [new Tensor(x.type, out as unknown as TensorData, dims)];
  },
});
