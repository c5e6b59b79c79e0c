import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sameDims, sizeOf, type TensorData } from '../ir/tensor.js';
import { broadcastShapes, rowPlan, stridesOf } from './broadcast.js';
import { copyRuns, copySlots, indexNumbers, wordsOf, type Words } from './copy.js';
import { checkType, defineOp, intsOf, need, normAxis, type Inputs, type OpContext } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };
const INDEX_TYPES = ['int64', 'int32'] as const;

/** Axes from an attribute before `inputSince`, from input `index` after. */
function axesFrom(inputs: Inputs, attr: readonly number[] | undefined, ctx: OpContext, inputSince: number, index: number): number[] | undefined {
  if (ctx.opset < inputSince) return attr ? [...attr] : undefined;
  const t = inputs[index];
  if (t === undefined) return undefined;
  checkType(t, INDEX_TYPES, index, ctx, 'axes');
  return intsOf(t);
}


/**
 * A transpose as rows: output row r (`len` elements) reads the source from `offs[r]` in steps of
 * `step` (1: one contiguous run). Built once per input shape and permutation, never changed.
 */
interface TransposePlan {
  readonly inDims: readonly number[];
  readonly outDims: readonly number[];
  readonly n: number;
  readonly len: number;
  readonly step: number;
  readonly offs: Int32Array;
  /** rows come in groups of this many whose offsets are consecutive (a 2-D transpose of each group) */
  readonly group: number;
}

function transposePlan(inDims: readonly number[], perm: readonly number[]): TransposePlan {
  const outDims = perm.map((p) => inDims[p]);
  // Output axes in order with their source strides; size-1 axes dropped, and an axis merged into
  // the one before it when the source has them adjacent too ([1, T, C] perm [1, 0, 2] is a copy).
  const inStr = stridesOf(inDims);
  const dims: number[] = [], str: number[] = [];
  for (const p of perm) {
    const d = inDims[p], s = inStr[p];
    if (d === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && str[k] === s * d) { dims[k] *= d; str[k] = s; } else { dims.push(d); str.push(s); }
  }
  const n = sizeOf(inDims);
  const r = dims.length;
  const len = r ? dims[r - 1] : n, step = r ? str[r - 1] : 1;
  const rows = n === 0 ? 0 : n / len;
  const offs = new Int32Array(rows);
  const counter = new Array<number>(Math.max(0, r - 1)).fill(0);
  for (let k = 0, off = 0; k < rows; k++) {
    offs[k] = off;
    for (let d = r - 2; d >= 0; d--) {
      counter[d]++;
      off += str[d];
      if (counter[d] < dims[d]) break;
      off -= str[d] * dims[d];
      counter[d] = 0;
    }
  }
  const group = r >= 2 && str[r - 2] === 1 ? dims[r - 2] : 1;
  return { inDims, outDims, n, len, step, offs, group };
}

/** Small 2-D blocks: a row of the output reads `len` source elements `step` apart; past this many elements, 2-D tiles keep both sides in cache. */
const TILE_MIN = 1 << 15;
const TILE = 32;

function transposeF32(O: Float32Array, X: Float32Array, p: TransposePlan): void {
  const { len, step, offs } = p, rows = offs.length;
  if (step === 1) {
    if (len >= 32) for (let r = 0; r < rows; r++) O.set(X.subarray(offs[r], offs[r] + len), r * len);
    else for (let r = 0, o = 0; r < rows; r++) { const s = offs[r]; for (let j = 0; j < len; j++) O[o++] = X[s + j]; }
    return;
  }
  if (p.n < TILE_MIN || rows < TILE) {
    // Four output rows at a time where their sources are adjacent (a 2-D transpose): one pass
    // over the source rows, a quarter of the loop overhead.
    const G = p.group;
    for (let g = 0; g < rows; g += G) {
      const end = g + G;
      let r = g;
      if (G >= 4) {
        for (; r + 4 <= end; r += 4) {
          const o0 = r * len, o1 = o0 + len, o2 = o1 + len, o3 = o2 + len;
          for (let j = 0, s = offs[r]; j < len; j++, s += step) {
            O[o0 + j] = X[s]; O[o1 + j] = X[s + 1]; O[o2 + j] = X[s + 2]; O[o3 + j] = X[s + 3];
          }
        }
      }
      for (; r < end; r++) for (let j = 0, s = offs[r], o = r * len; j < len; j++, s += step) O[o + j] = X[s];
    }
    return;
  }
  // Large: tiles of TILE output rows × TILE columns.
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let j0 = 0; j0 < len; j0 += TILE) {
      const j1 = Math.min(len, j0 + TILE);
      for (let r = r0; r < r1; r++) {
        const base = offs[r], o = r * len;
        for (let j = j0; j < j1; j++) O[o + j] = X[base + j * step];
      }
    }
  }
}

function transposeWords(O: Words, X: Words, w: number, p: TransposePlan): void {
  const { len, step, offs } = p, rows = offs.length;
  for (let r = 0; r < rows; r++) {
    if (step === 1) copySlots(O, r * len * w, X, offs[r] * w, len * w);
    else if (w === 1) for (let j = 0, s = offs[r], o = r * len; j < len; j++, s += step) O[o + j] = X[s];
    else for (let j = 0, s = 2 * offs[r], o = 2 * r * len; j < len; j++, s += 2 * step, o += 2) { O[o] = X[s]; O[o + 1] = X[s + 1]; }
  }
}

function runTranspose(x: Tensor, p: TransposePlan): Tensor {
  const out = allocData(x.type, p.n);
  if (x.data instanceof Float32Array) transposeF32(out as Float32Array, x.data, p);
  else if (p.n > 0) {
    const X = wordsOf(x.data);
    transposeWords(wordsOf(out).a, X.a, X.w, p);
  }
  return new Tensor(x.type, out, p.outDims);
}

export function transposeTensor(x: Tensor, perm: readonly number[]): Tensor {
  return runTranspose(x, transposePlan(x.dims, perm));
}

/** Transpose's attribute, and the plan of the last input shape it ran on (replaced, never changed). */
interface TransposeAttrs {
  readonly perm: readonly number[] | undefined;
  last: TransposePlan | null;
}

export const Transpose = defineOp<TransposeAttrs>({
  parse: (_c, a) => ({ perm: a.ints('perm'), last: null }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const last = p.last;
    if (last !== null && sameDims(last.inDims, x.dims)) return [runTranspose(x, last)];
    const r = x.dims.length;
    const permAttr = p.perm;
    const perm = permAttr ?? [...Array(r).keys()].reverse();
    const sorted = [...perm].map((q) => (q < 0 ? q + r : q)).sort((a, b) => a - b);
    if (perm.length !== r || sorted.some((q, i) => q !== i)) {
      throw nodeError(ctx.node, `attribute 'perm' [${perm}] is not a permutation of ${r} axes`);
    }
    const plan = transposePlan(x.dims, perm.map((q) => (q < 0 ? q + r : q)));
    p.last = plan;
    return [runTranspose(x, plan)];
  },
});

/** Reshape's output dims for one input shape and one never-changing shape tensor. */
interface ReshapePlan {
  readonly inDims: readonly number[];
  readonly shapeT: Tensor;
  readonly outDims: readonly number[];
}

export const Reshape = defineOp<{ readonly allowzero: boolean; last: ReshapePlan | null }>({
  parse: (ctx, a) => {
    if (ctx.opset < 5) throw nodeError(ctx.node, 'Reshape-1 (shape as attribute) is not supported; re-export with opset >= 5');
    return { allowzero: a.int('allowzero', 0) !== 0, last: null };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const s = need(inputs, 1, ctx, 'shape');
    const last = p.last;
    if (last !== null && last.shapeT === s && sameDims(last.inDims, x.dims) && (ctx.frozen?.(1) ?? false)) return [x.reshape(last.outDims)];
    checkType(s, ['int64'], 1, ctx, 'shape');
    const shape = intsOf(s);
    let infer = -1;
    let known = 1;
    const dims = shape.map((d, i) => {
      if (d === 0 && !p.allowzero) {
        if (i >= x.dims.length) throw nodeError(ctx.node, `shape [${shape}]: 0 at axis ${i} copies a dimension the input [${x.dims}] lacks`);
        d = x.dims[i];
      }
      if (d === -1) {
        if (infer >= 0) throw nodeError(ctx.node, `shape [${shape}] has more than one -1`);
        infer = i;
        return -1;
      }
      if (d < -1) throw nodeError(ctx.node, `shape [${shape}] has an invalid dimension ${d}`);
      known *= d;
      return d;
    });
    if (infer >= 0) {
      if (known === 0 || x.size % known !== 0) throw nodeError(ctx.node, `cannot reshape [${x.dims}] (${x.size} elements) to [${shape}]`);
      dims[infer] = x.size / known;
    }
    if (sizeOf(dims) !== x.size) throw nodeError(ctx.node, `cannot reshape [${x.dims}] (${x.size} elements) to [${shape}]`);
    if (ctx.frozen?.(1)) p.last = { inDims: x.dims, shapeT: s, outDims: dims };
    return [x.reshape(dims)];
  },
});

export const Flatten = defineOp({
  parse: (_c, a) => a.int('axis', 1),
  run(inputs, axis, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const r = x.dims.length;
    const ax = axis === r ? r : normAxis(axis, r, ctx);
    const outer = sizeOf(x.dims.slice(0, ax));
    return [x.reshape([outer, sizeOf(x.dims.slice(ax))])];
  },
});

/** The output shape of a Squeeze/Unsqueeze for one input shape and axes (a never-changing tensor from opset 13). */
interface AxesPlan {
  readonly inDims: readonly number[];
  readonly axesT: Tensor | undefined;
  readonly outDims: readonly number[];
}

interface AxesAttrs {
  readonly axes: readonly number[] | undefined;
  last: AxesPlan | null;
}

function axesHit(plan: AxesPlan | null, x: Tensor, inputs: Inputs, ctx: OpContext): plan is AxesPlan {
  if (plan === null || !sameDims(plan.inDims, x.dims)) return false;
  if (ctx.opset < 13) return true;
  const t = inputs[1];
  return t === plan.axesT && (t === undefined || (ctx.frozen?.(1) ?? false));
}

export const Squeeze = defineOp<AxesAttrs>({
  parse: (ctx, a) => ({ axes: ctx.opset < 13 ? a.ints('axes') : undefined, last: null }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    if (axesHit(p.last, x, inputs, ctx)) return [x.reshape(p.last.outDims)];
    const r = x.dims.length;
    const axesRaw = axesFrom(inputs, p.axes, ctx, 13, 1);
    const axes = axesRaw ? axesRaw.map((a) => normAxis(a, r, ctx)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (x.dims[a] !== 1) throw nodeError(ctx.node, `cannot squeeze axis ${a} of size ${x.dims[a]} (input [${x.dims}])`);
    const outDims = x.dims.filter((_, i) => !axes.includes(i));
    p.last = { inDims: x.dims, axesT: inputs[1], outDims };
    return [x.reshape(outDims)];
  },
});

export const Unsqueeze = defineOp<AxesAttrs>({
  parse: (ctx, a) => ({ axes: ctx.opset < 13 ? a.ints('axes') : undefined, last: null }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    if (axesHit(p.last, x, inputs, ctx)) return [x.reshape(p.last.outDims)];
    const axesRaw = axesFrom(inputs, p.axes, ctx, 13, 1);
    if (!axesRaw) throw nodeError(ctx.node, 'axes are required');
    const r = x.dims.length + axesRaw.length;
    const axes = axesRaw.map((a) => normAxis(a, r, ctx));
    if (new Set(axes).size !== axes.length) throw nodeError(ctx.node, `axes [${axesRaw}] repeat an axis`);
    const dims: number[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) dims.push(axes.includes(i) ? 1 : x.dims[j++]);
    p.last = { inDims: x.dims, axesT: inputs[1], outDims: dims };
    return [x.reshape(dims)];
  },
});

/** Output shape and per-input row lengths of a Concat, for one list of input shapes and type. */
interface ConcatPlan {
  readonly type: Tensor['type'];
  readonly inDims: readonly (readonly number[])[];
  readonly outDims: readonly number[];
  readonly outer: number;
  /** elements of one output row (the concat axis and everything after it) */
  readonly row: number;
  /** elements each input adds to a row */
  readonly chunks: readonly number[];
}

function concatPlan(ts: readonly Tensor[], axis: number, ctx: OpContext): ConcatPlan {
  const first = ts[0];
  const r = first.dims.length;
  const ax = normAxis(axis, r, ctx);
  for (const [i, t] of ts.entries()) {
    if (t.type !== first.type) throw nodeError(ctx.node, `input ${i}: expected ${first.type}, got ${t.type}`);
    if (t.dims.length !== r || t.dims.some((d, k) => k !== ax && d !== first.dims[k])) {
      throw nodeError(ctx.node, `input ${i}: shape [${t.dims}] does not match [${first.dims}] outside axis ${ax}`);
    }
  }
  const outer = sizeOf(first.dims.slice(0, ax));
  const inner = sizeOf(first.dims.slice(ax + 1));
  const total = ts.reduce((s, t) => s + t.dims[ax], 0);
  const dims = [...first.dims];
  dims[ax] = total;
  return { type: first.type, inDims: ts.map((t) => t.dims), outDims: dims, outer, row: total * inner, chunks: ts.map((t) => t.dims[ax] * inner) };
}

function concatHit(plan: ConcatPlan | null, ts: readonly Tensor[]): plan is ConcatPlan {
  if (plan === null || plan.inDims.length !== ts.length) return false;
  for (let i = 0; i < ts.length; i++) if (ts[i].type !== plan.type || !sameDims(plan.inDims[i], ts[i].dims)) return false;
  return true;
}

function runConcat(ts: readonly Tensor[], p: ConcatPlan): Tensor {
  const { outer, row, chunks } = p;
  const out = allocData(p.type, outer * row);
  if (out instanceof Float32Array) {
    let off = 0;
    for (let i = 0; i < ts.length; i++) {
      const chunk = chunks[i], T = ts[i].data as Float32Array;
      if (outer === 1) out.set(T, off);
      else if (chunk >= 32) for (let o = 0; o < outer; o++) out.set(T.subarray(o * chunk, (o + 1) * chunk), o * row + off);
      else for (let o = 0; o < outer; o++) for (let j = 0, d = o * row + off, s = o * chunk; j < chunk; j++) out[d + j] = T[s + j];
      off += chunk;
    }
  } else {
    const O = wordsOf(out), w = O.w;
    let off = 0;
    for (let i = 0; i < ts.length; i++) {
      const chunk = chunks[i] * w;
      const T = wordsOf(ts[i].data).a;
      for (let o = 0; o < outer; o++) copySlots(O.a, o * row * w + off, T, o * chunk, chunk);
      off += chunk;
    }
  }
  return new Tensor(p.type, out, p.outDims);
}

export function concatTensors(ts: readonly Tensor[], axis: number, ctx: OpContext): Tensor {
  return runConcat(ts, concatPlan(ts, axis, ctx));
}

export const Concat = defineOp<{ readonly axis: number; last: ConcatPlan | null }>({
  parse: (ctx, a) => {
    const axis = a.int('axis');
    if (axis === undefined) {
      if (ctx.opset >= 4) throw a.error('axis', 'is required');
      return { axis: 1, last: null };
    }
    return { axis, last: null };
  },
  run(inputs, p, ctx) {
    const ts = inputs.filter((t): t is Tensor => t !== undefined);
    if (ts.length === 0) throw nodeError(ctx.node, 'needs at least one input');
    let plan = p.last;
    if (!concatHit(plan, ts)) plan = p.last = concatPlan(ts, p.axis, ctx);
    return [runConcat(ts, plan)];
  },
});

/** Copies x[..., start:start+len, ...] along axis. */
export function sliceAxis(x: Tensor, axis: number, start: number, len: number): Tensor {
  const dims = x.dims;
  let outer = 1, inner = 1;
  for (let d = 0; d < axis; d++) outer *= dims[d];
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d];
  const D = dims[axis];
  const out = allocData(x.type, outer * len * inner);
  const X = wordsOf(x.data), O = wordsOf(out).a, w = X.w, run = len * inner * w;
  // One run per outer index (the whole slice when the axis is the first non-1 axis).
  for (let o = 0; o < outer; o++) copySlots(O, o * run, X.a, (o * D + start) * inner * w, run);
  const outDims = [...dims];
  outDims[axis] = len;
  return new Tensor(x.type, out, outDims);
}

/** Split's axis and part sizes for one input shape (and never-changing split tensor). */
interface SplitPlan {
  readonly inDims: readonly number[];
  readonly splitT: Tensor | undefined;
  readonly axis: number;
  readonly sizes: readonly number[];
}

export const Split = defineOp<{ readonly axis: number; readonly split: readonly number[] | undefined; readonly numOutputs: number | undefined; last: SplitPlan | null }>({
  parse: (ctx, a) => ({
    axis: a.int('axis', 0),
    split: ctx.opset < 13 ? a.ints('split') : undefined,
    numOutputs: ctx.opset >= 18 ? a.int('num_outputs') : undefined,
    last: null,
  }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const splitIn = ctx.opset >= 13 ? inputs[1] : undefined;
    let plan = p.last;
    if (plan === null || !sameDims(plan.inDims, x.dims) || plan.splitT !== splitIn || (splitIn !== undefined && !(ctx.frozen?.(1) ?? false))) {
      const ax = normAxis(p.axis, x.dims.length, ctx);
      const D = x.dims[ax];
      const nOut = ctx.node.outputs.length;
      let sizes: number[];
      if (splitIn) {
        checkType(splitIn, ['int64'], 1, ctx, 'split');
        sizes = intsOf(splitIn);
      } else if (p.split) {
        sizes = [...p.split];
      } else {
        const parts = p.numOutputs ?? nOut;
        // checked before the sizes are made: num_outputs = 2^31 − 1 must not allocate 2^31 sizes
        if (parts !== nOut) throw nodeError(ctx.node, `num_outputs ${parts} but the node has ${nOut} outputs`);
        const each = Math.ceil(D / parts);
        sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, D - i * each)));
        if (p.numOutputs === undefined && D % parts !== 0) {
          throw nodeError(ctx.node, `axis ${ax} of size ${D} does not split evenly into ${parts} outputs`);
        }
      }
      if (sizes.length !== nOut) throw nodeError(ctx.node, `split has ${sizes.length} parts but the node has ${nOut} outputs`);
      if (sizes.reduce((s, v) => s + v, 0) !== D || sizes.some((v) => v < 0)) {
        throw nodeError(ctx.node, `split [${sizes}] does not sum to axis ${ax} size ${D}`);
      }
      plan = p.last = { inDims: x.dims, splitT: splitIn, axis: ax, sizes };
    }
    const { axis, sizes } = plan;
    const outs = new Array<Tensor>(sizes.length);
    for (let i = 0, start = 0; i < sizes.length; i++) {
      outs[i] = sliceAxis(x, axis, start, sizes[i]);
      start += sizes[i];
    }
    return outs;
  },
});

/**
 * A Slice as runs: run k of the output (`run` elements) starts at source offset `offs[k]`. Built per
 * input shape and starts/ends/axes/steps, never changed.
 */
interface SlicePlan {
  readonly inDims: readonly number[];
  /** the starts/ends/axes/steps tensors the plan was built from (constants: OpContext.frozen) */
  readonly args: readonly (Tensor | undefined)[];
  readonly outDims: readonly number[];
  readonly run: number;
  readonly offs: Int32Array;
}

interface SliceAttrs {
  readonly starts: readonly number[] | undefined;
  readonly ends: readonly number[] | undefined;
  readonly axes: readonly number[] | undefined;
  last: SlicePlan | null;
}

function slicePlan(x: Tensor, starts: number[], ends: number[], axesIn: number[] | undefined, steps: number[] | undefined, args: readonly (Tensor | undefined)[], ctx: OpContext): SlicePlan {
  const r = x.dims.length;
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => normAxis(a, r, ctx));
  if (ends.length !== starts.length || axes.length !== starts.length || (steps && steps.length !== starts.length)) {
    throw nodeError(ctx.node, `starts, ends, axes and steps must have the same length`);
  }
  const st = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  const dims = [...x.dims];
  axes.forEach((ax, i) => {
    const D = x.dims[ax];
    const s = steps ? steps[i] : 1;
    if (s === 0) throw nodeError(ctx.node, `step for axis ${ax} is 0`);
    let b = starts[i] < 0 ? starts[i] + D : starts[i];
    let e = ends[i] < 0 ? ends[i] + D : ends[i];
    if (s > 0) {
      b = Math.min(Math.max(b, 0), D);
      e = Math.min(Math.max(e, 0), D);
    } else {
      b = Math.min(Math.max(b, 0), D - 1);
      e = Math.min(Math.max(e, -1), D - 1);
    }
    dims[ax] = Math.max(0, Math.ceil((e - b) / s));
    st[ax] = b;
    step[ax] = s;
  });
  const inStr = stridesOf(x.dims);
  const n = sizeOf(dims);
  // Trailing axes taken whole with step 1, and the axis before them if its step is 1, are one
  // contiguous run in both tensors: copy runs, iterate over the axes before.
  let inner = r;
  while (inner > 0 && step[inner - 1] === 1 && st[inner - 1] === 0 && dims[inner - 1] === x.dims[inner - 1]) inner--;
  if (inner > 0 && step[inner - 1] === 1) inner--;
  let run = 1;
  for (let d = inner; d < r; d++) run *= dims[d];
  const rows = n === 0 ? 0 : n / run;
  const offs = new Int32Array(rows);
  const counter = new Array<number>(inner).fill(0);
  let off = 0;
  for (let d = 0; d < r; d++) off += st[d] * inStr[d];
  for (let k = 0; k < rows; k++) {
    offs[k] = off;
    for (let d = inner - 1; d >= 0; d--) {
      counter[d]++;
      off += step[d] * inStr[d];
      if (counter[d] < dims[d]) break;
      off -= step[d] * inStr[d] * dims[d];
      counter[d] = 0;
    }
  }
  return { inDims: x.dims, args, outDims: dims, run, offs };
}

/** The plan still applies: same input shape, and the same never-changing starts/ends/axes/steps tensors. */
function sliceHit(plan: SlicePlan | null, x: Tensor, inputs: Inputs, ctx: OpContext): plan is SlicePlan {
  if (plan === null || !sameDims(plan.inDims, x.dims)) return false;
  if (ctx.opset < 10) return true;
  const frozen = ctx.frozen;
  if (frozen === undefined) return false;
  for (let i = 1; i <= 4; i++) {
    const t = inputs[i];
    if (t !== plan.args[i - 1] || (t !== undefined && !frozen(i))) return false;
  }
  return true;
}

export const Slice = defineOp<SliceAttrs>({
  parse: (ctx, a) =>
    ctx.opset < 10 ? { starts: a.ints('starts'), ends: a.ints('ends'), axes: a.ints('axes'), last: null } : { starts: undefined, ends: undefined, axes: undefined, last: null },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    let plan = p.last;
    if (!sliceHit(plan, x, inputs, ctx)) {
      let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
      if (ctx.opset < 10) {
        if (!p.starts || !p.ends) throw nodeError(ctx.node, "attributes 'starts' and 'ends' are required");
        [starts, ends, axes] = [[...p.starts], [...p.ends], p.axes ? [...p.axes] : undefined];
      } else {
        const get = (i: number, what: string) => {
          const t = inputs[i];
          if (!t) return undefined;
          checkType(t, INDEX_TYPES, i, ctx, what);
          return intsOf(t);
        };
        starts = get(1, 'starts') ?? [];
        ends = get(2, 'ends') ?? [];
        if (!inputs[1] || !inputs[2]) throw nodeError(ctx.node, 'inputs starts and ends are required');
        axes = get(3, 'axes');
        steps = get(4, 'steps');
      }
      plan = p.last = slicePlan(x, starts, ends, axes, steps, [inputs[1], inputs[2], inputs[3], inputs[4]], ctx);
    }
    const out = allocData(x.type, plan.offs.length * plan.run);
    if (plan.offs.length > 0) copyRuns(out, x.data, plan.offs, plan.run);
    return [new Tensor(x.type, out, plan.outDims)];
  },
});

/** Gather's indices, checked and made non-negative; kept per axis size for indices that never change (OpContext.frozen). */
const GATHER_IDS = new WeakMap<Tensor, { D: number; ids: Float64Array }>();

function gatherIds(idx: Tensor, D: number, ax: number, ctx: OpContext): Float64Array {
  const keep = ctx.frozen ? ctx.frozen(1) : false;
  if (keep) {
    const hit = GATHER_IDS.get(idx);
    if (hit && hit.D === D) return hit.ids;
  }
  const ids = indexNumbers(idx.data);
  for (let j = 0; j < ids.length; j++) {
    const i = ids[j];
    if (i < -D || i >= D) throw nodeError(ctx.node, `index ${i} is out of range for axis ${ax} of size ${D}`);
    if (i < 0) ids[j] = i + D;
  }
  if (keep) GATHER_IDS.set(idx, { D, ids });
  return ids;
}

/** A Gather as runs of `run` elements from source offsets `offs`, for one data shape and one never-changing indices tensor. */
interface GatherPlan {
  readonly inDims: readonly number[];
  readonly idx: Tensor;
  readonly outDims: readonly number[];
  readonly run: number;
  readonly offs: Int32Array;
}

export const Gather = defineOp<{ readonly axis: number; last: GatherPlan | null }>({
  parse: (_c, a) => ({ axis: a.int('axis', 0), last: null }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const idx = need(inputs, 1, ctx, 'indices');
    let plan = p.last;
    if (plan === null || plan.idx !== idx || !sameDims(plan.inDims, x.dims) || !(ctx.frozen?.(1) ?? false)) {
      checkType(idx, INDEX_TYPES, 1, ctx, 'indices');
      const ax = normAxis(p.axis, x.dims.length, ctx);
      const D = x.dims[ax];
      const ids = gatherIds(idx, D, ax, ctx);
      const outer = sizeOf(x.dims.slice(0, ax));
      const inner = sizeOf(x.dims.slice(ax + 1));
      const m = ids.length;
      const offs = new Int32Array(inner === 0 ? 0 : outer * m);
      for (let a = 0, k = 0; a < outer && inner > 0; a++) for (let j = 0; j < m; j++) offs[k++] = (a * D + ids[j]) * inner;
      plan = { inDims: x.dims, idx, outDims: [...x.dims.slice(0, ax), ...idx.dims, ...x.dims.slice(ax + 1)], run: inner, offs };
      if (ctx.frozen?.(1)) p.last = plan;
    }
    const out = allocData(x.type, plan.offs.length * plan.run);
    if (plan.offs.length > 0) copyRuns(out, x.data, plan.offs, plan.run);
    return [new Tensor(x.type, out, plan.outDims)];
  },
});

export function expandTo(x: Tensor, dims: readonly number[]): Tensor {
  if (x.dims.length === dims.length && x.dims.every((d, i) => d === dims[i])) return x;
  // Rows along the innermost axes: a run of x copied, or one element of x repeated.
  const p = rowPlan([x.dims], dims);
  const out = allocData(x.type, p.rows * p.len);
  const X = wordsOf(x.data), O = wordsOf(out).a, w = X.w, XA = X.a, len = p.len, offs = p.offs[0];
  if (p.steps[0] === 1) {
    for (let r = 0; r < p.rows; r++) copySlots(O, r * len * w, XA, offs[r] * w, len * w);
  } else if (w === 1) {
    for (let r = 0, o = 0; r < p.rows; r++) { const v = XA[offs[r]]; for (let j = 0; j < len; j++) O[o++] = v; }
  } else {
    for (let r = 0, o = 0; r < p.rows; r++) {
      const lo = XA[2 * offs[r]], hi = XA[2 * offs[r] + 1];
      for (let j = 0; j < len; j++, o += 2) { O[o] = lo; O[o + 1] = hi; }
    }
  }
  return new Tensor(x.type, out, dims);
}

export const Expand = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const s = need(inputs, 1, ctx, 'shape');
    checkType(s, ['int64'], 1, ctx, 'shape');
    return [expandTo(x, broadcastShapes([x.dims, intsOf(s)], ctx))];
  },
});

export const Tile = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'input');
    const rep = need(inputs, 1, ctx, 'repeats');
    checkType(rep, ['int64'], 1, ctx, 'repeats');
    const reps = intsOf(rep);
    if (reps.length !== x.dims.length || reps.some((v) => v < 0)) {
      throw nodeError(ctx.node, `repeats [${reps}] must hold ${x.dims.length} non-negative values`);
    }
    const dims = x.dims.map((d, i) => d * reps[i]);
    const inStr = stridesOf(x.dims);
    const n = sizeOf(dims);
    const X = x.data as AnyArr;
    const out = allocData(x.type, n) as AnyArr;
    const outStr = stridesOf(dims);
    for (let k = 0; k < n; k++) {
      let off = 0;
      let rem = k;
      for (let d = 0; d < dims.length; d++) {
        const c = Math.floor(rem / outStr[d]);
        rem -= c * outStr[d];
        off += (c % x.dims[d]) * inStr[d];
      }
      out[k] = X[off];
    }
    return [new Tensor(x.type, out as TensorData, dims)];
  },
});
