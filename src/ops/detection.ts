import { nodeError } from '../ir/errors.js';
import { Tensor, allocData } from '../ir/tensor.js';
import { checkType, defineOp, need } from './op.js';

/** NonMaxSuppression: greedy per batch and class, by score, dropping boxes whose IoU exceeds the threshold. */
export const NonMaxSuppression = defineOp({
  parse: (_c, a) => a.int('center_point_box', 0) !== 0,
  run(inputs, center, ctx) {
    const boxes = need(inputs, 0, ctx, 'boxes'), scores = need(inputs, 1, ctx, 'scores');
    checkType(boxes, ['float32'], 0, ctx, 'boxes');
    const [B, S] = boxes.dims;
    const C = scores.dims[1];
    if (boxes.dims.length !== 3 || boxes.dims[2] !== 4 || scores.dims.length !== 3 || scores.dims[0] !== B || scores.dims[2] !== S) {
      throw nodeError(ctx.node, `boxes [${boxes.dims}] and scores [${scores.dims}] must be [B, S, 4] and [B, C, S]`);
    }
    const maxOut = inputs[2] && inputs[2].size ? Number(inputs[2].data[0]) : 0;
    const iouT = inputs[3] && inputs[3].size ? Number(inputs[3].data[0]) : 0;
    const scoreT = inputs[4] && inputs[4].size ? Number(inputs[4].data[0]) : -Infinity;
    const BX = boxes.data as Float32Array, SC = scores.data as Float32Array;
    const corners = (b: number, i: number): [number, number, number, number] => {
      const o = (b * S + i) * 4;
      if (center) {
        const [xc, yc, w, h] = [BX[o], BX[o + 1], BX[o + 2], BX[o + 3]];
        return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2];
      }
      const [y1, x1, y2, x2] = [BX[o], BX[o + 1], BX[o + 2], BX[o + 3]];
      return [Math.min(y1, y2), Math.min(x1, x2), Math.max(y1, y2), Math.max(x1, x2)];
    };
    const iou = (a: number[], b: number[]) => {
      const ih = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
      const iw = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
      const inter = ih * iw;
      const ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
      return ua > 0 ? inter / ua : 0;
    };
    const picked: number[] = [];
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++) {
        const cand = Array.from({ length: S }, (_, i) => i).filter((i) => SC[(b * C + c) * S + i] > scoreT);
        cand.sort((i, j) => SC[(b * C + c) * S + j] - SC[(b * C + c) * S + i] || i - j);
        const kept: number[][] = [];
        for (const i of cand) {
          if (kept.length >= maxOut) break;
          const box = corners(b, i);
          if (kept.every((k) => iou(k, box) <= iouT)) {
            kept.push(box);
            picked.push(b, c, i);
          }
        }
      }
    return [new Tensor('int64', BigInt64Array.from(picked, BigInt), [picked.length / 3, 3])];
  },
});

/** RoiAlign (opset 10/16): bilinear samples averaged (or maxed) per output bin of each region. */
export const RoiAlign = defineOp({
  parse: (ctx, a) => {
    const mode = a.string('mode', 'avg');
    if (mode !== 'avg' && mode !== 'max') throw a.error('mode', `expected avg or max, got '${mode}'`);
    const coord = ctx.opset >= 16 ? a.string('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel';
    if (coord !== 'half_pixel' && coord !== 'output_half_pixel') throw a.error('coordinate_transformation_mode', `unsupported '${coord}'`);
    return {
      mode, halfPixel: coord === 'half_pixel', outH: a.int('output_height', 1), outW: a.int('output_width', 1),
      ratio: a.int('sampling_ratio', 0), scale: a.float('spatial_scale', 1),
    };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), rois = need(inputs, 1, ctx, 'rois'), bi = need(inputs, 2, ctx, 'batch_indices');
    checkType(x, ['float32', 'float64'], 0, ctx, 'X');
    const [, C, H, W] = x.dims;
    const R = rois.dims[0];
    if (x.dims.length !== 4 || rois.dims.length !== 2 || rois.dims[1] !== 4 || bi.size !== R) throw nodeError(ctx.node, `X [${x.dims}], rois [${rois.dims}], batch_indices [${bi.dims}] do not fit`);
    const X = x.data as Float32Array, RO = rois.data as Float32Array;
    const B = Array.from(bi.data as ArrayLike<number | bigint>, Number);
    const { outH, outW } = p;
    const out = allocData(x.type, R * C * outH * outW) as Float32Array;
    const off = p.halfPixel ? 0.5 : 0;
    for (let r = 0; r < R; r++) {
      const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => RO[r * 4 + k] * p.scale - off);
      let rw = x2 - x1, rh = y2 - y1;
      if (!p.halfPixel) { rw = Math.max(rw, 1); rh = Math.max(rh, 1); }
      const bh = rh / outH, bw = rw / outW;
      const gh = p.ratio > 0 ? p.ratio : Math.ceil(rh / outH), gw = p.ratio > 0 ? p.ratio : Math.ceil(rw / outW);
      const count = Math.max(gh * gw, 1);
      for (let c = 0; c < C; c++) {
        const base = (B[r] * C + c) * H * W;
        for (let ph = 0; ph < outH; ph++)
          for (let pw = 0; pw < outW; pw++) {
            let acc = p.mode === 'max' ? -Infinity : 0;
            for (let iy = 0; iy < gh; iy++) {
              const yy = y1 + ph * bh + ((iy + 0.5) * bh) / gh;
              for (let ix = 0; ix < gw; ix++) {
                const xx = x1 + pw * bw + ((ix + 0.5) * bw) / gw;
                // bilinear with onnxruntime's edge rules
                if (yy < -1 || yy > H || xx < -1 || xx > W) { if (p.mode === 'max') acc = Math.max(acc, 0); continue; }
                let y = Math.max(yy, 0), xv = Math.max(xx, 0);
                let yl = Math.floor(y), xl = Math.floor(xv), yh: number, xh: number;
                if (yl >= H - 1) { yh = yl = H - 1; y = yl; } else yh = yl + 1;
                if (xl >= W - 1) { xh = xl = W - 1; xv = xl; } else xh = xl + 1;
                const ly = y - yl, lx = xv - xl, hy = 1 - ly, hx = 1 - lx;
                const v = [hy * hx * X[base + yl * W + xl], hy * lx * X[base + yl * W + xh], ly * hx * X[base + yh * W + xl], ly * lx * X[base + yh * W + xh]];
                if (p.mode === 'max') acc = Math.max(acc, ...v);
                else acc += v[0] + v[1] + v[2] + v[3];
              }
            }
            out[((r * C + c) * outH + ph) * outW + pw] = p.mode === 'max' ? acc : acc / count;
          }
      }
    }
    return [new Tensor(x.type, out, [R, C, outH, outW])];
  },
});
