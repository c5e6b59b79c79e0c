import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sameDims } from '../ir/tensor.js';
import { ConvKernel, ConvTransposeKernel, type ConvAct, type ConvGeom } from '../wasm/conv.js';
import { viaFloat32 } from './float-io.js';
import { checkType, defineOp, FLOATS, need, type AttrReader, type Inputs, type OpContext } from './op.js';

export interface ConvAttrs {
  autoPad: string;
  dilations?: readonly number[];
  group: number;
  kernelShape?: readonly number[];
  pads?: readonly number[];
  strides?: readonly number[];
}

const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

function parseConvAttrs(a: AttrReader): ConvAttrs {
  const autoPad = a.string('auto_pad', 'NOTSET');
  if (!AUTO_PADS.includes(autoPad)) throw a.error('auto_pad', `expected one of ${AUTO_PADS.join(', ')}, got '${autoPad}'`);
  const group = a.int('group', 1);
  if (group < 1) throw a.error('group', `expected >= 1, got ${group}`);
  return { autoPad, group, dilations: a.ints('dilations'), kernelShape: a.ints('kernel_shape'), pads: a.ints('pads'), strides: a.ints('strides') };
}

/** X, W (same float type) and optional B of Conv / ConvTranspose, with the spatial rank (1 or 2). */
function convInputs(inputs: Inputs, ctx: OpContext, what: string): { x: Tensor; w: Tensor; b: Tensor | undefined; sp: number } {
  const x = need(inputs, 0, ctx, 'X');
  const w = need(inputs, 1, ctx, 'W');
  checkType(x, FLOATS, 0, ctx, 'X');
  if (w.type !== x.type) throw nodeError(ctx.node, `input 1 (W): expected ${x.type}, got ${w.type}`);
  const sp = x.dims.length - 2;
  if (sp !== 1 && sp !== 2) throw nodeError(ctx.node, `only 1-D and 2-D ${what} are supported, X has rank ${x.dims.length}`);
  return { x, w, b: inputs[2], sp };
}

/** Sizes, strides, dilations and leading pads of a 1-D or 2-D convolution as 2-D (1-D: height 1). */
function lift2d(sp: number, inSp: readonly number[], kSp: readonly number[], outSp: readonly number[], strides: readonly number[], dil: readonly number[], pads: readonly number[]) {
  const two = (v: readonly number[]) => (sp === 2 ? [v[0], v[1]] : [1, v[0]]);
  const [H, W] = two(inSp), [KH, KW] = two(kSp), [OH, OW] = two(outSp), [sH, sW] = two(strides), [dH, dW] = two(dil);
  const [pT, pL] = sp === 2 ? [pads[0], pads[1]] : [0, pads[0]];
  return { H, W, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL };
}

/** A Conv node's geometry for the input shapes it last ran on (immutable; replaced when the shapes change). */
interface ConvPlan {
  readonly xd: readonly number[];
  readonly wd: readonly number[];
  readonly bd: readonly number[] | null;
  readonly geom: ConvGeom;
  readonly outDims: readonly number[];
}

export type ConvParsed = ConvAttrs & { simd?: { w: Tensor; kernel: ConvKernel }; plan?: ConvPlan };

/**
 * Conv for 1-D and 2-D inputs (1-D runs as 2-D with height 1): groups, pads, strides, dilations,
 * auto_pad. float16/bfloat16 run in float32 (viaFloat32), wrapped here so the plan's Conv+Relu
 * fusion (src/runtime/epilogue.ts) sees this identity.
 */
export const Conv = viaFloat32(defineOp<ConvParsed>({
  parse: (ctx, a) => {
    const attrs = parseConvAttrs(a);
    // A constant float32 W gets its own SIMD kernel, which keeps the weights in WebAssembly memory.
    const w = ctx.constant?.(1);
    const kernel = w && w.type === 'float32' && w.dims.length >= 3 ? ConvKernel.forConstant(w.data as Float32Array, w.dims[0], w.size / w.dims[0]) : null;
    return kernel ? { ...attrs, simd: { w: w!, kernel } } : attrs;
  },
  run: (inputs, p, ctx) => [convForward(inputs, p, ctx, 'none')],
}));

/** Checks X, W and B against each other and the attributes, and lifts the geometry to 2-D. */
function convPlan(x: Tensor, w: Tensor, b: Tensor | undefined, sp: number, p: ConvParsed, ctx: OpContext): ConvPlan {
  const last = p.plan;
  if (last && sameDims(last.xd, x.dims) && sameDims(last.wd, w.dims) && (b ? last.bd !== null && sameDims(last.bd, b.dims) : last.bd === null)) return last;
  if (w.dims.length !== x.dims.length) throw nodeError(ctx.node, `W rank ${w.dims.length} differs from X rank ${x.dims.length}`);
  const [N, C] = x.dims;
  const [M, CperG] = w.dims;
  const G = p.group;
  if (C !== CperG * G || M % G !== 0) {
    throw nodeError(ctx.node, `channels do not match: X has ${C}, W is [${w.dims}] with group=${G}`);
  }
  if (b && (b.dims.length !== 1 || b.dims[0] !== M)) throw nodeError(ctx.node, `input 2 (B): expected shape [${M}], got [${b.dims}]`);
  const inSp = x.dims.slice(2);
  const kSp = w.dims.slice(2);
  if (p.kernelShape && p.kernelShape.some((k, i) => k !== kSp[i])) {
    throw nodeError(ctx.node, `attribute 'kernel_shape' [${p.kernelShape}] disagrees with W [${w.dims}]`);
  }
  const strides = p.strides ?? kSp.map(() => 1);
  const dil = p.dilations ?? kSp.map(() => 1);
  const pads = resolvePads(p, inSp, kSp, strides, dil, ctx);
  const outSp = inSp.map((d, i) => Math.floor((d + pads[i] + pads[i + sp] - dil[i] * (kSp[i] - 1) - 1) / strides[i]) + 1);
  if (outSp.some((d) => d < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty for X [${x.dims}], W [${w.dims}]`);
  const { H, W, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = lift2d(sp, inSp, kSp, outSp, strides, dil, pads);
  const plan: ConvPlan = {
    xd: x.dims, wd: w.dims, bd: b ? b.dims : null,
    geom: { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL },
    outDims: [N, M, ...outSp],
  };
  p.plan = plan;
  return plan;
}

/**
 * Conv of float32 or float64 inputs followed by `act` (Relu as the Relu op computes it: NaN
 * stays NaN, -0 becomes +0). On the SIMD path the activation is applied in WebAssembly memory before the
 * copy out; otherwise on the result.
 */
export function convForward(inputs: Inputs, p: ConvParsed, ctx: OpContext, act: ConvAct): Tensor {
  const { x, w, b, sp } = convInputs(inputs, ctx, 'convolutions');
  const { geom, outDims } = convPlan(x, w, b, sp, p, ctx);
  const { N, M, OH, OW, G, C } = geom;
  const X = x.data as Float32Array, Wt = w.data as Float32Array, B = b?.data as Float32Array | undefined;
  const out = allocData(x.type, N * M * OH * OW) as Float32Array;
  const f32 = x.type === 'float32' && (!b || b.type === 'float32');
  // Depthwise (one input channel per group, several groups) would be a tiny GEMM per channel:
  // tap loops instead (dwconv). One group with one input channel (an STFT-like front end) stays a GEMM.
  const depthwise = f32 && C === G && G > 1;
  const kernel = !f32 ? null : p.simd && p.simd.w === w ? p.simd.kernel : ConvKernel.perCall();
  if (kernel && depthwise) kernel.runDepthwise(X, Wt, B, geom, out, act);
  else if (kernel) kernel.run(X, Wt, B, geom, out, act);
  else {
    if (depthwise) convDepthwise(X, Wt, B, geom, out);
    else convReference(X, Wt, B, geom, out);
    if (act === 'relu') for (let i = 0; i < out.length; i++) out[i] = out[i] > 0 || out[i] !== out[i] ? out[i] : 0;
  }
  return new Tensor(x.type, out, outDims);
}

/** The plain TypeScript Conv (sums in doubles), the reference the SIMD path is checked against. */
export function convReference(X: ArrayLike<number>, Wt: ArrayLike<number>, B: ArrayLike<number> | undefined, g: ConvGeom, out: { [i: number]: number }): void {
  const { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
  const CperG = C / G;
  const MperG = M / G;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / MperG);
      const bias = B ? B[m] : 0;
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = bias;
          for (let c = 0; c < CperG; c++) {
            const xc = ((n * C + gi * CperG + c) * H) * W;
            const wc = ((m * CperG + c) * KH) * KW;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sH - pT + kh * dH;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sW - pL + kw * dW;
                if (iw < 0 || iw >= W) continue;
                s += X[xc + ih * W + iw] * Wt[wc + kh * KW + kw];
              }
            }
          }
          out[((n * M + m) * OH + oh) * OW + ow] = s;
        }
    }
}

function resolvePads(p: ConvAttrs, inSp: number[], kSp: number[], strides: readonly number[], dil: readonly number[], ctx: OpContext): number[] {
  const sp = inSp.length;
  if (p.autoPad === 'NOTSET') {
    const pads = p.pads ?? new Array(2 * sp).fill(0);
    if (pads.length !== 2 * sp) throw nodeError(ctx.node, `attribute 'pads': expected ${2 * sp} values, got ${pads.length}`);
    return [...pads];
  }
  if (p.autoPad === 'VALID') return new Array(2 * sp).fill(0);
  const pads = new Array(2 * sp).fill(0);
  for (let i = 0; i < sp; i++) {
    const out = Math.ceil(inSp[i] / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + dil[i] * (kSp[i] - 1) + 1 - inSp[i]);
    const small = Math.floor(total / 2);
    pads[i] = p.autoPad === 'SAME_UPPER' ? small : total - small;
    pads[i + sp] = total - pads[i];
  }
  return pads;
}

interface ConvTransposeAttrs extends ConvAttrs {
  outputPadding?: readonly number[];
  outputShape?: readonly number[];
}

/** ConvTranspose for 1-D and 2-D inputs: groups, strides, dilations, pads, output_padding, output_shape, auto_pad. */
export const ConvTranspose = defineOp<ConvTransposeAttrs & { simd?: { w: Tensor; kernel: ConvTransposeKernel } }>({
  parse: (ctx, a) => {
    const attrs = { ...parseConvAttrs(a), outputPadding: a.ints('output_padding'), outputShape: a.ints('output_shape') };
    const w = ctx.constant?.(1);
    const kernel = w && w.type === 'float32' && w.dims.length >= 3 ? ConvTransposeKernel.forConstant(w.data as Float32Array) : null;
    return kernel ? { ...attrs, simd: { w: w!, kernel } } : attrs;
  },
  run(inputs, p, ctx) {
    const { x, w, b, sp } = convInputs(inputs, ctx, 'transposed convolutions');
    const [N, C] = x.dims;
    const G = p.group;
    if (w.dims.length !== x.dims.length || w.dims[0] !== C || C % G !== 0) throw nodeError(ctx.node, `W [${w.dims}] does not match X [${x.dims}] with group=${G}`);
    const MperG = w.dims[1];
    const M = MperG * G;
    if (b && (b.dims.length !== 1 || b.dims[0] !== M)) throw nodeError(ctx.node, `input 2 (B): expected shape [${M}], got [${b.dims}]`);
    const inSp = x.dims.slice(2), kSp = w.dims.slice(2);
    const strides = p.strides ?? inSp.map(() => 1);
    const dil = p.dilations ?? inSp.map(() => 1);
    const outPad = p.outputPadding ?? inSp.map(() => 0);
    const full = inSp.map((d, i) => strides[i] * (d - 1) + outPad[i] + (kSp[i] - 1) * dil[i] + 1);
    let pads: number[];
    let outSp: number[];
    if (p.outputShape || p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
      const target = p.outputShape ? p.outputShape.slice(-sp) : inSp.map((d, i) => d * strides[i]);
      pads = new Array(2 * sp).fill(0);
      target.forEach((t, i) => {
        const total = full[i] - t;
        const half = Math.floor(total / 2);
        const upper = p.autoPad === 'SAME_UPPER';
        pads[i] = upper ? half : total - half;
        pads[i + sp] = upper ? total - half : half;
      });
      outSp = [...target];
    } else {
      pads = p.autoPad === 'VALID' ? new Array(2 * sp).fill(0) : [...(p.pads ?? new Array(2 * sp).fill(0))];
      outSp = full.map((f, i) => f - pads[i] - pads[i + sp]);
    }
    if (outSp.some((o) => o < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty`);
    const { H, W, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = lift2d(sp, inSp, kSp, outSp, strides, dil, pads);
    const X = x.data as Float32Array, Wt = w.data as Float32Array, B = b?.data as Float32Array | undefined;
    const out = allocData(x.type, N * M * OH * OW) as Float32Array;
    const geom: ConvGeom = { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL };
    const f32 = x.type === 'float32' && (!b || b.type === 'float32');
    const depthwise = f32 && C === G && G > 1;
    const kernel = !f32 || depthwise ? null : p.simd && p.simd.w === w ? p.simd.kernel : ConvTransposeKernel.perCall();
    if (kernel) kernel.run(X, Wt, B, geom, out);
    else if (depthwise) convTransposeDepthwise(X, Wt, B, geom, out);
    else convTransposeReference(X, Wt, B, geom, out);
    return [new Tensor(x.type, out, [N, M, ...outSp])];
  },
});

/** The plain TypeScript ConvTranspose (sums in doubles), the reference of the SIMD path. */
export function convTransposeReference(X: ArrayLike<number>, Wt: ArrayLike<number>, B: ArrayLike<number> | undefined, g: ConvGeom, out: { [i: number]: number; length: number }): void {
  const { N, C, H, W, M, G, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
  const MperG = M / G;
  const acc = new Float64Array(N * M * OH * OW);
  const CperG = C / G;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const gi = Math.floor(c / CperG);
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const v = X[((n * C + c) * H + ih) * W + iw];
          for (let mg = 0; mg < MperG; mg++) {
            const m = gi * MperG + mg;
            const wBase = ((c * MperG + mg) * KH) * KW;
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * sH - pT + kh * dH;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * sW - pL + kw * dW;
                if (ow < 0 || ow >= OW) continue;
                acc[((n * M + m) * OH + oh) * OW + ow] += v * Wt[wBase + kh * KW + kw];
              }
            }
          }
        }
    }
  const per = OH * OW;
  for (let i = 0; i < acc.length; i++) out[i] = acc[i] + (B ? B[Math.floor(i / per) % M] : 0);
}

/**
 * Valid output range [lo, hi) of positions o with 0 ≤ o·s + off < size (off = tap offset − pad):
 * lets the tap loops below run without a bounds test per element.
 */
function validRange(count: number, s: number, off: number, size: number): [number, number] {
  const lo = off >= 0 ? 0 : Math.ceil(-off / s);
  const hi = Math.min(count, Math.floor((size - 1 - off) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * Conv with one input channel per group (depthwise, channel multiplier M/G), tap by tap: each
 * output row accumulates w·x over its valid range in float32. A GEMM per channel costs more than
 * these few multiply-adds.
 */
export function convDepthwise(X: Float32Array, Wt: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array): void {
  const { N, C, H, W, M, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
  const MperG = M / C;
  const per = OH * OW;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const y0 = (n * M + m) * per;
      out.fill(B ? B[m] : 0, y0, y0 + per);
      const x0 = (n * C + Math.floor(m / MperG)) * H * W;
      for (let kh = 0; kh < KH; kh++) {
        const [ohLo, ohHi] = validRange(OH, sH, kh * dH - pT, H);
        for (let kw = 0; kw < KW; kw++) {
          const w = Wt[(m * KH + kh) * KW + kw];
          const off = kw * dW - pL;
          const [owLo, owHi] = validRange(OW, sW, off, W);
          for (let oh = ohLo; oh < ohHi; oh++) {
            const xr = x0 + (oh * sH + kh * dH - pT) * W + off;
            const yr = y0 + oh * OW;
            for (let ow = owLo; ow < owHi; ow++) out[yr + ow] += w * X[xr + ow * sW];
          }
        }
      }
    }
}

/** ConvTranspose with one input channel per group (depthwise), tap by tap, scattering in float32. */
export function convTransposeDepthwise(X: Float32Array, Wt: Float32Array, B: Float32Array | undefined, g: ConvGeom, out: Float32Array): void {
  const { N, C, H, W, M, KH, KW, OH, OW, sH, sW, dH, dW, pT, pL } = g;
  const MperG = M / C;
  const per = OH * OW;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const y0 = (n * M + m) * per;
      out.fill(B ? B[m] : 0, y0, y0 + per);
      const c = Math.floor(m / MperG);
      const x0 = (n * C + c) * H * W;
      const w0 = (c * MperG + (m % MperG)) * KH * KW;
      for (let kh = 0; kh < KH; kh++) {
        // input rows ih with 0 ≤ ih·sH − pT + kh·dH < OH
        const [ihLo, ihHi] = validRange(H, sH, kh * dH - pT, OH);
        for (let kw = 0; kw < KW; kw++) {
          const w = Wt[w0 + kh * KW + kw];
          const off = kw * dW - pL;
          const [iwLo, iwHi] = validRange(W, sW, off, OW);
          for (let ih = ihLo; ih < ihHi; ih++) {
            const yr = y0 + (ih * sH + kh * dH - pT) * OW + off;
            const xr = x0 + ih * W;
            for (let iw = iwLo; iw < iwHi; iw++) out[yr + iw * sW] += w * X[xr + iw];
          }
        }
      }
    }
}
