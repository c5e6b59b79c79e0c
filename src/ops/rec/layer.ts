import { Tensor, type DataType } from '../../ir/tensor.js';
import type { Activation } from './activations.js';

export type RecMode = 'LSTM' | 'GRU' | 'RNN';
export type Direction = 'forward' | 'reverse' | 'bidirectional';
export type FloatArray = Float32Array | Float64Array;

export const GATES: Readonly<Record<RecMode, number>> = { LSTM: 4, GRU: 3, RNN: 1 };

/**
 * Gate blocks (H rows each): `TO_TORCH[mode][k]` is the ONNX block that becomes PyTorch block k.
 * LSTM ONNX iofc -> PyTorch ifgo; GRU ONNX zrh -> PyTorch rzn.
 */
const TO_TORCH: Readonly<Record<RecMode, readonly number[]>> = { LSTM: [0, 2, 3, 1], GRU: [1, 0, 2], RNN: [0] };
const TO_ONNX: Readonly<Record<RecMode, readonly number[]>> = { LSTM: [0, 3, 1, 2], GRU: [1, 0, 2], RNN: [0] };

/** One direction's parameters under PyTorch's names and layout. */
export interface DirectionParams {
  readonly weightIh: FloatArray; // [G·H, I]
  readonly weightHh: FloatArray; // [G·H, H]
  readonly biasIh: FloatArray; //   [G·H]
  readonly biasHh: FloatArray; //   [G·H]
  /** ONNX peepholes (LSTM only) as p_i, p_o, p_f, each [H]; absent when P was not given. */
  readonly peephole?: FloatArray; // [3·H]
  /** LSTM projection (PyTorch proj_size): weight_hr [P, H]; then weightHh is [4·H, P]. */
  readonly weightHr?: FloatArray;
}

/**
 * The IR recurrent layer: one ONNX LSTM/GRU/RNN node in PyTorch's layout, plus the fields
 * PyTorch's layout cannot say, kept explicit so none is dropped.
 */
export interface RecurrentLayer {
  readonly mode: RecMode;
  readonly dtype: 'float32' | 'float64';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly direction: Direction;
  /** 0: X is [T, N, I]; 1: X is [N, T, I] (PyTorch batch_first). */
  readonly layout: 0 | 1;
  readonly params: readonly DirectionParams[]; // 1 or 2 entries (forward, reverse)
  /** Per direction: LSTM [f, g, h], GRU [f, g], RNN [f]. */
  readonly activations: readonly (readonly Activation[])[];
  readonly clip?: number;
  readonly inputForget: boolean;
  /** GRU only; PyTorch's GRU is linear_before_reset = 1. */
  readonly linearBeforeReset: boolean;
  /** True when B was absent (zero biases). */
  readonly hasBias: boolean;
  /** LSTM with projection: the size P of h (PyTorch proj_size). */
  readonly projSize?: number;
}

export function numDirections(d: Direction): 1 | 2 {
  return d === 'bidirectional' ? 2 : 1;
}

/** Copies H-row blocks of a [G·H, cols] matrix (or a [G·H] vector) in the order `perm`. */
export function permuteBlocks<T extends FloatArray>(src: T, srcOff: number, G: number, H: number, cols: number, perm: readonly number[]): T {
  const block = H * cols;
  const out = new (src.constructor as new (n: number) => T)(G * block);
  for (let k = 0; k < G; k++) out.set(src.subarray(srcOff + perm[k] * block, srcOff + (perm[k] + 1) * block), k * block);
  return out;
}

export interface OnnxWeights {
  readonly W: Tensor; // [D, G·H, I]
  readonly R: Tensor; // [D, G·H, H]
  readonly B?: Tensor; // [D, 2·G·H]
  readonly P?: Tensor; // [D, 3·H]
}

/** ONNX node weights -> per-direction PyTorch-layout parameters. Shapes must be checked by the caller. */
export function paramsFromOnnx(mode: RecMode, w: OnnxWeights, D: number, H: number, I: number): DirectionParams[] {
  const G = GATES[mode];
  const perm = TO_TORCH[mode];
  const W = w.W.data as FloatArray, R = w.R.data as FloatArray;
  const out: DirectionParams[] = [];
  for (let d = 0; d < D; d++) {
    const weightIh = permuteBlocks(W, d * G * H * I, G, H, I, perm);
    const weightHh = permuteBlocks(R, d * G * H * H, G, H, H, perm);
    const zeros = () => new (W.constructor as new (n: number) => FloatArray)(G * H);
    const B = w.B?.data as FloatArray | undefined;
    const biasIh = B ? permuteBlocks(B, d * 2 * G * H, G, H, 1, perm) : zeros();
    const biasHh = B ? permuteBlocks(B, d * 2 * G * H + G * H, G, H, 1, perm) : zeros();
    const P = w.P?.data as FloatArray | undefined;
    const peephole = P ? P.slice(d * 3 * H, (d + 1) * 3 * H) : undefined;
    out.push({ weightIh, weightHh, biasIh, biasHh, peephole });
  }
  return out;
}

/** IR layer -> ONNX W, R, B (and P) tensors, gates back in ONNX order. */
export function paramsToOnnx(layer: RecurrentLayer): { W: Tensor; R: Tensor; B: Tensor; P?: Tensor } {
  const { mode, hiddenSize: H, inputSize: I, dtype } = layer;
  const G = GATES[mode];
  const D = layer.params.length;
  const perm = TO_ONNX[mode];
  const make = (n: number) => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
  const W = make(D * G * H * I), R = make(D * G * H * H), B = make(D * 2 * G * H);
  const P = layer.params[0].peephole ? make(D * 3 * H) : undefined;
  layer.params.forEach((p, d) => {
    W.set(permuteBlocks(p.weightIh, 0, G, H, I, perm), d * G * H * I);
    R.set(permuteBlocks(p.weightHh, 0, G, H, H, perm), d * G * H * H);
    B.set(permuteBlocks(p.biasIh, 0, G, H, 1, perm), d * 2 * G * H);
    B.set(permuteBlocks(p.biasHh, 0, G, H, 1, perm), d * 2 * G * H + G * H);
    if (P && p.peephole) P.set(p.peephole, d * 3 * H);
  });
  const t = (data: FloatArray, dims: number[]) => new Tensor(dtype as DataType, data, dims);
  return {
    W: t(W, [D, G * H, I]),
    R: t(R, [D, G * H, H]),
    B: t(B, [D, 2 * G * H]),
    P: P ? t(P, [D, 3 * H]) : undefined,
  };
}

/** PyTorch state_dict names of one direction's parameters in layer k. */
export function torchParamNames(k: number, reverse: boolean): { weightIh: string; weightHh: string; biasIh: string; biasHh: string } {
  const s = `l${k}${reverse ? '_reverse' : ''}`;
  return { weightIh: `weight_ih_${s}`, weightHh: `weight_hh_${s}`, biasIh: `bias_ih_${s}`, biasHh: `bias_hh_${s}` };
}

/** Module prefix from an exporter's node name: '/encoder/lstm/LSTM_1' -> 'encoder.lstm'. */
export function modulePrefix(nodeName: string, opType: string): string {
  const parts = nodeName.split('/').filter((p) => p !== '');
  return parts.slice(0, -1).join('.') || opType.toLowerCase();
}
