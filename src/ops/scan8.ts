/**
 * Scan opset 8: the opset-9 Scan (control.ts) run once per batch entry. Inputs are
 * [sequence_lens?, states [B, ...]..., scan inputs [B, T, ...]...]; outputs are the final states
 * [B, ...] and the scan outputs [B, T, ...]. `directions` reverses scan inputs. sequence_lens
 * shorter than T would need padded outputs that rnnx does not produce: refused.
 */
import { nodeError } from '../ir/errors.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import { Scan } from './control.js';
import { defineOp, type OpContext, type OpDef } from './op.js';

type AnyArr = { [i: number]: unknown; length: number };

/** Entry b of x along axis 0. */
function entry(x: Tensor, b: number): Tensor {
  const inner = sizeOf(x.dims.slice(1));
  return new Tensor(x.type, (x.data as unknown as { slice(s: number, e: number): TensorData }).slice(b * inner, (b + 1) * inner), x.dims.slice(1));
}

/** Stacks same-shaped tensors along a new axis 0. */
function stack0(ts: Tensor[], ctx: OpContext): Tensor {
  const d = ts[0].dims, inner = ts[0].size;
  if (ts.some((t) => t.type !== ts[0].type || t.dims.length !== d.length || t.dims.some((v, i) => v !== d[i]))) {
    throw nodeError(ctx.node, 'batch entries produced outputs of different shapes or types');
  }
  const out = allocData(ts[0].type, ts.length * inner) as AnyArr;
  ts.forEach((t, b) => { const D = t.data as unknown as AnyArr; for (let i = 0; i < inner; i++) out[b * inner + i] = D[i]; });
  return new Tensor(ts[0].type, out as unknown as TensorData, [ts.length, ...d]);
}

type ScanAttrs = Parameters<typeof Scan.run>[1];

export const Scan8: OpDef<unknown> = defineOp<unknown>({
  parse(ctx, a) {
    const attrs = Scan.parse(ctx, a) as ScanAttrs & { numScanInputs: number };
    const dirs = a.ints('directions');
    return { ...attrs, inDirs: dirs } as unknown;
  },
  run(inputs, p, ctx, _reuse, scope) {
    const M = (p as { numScanInputs: number }).numScanInputs;
    const lens = inputs[0];
    const rest = inputs.slice(1);
    const N = rest.length - M;
    if (N < 0 || rest.some((t) => t === undefined)) throw nodeError(ctx.node, `expected the states and ${M} scan inputs, all present`);
    const ts = rest as Tensor[];
    const B = ts[0].dims[0];
    if (ts.some((t) => t.dims.length < 1 || t.dims[0] !== B)) throw nodeError(ctx.node, `every state and scan input needs the batch axis of size ${B}`);
    const T = ts[N]?.dims[1];
    if (lens) {
      const L = Array.from(lens.data as ArrayLike<number | bigint>, Number);
      if (L.length !== B || L.some((l) => l !== T)) throw nodeError(ctx.node, `sequence_lens [${L}] shorter than the ${T} steps are not supported (padded outputs)`);
    }
    const per: Tensor[][] = [];
    for (let b = 0; b < B; b++) per.push(Scan.run(ts.map((t) => entry(t, b)), p as ScanAttrs, ctx, undefined, scope) as Tensor[]);
    return per[0].map((_, k) => stack0(per.map((o) => o[k]), ctx));
  },
});
