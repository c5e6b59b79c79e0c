import type { Node } from '../ir/graph.js';
import { Tensor, allocData, sameDims } from '../ir/tensor.js';
import { defineOp, type OpDef } from '../ops/op.js';
import type { ParsedStep } from './epilogue.js';

/**
 * PyTorch's LayerNorm as exported below opset 17 is a chain of ten nodes:
 *
 *   m = ReduceMean(x, axes)   d = Sub(x, m)   [d = Cast(d, to=float)]   p = Pow(d, 2)
 *   v = ReduceMean(p, axes)   e = Add(v, ε)   s = Sqrt(e)   y = Div(d, s)   [Mul(y, γ)]   [Add(·, β)]
 *
 * Silero v2/v3 run eight of them, each on a few hundred values: ten nodes' fixed costs for a few
 * microseconds of arithmetic. The plan runs such a chain as one step that does the same float32
 * operations in the same order (each node's rounding kept: the mean and the variance summed in
 * doubles as ReduceMean sums, then rounded), so the result is the chain's own, bit for bit. A
 * chain whose inputs at run time fall outside that (not float32, axes not the trailing ones, γ or
 * β not one value per normalised element) runs its nodes as written, with their own checks.
 */

interface Sub {
  readonly def: OpDef<unknown>;
  readonly attrs: unknown;
  readonly ctx: ParsedStep['ctx'];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

interface NormChainAttrs {
  /** The reduced axes (as written: resolved against the input's rank at run time). */
  readonly axes: readonly number[];
  readonly eps: number;
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;
  /** The chain's nodes in order, for inputs the fused loop does not cover. */
  readonly chain: readonly Sub[];
  /** The chain's input x and the constants its nodes read. */
  readonly x: string;
  readonly constants: ReadonlyMap<string, Tensor>;
  readonly output: string;
  /** The normalised block's size for the input dims last seen (replaced, never mutated). */
  last?: { readonly dims: readonly number[]; readonly inner: number };
}

const NormChain = defineOp<NormChainAttrs>({
  parse: () => {
    throw new Error('LayerNorm chains are made by fuseLayerNormChains, never parsed');
  },
  run(inputs, f) {
    const x = inputs[0];
    if (x && x.type === 'float32' && x.dims.length > 0) {
      const last = f.last;
      let inner: number;
      if (last && sameDims(last.dims, x.dims)) inner = last.inner;
      else f.last = { dims: x.dims, inner: (inner = trailingSize(x.dims, f.axes)) };
      if (inner > 0 && fitsBlock(f.gamma, x.dims, inner) && fitsBlock(f.beta, x.dims, inner)) {
        return [new Tensor('float32', normRows(x.data as Float32Array, inner, f), x.dims)];
      }
    }
    // As written, node by node.
    const values = new Map<string, Tensor | undefined>([[f.x, x]]);
    for (const s of f.chain) {
      const args = s.inputs.map((n) => (n ? (values.has(n) ? values.get(n) : f.constants.get(n)) : undefined));
      const outs = s.def.run(args, s.attrs, s.ctx);
      s.outputs.forEach((o, i) => o && values.set(o, outs[i]));
    }
    return [values.get(f.output)];
  },
});

/** The number of elements of the trailing axes `axes` names, or 0 when they are not exactly the trailing ones. */
function trailingSize(dims: readonly number[], axes: readonly number[]): number {
  const r = dims.length;
  const norm = axes.map((a) => (a < 0 ? a + r : a));
  if (norm.some((a) => a < 0 || a >= r)) return 0;
  const sorted = [...new Set(norm)].sort((a, b) => a - b);
  if (sorted.length !== axes.length || sorted[0] !== r - sorted.length) return 0;
  let n = 1;
  for (let i = sorted[0]; i < r; i++) n *= dims[i];
  return n;
}

/** γ or β holds one float32 value per element of the normalised block and broadcasts without growing x. */
function fitsBlock(t: Tensor | null, dims: readonly number[], inner: number): boolean {
  if (t === null) return true;
  if (t.type !== 'float32' || t.size !== inner || t.dims.length > dims.length) return false;
  for (let i = 1; i <= t.dims.length; i++) {
    const d = t.dims[t.dims.length - i];
    if (d !== 1 && d !== dims[dims.length - i]) return false;
  }
  return true;
}

/** The chain's arithmetic over rows of `inner` values, rounding to float32 where each node would. */
function normRows(X: Float32Array, inner: number, f: NormChainAttrs): Float32Array {
  const Y = allocData('float32', X.length) as Float32Array; // every element is written
  const G = f.gamma ? (f.gamma.data as Float32Array) : null;
  const B = f.beta ? (f.beta.data as Float32Array) : null;
  const eps = f.eps, fr = Math.fround;
  for (let base = 0; base < X.length; base += inner) {
    let sum = 0;
    for (let i = 0; i < inner; i++) sum += X[base + i];
    const m = fr(sum / inner);
    let sq = 0;
    for (let i = 0; i < inner; i++) {
      const d = fr(X[base + i] - m);
      sq += fr(d * d);
    }
    const s = fr(Math.sqrt(fr(fr(sq / inner) + eps)));
    for (let i = 0; i < inner; i++) {
      let y = fr(fr(X[base + i] - m) / s);
      if (G) y = fr(y * G[i]);
      if (B) y += B[i];
      Y[base + i] = y;
    }
  }
  return Y;
}

function scalarOf(t: Tensor | undefined): number | undefined {
  if (!t || t.size !== 1 || (t.type !== 'float32' && t.type !== 'float64')) return undefined;
  return Number((t.data as Float32Array)[0]);
}

function intsAttr(node: Node, name: string): readonly number[] | undefined {
  const a = node.attributes.get(name);
  return a && a.type === 'ints' ? a.value : undefined;
}

function intAttr(node: Node, name: string, dflt: number): number {
  const a = node.attributes.get(name);
  return a && a.type === 'int' ? a.value : dflt;
}

/**
 * Replaces each LayerNorm chain (see above) whose intermediate values nothing else reads by one
 * NormChain step at the place of its last node. `reads(name)` counts the steps and subgraphs that
 * read a value; graph outputs are never fused away.
 */
export function fuseLayerNormChains(
  steps: readonly ParsedStep[], constants: ReadonlyMap<string, Tensor>, reads: (name: string) => number, isOutput: (name: string) => boolean,
): ParsedStep[] {
  const readers = new Map<string, number[]>();
  steps.forEach((s, i) => s.node.inputs.forEach((n) => {
    if (!n) return;
    const l = readers.get(n) ?? [];
    if (!l.includes(i)) l.push(i);
    readers.set(n, l);
  }));
  const plain = (s: ParsedStep | undefined, op: string) => s !== undefined && s.node.opType === op && s.node.domain === '';
  /** The one step that reads `name` (which nothing else reads, and is no graph output). */
  const onlyReader = (name: string | undefined, want: number): number | undefined => {
    if (!name || isOutput(name) || reads(name) !== want) return undefined;
    const l = readers.get(name);
    return l && l.length === 1 ? l[0] : undefined;
  };
  /** The step, of type `op`, that alone reads `name`. */
  const nextStep = (name: string | undefined, op: string): number | undefined => {
    const j = onlyReader(name, 1);
    return j !== undefined && plain(steps[j], op) ? j : undefined;
  };
  const axesOf = (s: ParsedStep): readonly number[] | undefined => {
    if (intAttr(s.node, 'keepdims', 1) !== 1) return undefined;
    const fromInput = s.node.inputs[1] ? constants.get(s.node.inputs[1]) : undefined;
    if (s.node.inputs[1] && (!fromInput || fromInput.type !== 'int64')) return undefined;
    const axes = fromInput ? Array.from(fromInput.data as BigInt64Array, Number) : intsAttr(s.node, 'axes');
    return axes && axes.length > 0 ? axes : undefined;
  };
  const out: (ParsedStep | null)[] = steps.slice();
  const used = new Set<number>();
  steps.forEach((s0, i0) => {
    if (used.has(i0) || !plain(s0, 'ReduceMean') || s0.node.outputs.length !== 1) return;
    const axes = axesOf(s0);
    const x = s0.node.inputs[0];
    if (!axes || !x) return;
    const chain: number[] = [i0];
    // d = Sub(x, m)
    const iSub = nextStep(s0.node.outputs[0], 'Sub');
    if (iSub === undefined) return;
    const sub = steps[iSub];
    if (sub.node.inputs[0] !== x || sub.node.inputs[1] !== s0.node.outputs[0]) return;
    chain.push(iSub);
    const d = sub.node.outputs[0];
    if (!d || isOutput(d)) return;
    // Pow(d, 2) and Div(d, s), or through a Cast to float of d for either or both (PyTorch 1.x
    // exports Pow(Cast(d)) and Div(d, ·)): d and the cast read by these and nothing else
    const dReaders = readers.get(d) ?? [];
    const iCast = dReaders.find((j) => plain(steps[j], 'Cast'));
    const dc = iCast === undefined ? undefined : steps[iCast].node.outputs[0];
    if (iCast !== undefined && (intAttr(steps[iCast].node, 'to', 0) !== 1 || !dc || isOutput(dc))) return;
    const both = [...dReaders, ...(dc ? readers.get(dc) ?? [] : [])].filter((j) => j !== iCast);
    if (both.length !== 2 || reads(d) !== dReaders.length || (dc !== undefined && reads(dc) !== (readers.get(dc) ?? []).length)) return;
    if (dReaders.some((j) => steps[j].node.inputs.filter((n) => n === d).length !== 1)) return;
    const iPow = both.find((j) => plain(steps[j], 'Pow'));
    const iDiv = both.find((j) => plain(steps[j], 'Div'));
    if (iPow === undefined || iDiv === undefined) return;
    const pow = steps[iPow], div = steps[iDiv];
    if ((pow.node.inputs[0] !== d && pow.node.inputs[0] !== dc) || scalarOf(constants.get(pow.node.inputs[1])) !== 2) return;
    if (div.node.inputs[0] !== d && div.node.inputs[0] !== dc) return;
    if (iCast !== undefined) chain.push(iCast);
    // v = ReduceMean(p) over the same axes
    const iVar = nextStep(pow.node.outputs[0], 'ReduceMean');
    if (iVar === undefined) return;
    const rv = steps[iVar];
    if (rv.node.inputs[0] !== pow.node.outputs[0]) return;
    const axes2 = axesOf(rv);
    if (!axes2 || axes2.length !== axes.length || axes2.some((a, k) => a !== axes[k])) return;
    // e = Add(v, ε)
    const iEps = nextStep(rv.node.outputs[0], 'Add');
    if (iEps === undefined) return;
    const add = steps[iEps];
    const vAt = add.node.inputs.indexOf(rv.node.outputs[0]);
    const eps = vAt < 0 ? undefined : scalarOf(constants.get(add.node.inputs[1 - vAt]));
    if (eps === undefined || constants.get(add.node.inputs[1 - vAt])!.type !== 'float32') return;
    // s = Sqrt(e), read by the Div alone
    const iSqrt = nextStep(add.node.outputs[0], 'Sqrt');
    if (iSqrt === undefined) return;
    const sqrt = steps[iSqrt];
    if (onlyReader(sqrt.node.outputs[0], 1) !== iDiv || div.node.inputs[1] !== sqrt.node.outputs[0]) return;
    chain.push(iPow, iVar, iEps, iSqrt, iDiv);
    let y = div.node.outputs[0];
    let last = iDiv;
    // optional Mul(·, γ), then Add(·, β), γ and β constants
    const affine = (op: 'Mul' | 'Add'): Tensor | null => {
      const j = nextStep(y, op);
      if (j === undefined || steps[j].node.inputs.length !== 2) return null;
      const s = steps[j];
      const at = s.node.inputs.indexOf(y);
      const c = at < 0 ? undefined : constants.get(s.node.inputs[1 - at]);
      if (!c || c.type !== 'float32') return null;
      chain.push(j);
      y = s.node.outputs[0];
      last = j;
      return c;
    };
    const gamma = affine('Mul');
    const beta = gamma ? affine('Add') : null;
    if (!y || chain.some((j) => used.has(j)) || chain.some((j) => j > last)) return;
    // Every step of the chain must come after x exists and before anything reads y: the fused
    // step takes the last node's place, so the chain's nodes must be the only readers in between.
    const sorted = [...chain].sort((a, b) => a - b);
    const subs: Sub[] = sorted.map((j) => ({ def: steps[j].def, attrs: steps[j].attrs, ctx: steps[j].ctx, inputs: steps[j].node.inputs, outputs: steps[j].node.outputs }));
    const consts = new Map<string, Tensor>();
    for (const j of sorted) for (const n of steps[j].node.inputs) if (n && constants.has(n)) consts.set(n, constants.get(n)!);
    const node: Node = {
      ...steps[last].node, name: `LayerNorm(${s0.node.name} … ${steps[last].node.name})`, opType: 'LayerNorm chain',
      inputs: [x], outputs: [y], attributes: new Map(),
    };
    const attrs: NormChainAttrs = { axes, eps, gamma, beta, chain: subs, x, constants: consts, output: y };
    for (const j of chain) {
      used.add(j);
      out[j] = null;
    }
    out[last] = { node, def: NormChain as OpDef<unknown>, ctx: { ...steps[last].ctx, node }, attrs };
  });
  return out.filter((s): s is ParsedStep => s !== null);
}
