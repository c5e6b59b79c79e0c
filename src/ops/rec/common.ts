import { nodeError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { matmulTransB } from '../gemm-kernel.js';
import { prepareLayer } from './kernels.js';
import { checkType, type AttrReader, type Inputs, type OpContext } from '../op.js';
import { resolveActivations, type Activation } from './activations.js';
import { GATES, numDirections, paramsFromOnnx, type Direction, type FloatArray, type RecMode, type RecurrentLayer } from './layer.js';

export interface RecAttrs {
  readonly mode: RecMode;
  readonly direction: Direction;
  readonly hiddenSize?: number;
  readonly activations: readonly (readonly Activation[])[];
  readonly clip?: number;
  readonly inputForget: boolean;
  readonly linearBeforeReset: boolean;
  readonly layout: 0 | 1;
  /** The layer, when W, R, B and P are constants: packed once at prepare time. */
  readonly layer?: RecurrentLayer;
}

const DEFAULT_ACTS: Readonly<Record<RecMode, readonly string[]>> = {
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  RNN: ['Tanh'],
};
const DIRECTIONS: readonly Direction[] = ['forward', 'reverse', 'bidirectional'];

/** Reads and validates the attributes every recurrent op shares (ONNX LSTM/GRU/RNN 7, 14, 22). */
export function parseRecAttrs(mode: RecMode, ctx: OpContext, a: AttrReader): RecAttrs {
  const direction = a.string('direction', 'forward') as Direction;
  if (!DIRECTIONS.includes(direction)) throw a.error('direction', `expected forward, reverse or bidirectional, got '${direction}'`);
  const D = numDirections(direction);
  const hiddenSize = a.int('hidden_size');
  if (hiddenSize !== undefined && hiddenSize < 1) throw a.error('hidden_size', `expected >= 1, got ${hiddenSize}`);
  const k = DEFAULT_ACTS[mode].length;
  const names = a.strings('activations') ?? [];
  const list = names.length > 0 ? names : Array.from({ length: D }, () => DEFAULT_ACTS[mode]).flat();
  if (list.length !== k * D) {
    throw a.error('activations', `expected ${k * D} names (${k} per direction x ${D}), got ${list.length}: [${list}]`);
  }
  const acts = resolveActivations(list, a.floats('activation_alpha') ?? [], a.floats('activation_beta') ?? [], (d) => a.error('activations', d));
  const clip = a.float('clip');
  if (clip !== undefined && !(clip > 0)) throw a.error('clip', `expected a positive threshold, got ${clip}`);
  const layout = ctx.opset >= 14 ? a.int('layout', 0) : 0;
  if (layout !== 0 && layout !== 1) throw a.error('layout', `expected 0 or 1, got ${layout}`);
  const inputForget = mode === 'LSTM' ? a.int('input_forget', 0) !== 0 : false;
  const linearBeforeReset = mode === 'GRU' ? a.int('linear_before_reset', 0) !== 0 : false;
  const attrs: RecAttrs = {
    mode, direction, hiddenSize, clip, inputForget, linearBeforeReset, layout: layout as 0 | 1,
    activations: Array.from({ length: D }, (_, d) => acts.slice(d * k, (d + 1) * k)),
  };
  const c = ctx.constant;
  const W = c?.(1), R = c?.(2);
  const B = ctx.node.inputs[3] ? c?.(3) : undefined;
  const P = mode === 'LSTM' && ctx.node.inputs[7] ? c?.(7) : undefined;
  const constParams = W && R && (!ctx.node.inputs[3] || B) && (mode !== 'LSTM' || !ctx.node.inputs[7] || P);
  if (!constParams) return attrs;
  const layer = buildLayer(attrs, W, R, B, P, ctx);
  prepareLayer(layer, ctx.pool); // pack once per session
  return { ...attrs, layer };
}

/** Validates W/R/B/P against each other and the attributes, then packs them in PyTorch layout. */
export function buildLayer(attrs: RecAttrs, W: Tensor, R: Tensor, B: Tensor | undefined, P: Tensor | undefined, ctx: OpContext): RecurrentLayer {
  const { mode } = attrs;
  const G = GATES[mode];
  const D = numDirections(attrs.direction);
  checkType(W, ['float32', 'float64'], 1, ctx, 'W');
  const err = (what: string, t: Tensor, want: string) => nodeError(ctx.node, `input ${what}: expected shape ${want}, got [${t.dims}]`);
  if (W.dims.length !== 3 || W.dims[0] !== D || W.dims[1] % G !== 0) throw err('1 (W)', W, `[${D}, ${G}*hidden_size, input_size]`);
  const H = W.dims[1] / G;
  const I = W.dims[2];
  if (attrs.hiddenSize !== undefined && attrs.hiddenSize !== H) {
    throw nodeError(ctx.node, `attribute 'hidden_size' is ${attrs.hiddenSize} but W [${W.dims}] implies ${H}`);
  }
  for (const [i, t, want] of [[2, R, [D, G * H, H]], [3, B, [D, 2 * G * H]], [7, P, [D, 3 * H]]] as const) {
    if (!t) continue;
    if (t.type !== W.type) throw nodeError(ctx.node, `input ${i}: expected ${W.type} like W, got ${t.type}`);
    if (t.dims.length !== want.length || t.dims.some((d, j) => d !== want[j])) throw err(`${i} (${({ 2: 'R', 3: 'B', 7: 'P' } as Record<number, string>)[i]})`, t, `[${want}]`);
  }
  return {
    mode, dtype: W.type as 'float32' | 'float64', inputSize: I, hiddenSize: H, direction: attrs.direction,
    layout: attrs.layout, params: paramsFromOnnx(mode, { W, R, B, P }, D, H, I), activations: attrs.activations,
    clip: attrs.clip, inputForget: attrs.inputForget, linearBeforeReset: attrs.linearBeforeReset, hasBias: B !== undefined,
  };
}

/** The run-time view of X, sequence_lens and initial states after checking them against the layer. */
export interface RecRun {
  readonly T: number;
  readonly N: number;
  readonly X: FloatArray;
  readonly lens: Int32Array | null;
  readonly h0?: FloatArray;
  readonly c0?: FloatArray;
  /** Layout of h0/c0 and Y_h/Y_c: 0 [D, N, H], 1 [N, D, H]. */
  readonly stateLayout: 0 | 1;
}

export function checkRunInputs(layer: RecurrentLayer, inputs: Inputs, ctx: OpContext): RecRun {
  const x = inputs[0];
  if (!x) throw nodeError(ctx.node, 'input 0 (X) is required but missing');
  if (x.type !== layer.dtype) throw nodeError(ctx.node, `input 0 (X): expected ${layer.dtype} like W, got ${x.type}`);
  const I = layer.inputSize, H = layer.hiddenSize, D = layer.params.length;
  if (x.dims.length !== 3 || x.dims[2] !== I) {
    throw nodeError(ctx.node, `input 0 (X): expected shape ${layer.layout ? '[batch, seq, ' : '[seq, batch, '}${I}], got [${x.dims}]`);
  }
  const [T, N] = layer.layout ? [x.dims[1], x.dims[0]] : [x.dims[0], x.dims[1]];
  let lens: Int32Array | null = null;
  const sl = inputs[4];
  if (sl) {
    if (sl.type !== 'int32') throw nodeError(ctx.node, `input 4 (sequence_lens): expected int32, got ${sl.type}`);
    if (sl.dims.length !== 1 || sl.dims[0] !== N) throw nodeError(ctx.node, `input 4 (sequence_lens): expected shape [${N}], got [${sl.dims}]`);
    lens = sl.data as Int32Array;
    for (let n = 0; n < N; n++) {
      if (lens[n] < 0 || lens[n] > T) throw nodeError(ctx.node, `input 4 (sequence_lens): entry ${n} is ${lens[n]}, expected 0..${T}`);
    }
  }
  const stateShape = layer.layout ? [N, D, H] : [D, N, H];
  const state = (i: number, what: string) => {
    const t = inputs[i];
    if (!t) return undefined;
    if (t.type !== layer.dtype) throw nodeError(ctx.node, `input ${i} (${what}): expected ${layer.dtype}, got ${t.type}`);
    if (t.dims.length !== 3 || t.dims.some((d, j) => d !== stateShape[j])) {
      throw nodeError(ctx.node, `input ${i} (${what}): expected shape [${stateShape}], got [${t.dims}]`);
    }
    return t.data as FloatArray;
  };
  return { T, N, X: x.data as FloatArray, lens, h0: state(5, 'initial_h'), c0: layer.mode === 'LSTM' ? state(6, 'initial_c') : undefined, stateLayout: layer.layout };
}

/**
 * XW = X·W_ihᵀ + bias for every time step in one GEMM: rows in X's memory order
 * (layout 0: t·N + n, layout 1: n·T + t), [T·N, G·H]. The two directions read X in place.
 */
export function inputProjection(X: FloatArray, rows: number, I: number, Wih: FloatArray, bias: Float64Array): Float64Array {
  const GH = bias.length;
  const xw = new Float64Array(rows * GH);
  matmulTransB(xw, 0, X, 0, Wih, 0, rows, I, GH);
  for (let r = 0; r < rows; r++) {
    const o = r * GH;
    for (let g = 0; g < GH; g++) xw[o + g] += bias[g];
  }
  return xw;
}

/** Row of XW / X for (t, n). */
export function rowOf(layout: 0 | 1, T: number, N: number): (t: number, n: number) => number {
  return layout ? (t, n) => n * T + t : (t, n) => t * N + n;
}

/** Copies direction d of an initial state ([D, N, H] or [N, D, H]) into h [N, H]. */
export function loadState(dst: Float64Array, src: FloatArray | undefined, d: number, D: number, N: number, H: number, layout: 0 | 1): void {
  if (!src) return;
  for (let n = 0; n < N; n++) {
    const o = layout ? (n * D + d) * H : (d * N + n) * H;
    for (let k = 0; k < H; k++) dst[n * H + k] = src[o + k];
  }
}

export function storeState(dst: FloatArray | null, src: Float64Array, d: number, D: number, N: number, H: number, layout: 0 | 1): void {
  if (!dst) return;
  for (let n = 0; n < N; n++) {
    const o = layout ? (n * D + d) * H : (d * N + n) * H;
    for (let k = 0; k < H; k++) dst[o + k] = src[n * H + k];
  }
}

/** Where h_t of (t, d, n) goes in Y: layout 0 [T, D, N, H], layout 1 [N, T, D, H]. */
export function yOffset(layout: 0 | 1, T: number, D: number, N: number, H: number): (t: number, d: number, n: number) => number {
  return layout ? (t, d, n) => ((n * T + t) * D + d) * H : (t, d, n) => ((t * D + d) * N + n) * H;
}
