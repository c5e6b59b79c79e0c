import type { Node } from '../ir/graph.js';
import { Tensor, allocData, sameDims } from '../ir/tensor.js';
import { Conv, convForward, type ConvParsed } from '../ops/conv.js';
import { Add } from '../ops/elementwise.js';
import { MatMul } from '../ops/matmul.js';
import { defineOp, type OpContext, type OpDef } from '../ops/op.js';
import type { PackedMatrix } from '../wasm/gemm.js';

/** A parsed plan step, as ExecutionPlan holds it before it works out lifetimes. */
export interface ParsedStep {
  readonly node: Node;
  readonly def: OpDef<unknown>;
  readonly ctx: OpContext;
  readonly attrs: unknown;
}

interface MatMulBiasAttrs {
  /** The output dims for the input dims last seen (replaced, never mutated). */
  last?: { readonly a: readonly number[]; readonly y: readonly number[] };
  readonly packed: PackedMatrix;
  readonly bias: Tensor;
  /** The Add read the bias first (`Add(b, x·W)`); only matters for the fallback, addition commutes. */
  readonly biasFirst: boolean;
  readonly add: { readonly attrs: unknown; readonly ctx: OpContext };
}

/** A's dims with the last one N, kept for the dims last seen. */
function outDims(f: MatMulBiasAttrs, a: readonly number[], N: number): readonly number[] {
  const last = f.last;
  if (last && sameDims(last.a, a)) return last.y;
  const y = [...a.slice(0, -1), N];
  f.last = { a, y };
  return y;
}

/**
 * MatMul against a packed constant weight followed by Add of a constant bias row: the bias is
 * added in the SIMD GEMM's epilogue, before the one copy out of WebAssembly memory. Inputs are
 * (A, W, bias). Anything the fast path does not cover runs the two ops as written, with their own
 * checks and messages.
 */
const MatMulBias = defineOp<MatMulBiasAttrs>({
  parse: () => {
    throw new Error('MatMul+Add steps are made by fuseBiasAdds, never parsed');
  },
  run(inputs, f, ctx) {
    const a = inputs[0];
    const { packed, bias } = f;
    if (a && a.type === 'float32' && a.dims.length >= Math.max(2, bias.dims.length) && a.dims[a.dims.length - 1] === packed.K) {
      const M = a.size / packed.K;
      // every element is written: the run's arena may hand back a recycled array
      const out = allocData('float32', M * packed.N) as Float32Array;
      packed.multiply(a.data as Float32Array, M, out, bias.data as Float32Array);
      return [new Tensor('float32', out, outDims(f, a.dims, packed.N))];
    }
    const [y] = MatMul.run([inputs[0], inputs[1]], packed, ctx);
    return Add.run(f.biasFirst ? [bias, y] : [y, bias], f.add.attrs as null, f.add.ctx, (i) => i === (f.biasFirst ? 1 : 0));
  },
});

/**
 * Fuses each MatMul whose weight was packed (a constant float32 matrix) with the Add that alone
 * reads its result, when the Add's other input is a constant float32 row of N values: PyTorch's
 * Linear on inputs of rank 3 and more exports as exactly this pair. Saves a pass over the output
 * and keeps the sum (A·W)[m, n] + b[n] bit for bit. `reads(name)` counts the steps (and subgraphs)
 * that read a value; graph outputs are never fused away.
 */
export function fuseBiasAdds(
  steps: readonly ParsedStep[], constants: ReadonlyMap<string, Tensor>, reads: (name: string) => number, isOutput: (name: string) => boolean,
): ParsedStep[] {
  const readerOf = new Map<string, number>();
  steps.forEach((s, i) => s.node.inputs.forEach((n) => n && readerOf.set(n, i)));
  const out: ParsedStep[] = steps.slice();
  const dropped = new Set<number>();
  steps.forEach((s, i) => {
    if (s.def !== MatMul || !s.attrs || s.node.outputs.length !== 1) return;
    const y = s.node.outputs[0];
    if (!y || isOutput(y) || reads(y) !== 1) return;
    const j = readerOf.get(y);
    if (j === undefined) return;
    const add = steps[j];
    if (add.def !== Add || add.node.inputs.length !== 2) return;
    const yi = add.node.inputs.indexOf(y);
    const biasName = add.node.inputs[1 - yi];
    const bias = constants.get(biasName);
    const packed = s.attrs as PackedMatrix;
    if (!bias || bias.type !== 'float32' || bias.size !== packed.N || bias.dims[bias.dims.length - 1] !== packed.N) return;
    const node: Node = {
      ...s.node, name: `${s.node.name} + ${add.node.name}`, opType: 'MatMul+Add',
      inputs: [s.node.inputs[0], s.node.inputs[1], biasName], outputs: add.node.outputs,
    };
    const attrs: MatMulBiasAttrs = { packed, bias, biasFirst: yi === 1, add: { attrs: add.attrs, ctx: add.ctx } };
    out[i] = { node, def: MatMulBias as OpDef<unknown>, ctx: s.ctx, attrs };
    dropped.add(j);
  });
  return out.filter((_, i) => !dropped.has(i));
}

interface ConvActAttrs {
  readonly conv: ConvParsed;
  readonly act: { readonly def: OpDef<unknown>; readonly attrs: unknown; readonly ctx: OpContext };
}

/**
 * Conv followed by the Relu that alone reads its result: the Relu is applied in WebAssembly memory
 * before the Conv's one copy out (float32), with the Relu op's own arithmetic (NaN stays NaN).
 * Other types run the two ops as written.
 */
const ConvRelu = defineOp<ConvActAttrs>({
  parse: () => {
    throw new Error('Conv+Relu steps are made by fuseConvActivations, never parsed');
  },
  run(inputs, f, ctx) {
    if (inputs[0]?.type === 'float32') return [convForward(inputs, f.conv, ctx, 'relu')];
    const [y] = Conv.run(inputs, f.conv, ctx);
    return f.act.def.run([y], f.act.attrs, f.act.ctx, () => true);
  },
});

/**
 * Fuses each Conv with a Relu that alone reads its output (neither is a graph output): one pass
 * over the result less, and no intermediate tensor. `reads(name)` counts the steps (and
 * subgraphs) that read a value.
 */
export function fuseConvActivations(steps: readonly ParsedStep[], reads: (name: string) => number, isOutput: (name: string) => boolean): ParsedStep[] {
  const readerOf = new Map<string, number>();
  steps.forEach((s, i) => s.node.inputs.forEach((n) => n && readerOf.set(n, i)));
  const out: ParsedStep[] = steps.slice();
  const dropped = new Set<number>();
  steps.forEach((s, i) => {
    if (s.def !== Conv || s.node.outputs.length !== 1) return;
    const y = s.node.outputs[0];
    if (!y || isOutput(y) || reads(y) !== 1) return;
    const j = readerOf.get(y);
    if (j === undefined) return;
    const act = steps[j];
    if (act.node.opType !== 'Relu' || act.node.domain !== '' || act.node.inputs.length !== 1 || act.node.inputs[0] !== y) return;
    const node: Node = { ...s.node, name: `${s.node.name} + ${act.node.name}`, opType: 'Conv+Relu', outputs: act.node.outputs };
    const attrs: ConvActAttrs = { conv: s.attrs as ConvParsed, act: { def: act.def, attrs: act.attrs, ctx: act.ctx } };
    out[i] = { node, def: ConvRelu as OpDef<unknown>, ctx: s.ctx, attrs };
    dropped.add(j);
  });
  return out.filter((_, i) => !dropped.has(i));
}
