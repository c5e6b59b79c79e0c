import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import { checkType, defineOp, FLOATS, need, type AttrReader, type OpContext } from './op.js';

interface PoolAttrs {
  autoPad: string;
  ceil: boolean;
  dilations?: readonly number[];
  kernel: readonly number[];
  pads?: readonly number[];
  strides?: readonly number[];
  countIncludePad: boolean;
  storageOrder: number;
}

/** kernel_shape, strides, dilations ≥ 1 and pads ≥ 0 (a kernel of 0 would pool nothing and give NaN). */
function checkWindow(a: AttrReader, p: { kernel: readonly number[]; strides?: readonly number[]; dilations?: readonly number[]; pads?: readonly number[] }): void {
  const bad = (name: string, v: readonly number[] | undefined, min: number) => {
    if (v && v.some((x) => !Number.isInteger(x) || x < min)) throw a.error(name, `values must be integers >= ${min}, got [${v}]`);
  };
  bad('kernel_shape', p.kernel, 1);
  bad('strides', p.strides, 1);
  bad('dilations', p.dilations, 1);
  bad('pads', p.pads, 0);
}

function parsePool(ctx: OpContext, a: AttrReader, max: boolean): PoolAttrs {
  const p = parsePoolAttrs(ctx, a, max);
  checkWindow(a, p);
  return p;
}

function parsePoolAttrs(ctx: OpContext, a: AttrReader, max: boolean): PoolAttrs {
  const kernel = a.ints('kernel_shape');
  if (!kernel) throw a.error('kernel_shape', 'is required');
  const autoPad = a.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw a.error('auto_pad', `unknown value '${autoPad}'`);
  return {
    autoPad, kernel,
    ceil: ctx.opset >= 10 ? a.int('ceil_mode', 0) !== 0 : false,
    dilations: max ? (ctx.opset >= 10 ? a.ints('dilations') : undefined) : (ctx.opset >= 19 ? a.ints('dilations') : undefined),
    pads: a.ints('pads'),
    strides: a.ints('strides'),
    countIncludePad: max ? false : a.int('count_include_pad', 0) !== 0,
    storageOrder: max && ctx.opset >= 8 ? a.int('storage_order', 0) : 0,
  };
}

/** MaxPool / AveragePool over 1-D or 2-D spatial dims (1-D runs as 2-D with height 1). */
function poolOp(max: boolean) {
  return defineOp<PoolAttrs>({
    parse: (ctx, a) => parsePool(ctx, a, max),
    run(inputs, p, ctx) {
      const x = need(inputs, 0, ctx, 'X');
      checkType(x, max ? [...FLOATS, 'int8', 'uint8'] : FLOATS, 0, ctx, 'X');
      const sp = x.dims.length - 2;
      if (sp !== 1 && sp !== 2) throw nodeError(ctx.node, `only 1-D and 2-D pooling is supported, X has rank ${x.dims.length}`);
      if (p.kernel.length !== sp) throw nodeError(ctx.node, `attribute 'kernel_shape' has ${p.kernel.length} values for ${sp} spatial dims`);
      if (!max && p.storageOrder) throw nodeError(ctx.node, 'storage_order applies to MaxPool only');
      const inSp = x.dims.slice(2);
      const strides = p.strides ?? inSp.map(() => 1);
      const dil = p.dilations ?? inSp.map(() => 1);
      let pads = [...(p.pads ?? new Array(2 * sp).fill(0))];
      const eff = p.kernel.map((k, i) => dil[i] * (k - 1) + 1);
      let outSp: number[];
      if (p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
        outSp = inSp.map((d, i) => Math.ceil(d / strides[i]));
        pads = new Array(2 * sp).fill(0);
        outSp.forEach((o, i) => {
          const total = Math.max(0, (o - 1) * strides[i] + eff[i] - inSp[i]);
          const small = Math.floor(total / 2);
          pads[i] = p.autoPad === 'SAME_UPPER' ? small : total - small;
          pads[i + sp] = total - pads[i];
        });
      } else if (p.autoPad === 'VALID') {
        pads = new Array(2 * sp).fill(0);
        outSp = inSp.map((d, i) => Math.floor((d - eff[i]) / strides[i]) + 1);
      } else {
        outSp = inSp.map((d, i) => {
          const span = (d + pads[i] + pads[i + sp] - eff[i]) / strides[i];
          let o = (p.ceil ? Math.ceil(span) : Math.floor(span)) + 1;
          // ceil_mode: the last window must start inside the input or left padding
          if (p.ceil && (o - 1) * strides[i] >= d + pads[i]) o--;
          return o;
        });
      }
      if (outSp.some((o) => o < 1)) throw nodeError(ctx.node, `output spatial shape [${outSp}] is empty for X [${x.dims}]`);
      const [N, C] = x.dims;
      const [H, W] = sp === 2 ? inSp : [1, inSp[0]];
      const [KH, KW] = sp === 2 ? p.kernel : [1, p.kernel[0]];
      const [OH, OW] = sp === 2 ? outSp : [1, outSp[0]];
      const [sH, sW] = sp === 2 ? strides : [1, strides[0]];
      const [dH, dW] = sp === 2 ? dil : [1, dil[0]];
      const [pT, pL] = sp === 2 ? [pads[0], pads[1]] : [0, pads[0]];
      const [pB, pR] = sp === 2 ? [pads[2], pads[3]] : [0, pads[1]];
      const X = x.data as Float32Array;
      const Y = allocData(x.type, N * C * OH * OW) as Float32Array;
      const I = max ? new BigInt64Array(N * C * OH * OW) : null;
      for (let nc = 0; nc < N * C; nc++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            let best = -Infinity, bestAt = -1, sum = 0, count = 0;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sH - pT + kh * dH;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sW - pL + kw * dW;
                const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                if (!inside) {
                  // count_include_pad counts the explicit padding, not windows overhanging it (ceil_mode)
                  if (!max && p.countIncludePad && ih >= -pT && ih < H + pB && iw >= -pL && iw < W + pR) count++;
                  continue;
                }
                const v = X[(nc * H + ih) * W + iw];
                if (max) {
                  if (v > best || bestAt < 0) { best = v; bestAt = ih * W + iw; }
                } else {
                  sum += v;
                  count++;
                }
              }
            }
            const o = (nc * OH + oh) * OW + ow;
            if (max) {
              Y[o] = best;
              const c = nc % C, n = (nc - c) / C;
              // Indices into the flattened input; storage_order 1 is column-major over (h, w).
              const hw = p.storageOrder ? (bestAt % W) * H + Math.floor(bestAt / W) : bestAt;
              I![o] = BigInt((n * C + c) * H * W + hw);
            } else Y[o] = count ? sum / count : 0;
          }
      const dims = [N, C, ...outSp];
      return max ? [new Tensor(x.type, Y, dims), new Tensor('int64', I!, dims)] : [new Tensor(x.type, Y, dims)];
    },
  });
}

export const MaxPool = poolOp(true);
export const AveragePool = poolOp(false);

/** MaxUnpool: scatters X to the positions given by MaxPool's Indices in a zero tensor. */
export const MaxUnpool = defineOp({
  parse: (_c, a) => {
    const kernel = a.ints('kernel_shape');
    if (!kernel) throw a.error('kernel_shape', 'is required');
    const p = { kernel, pads: a.ints('pads'), strides: a.ints('strides') };
    checkWindow(a, p);
    return p;
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), idx = need(inputs, 1, ctx, 'I');
    checkType(idx, ['int64'], 1, ctx, 'I');
    const sp = x.dims.length - 2;
    const pads = p.pads ?? new Array(2 * sp).fill(0);
    const strides = p.strides ?? new Array(sp).fill(1);
    // Indices address the default unpooled shape; a given output_shape keeps each value's coordinates.
    const dflt = [x.dims[0], x.dims[1], ...x.dims.slice(2).map((d, i) => (d - 1) * strides[i] + p.kernel[i] - pads[i] - pads[i + sp])];
    const shapeT = inputs[2];
    const outDims = shapeT ? Array.from(shapeT.data as BigInt64Array, Number) : dflt;
    if (outDims.length !== dflt.length || outDims.some((d, i) => d < dflt[i])) throw nodeError(ctx.node, `output_shape [${outDims}] is smaller than [${dflt}]`);
    const out = allocData(x.type, sizeOf(outDims)) as { length: number; [i: number]: unknown };
    const X = x.data as { length: number; [i: number]: unknown }, I = idx.data as BigInt64Array;
    const ds = dflt.map((_, i) => sizeOf(dflt.slice(i + 1))), os = outDims.map((_, i) => sizeOf(outDims.slice(i + 1)));
    for (let k = 0; k < x.size; k++) {
      let rem = Number(I[k]);
      if (rem < 0 || rem >= sizeOf(dflt)) throw nodeError(ctx.node, `index ${rem} is outside the unpooled shape [${dflt}]`);
      let at = 0;
      for (let d = 0; d < dflt.length; d++) {
        const c = Math.floor(rem / ds[d]);
        rem -= c * ds[d];
        at += c * os[d];
      }
      out[at] = X[k];
    }
    return [new Tensor(x.type, out as TensorData, outDims)];
  },
});
