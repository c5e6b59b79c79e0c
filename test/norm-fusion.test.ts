// PyTorch's LayerNorm exported below opset 17 (ReduceMean → Sub → [Cast] → Pow → ReduceMean → Add
// → Sqrt → Div → [Mul γ] → [Add β]) runs as one plan step: bit for bit what the ten nodes give,
// which onnxruntime-node confirms within the suite's tolerance; inputs the fused loop does not
// cover run the nodes as written.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../src/builder/graph-builder.js';
import { exportOnnx } from '../src/export/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';

const r = rng(4242);
const f32 = (v: number[], dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);

interface Variant {
  name: string;
  dims: number[];
  axes: number[];
  cast: 'none' | 'pow' | 'both';
  affine: 0 | 1 | 2;
  opset?: number;
  /** γ/β shape (default: the normalised block) */
  paramDims?: number[];
}

/** The chain as PyTorch 1.x exports it; `keep` also outputs an intermediate, which rules the fusion out. */
function chainModel(v: Variant, keep: boolean): Uint8Array {
  const opset = v.opset ?? 13;
  const b = new GraphBuilder({ opset, name: 'ln' });
  const x = b.input('x', 'float32', v.dims);
  const mean = (t: Value) => (opset >= 18
    ? b.op1('ReduceMean', [t, b.constant('axes', new Tensor('int64', v.axes.map(BigInt), [v.axes.length]))], { keepdims: 1 })
    : b.op1('ReduceMean', [t], { axes: v.axes, keepdims: 1 }));
  const d = b.sub(x, mean(x));
  const dc = v.cast === 'none' ? d : b.op1('Cast', [d], { to: 1 });
  const p = b.op1('Pow', [dc, b.constant('two', f32([2], []))]);
  const s = b.op1('Sqrt', [b.add(mean(p), b.constant('eps', f32([1e-5], [])))]);
  let y = b.div(v.cast === 'both' ? dc : d, s);
  const block = v.paramDims ?? v.dims.slice(v.dims.length - v.axes.length);
  const n = block.reduce((a, c) => a * c, 1);
  const pr = rng(n); // the same γ and β in both models
  if (v.affine >= 1) y = b.mul(y, b.constant('gamma', f32(Array.from({ length: n }, () => 0.5 + pr()), block)));
  if (v.affine >= 2) y = b.add(y, b.constant('beta', f32(Array.from({ length: n }, () => pr() - 0.5), block)));
  b.output(y, 'y');
  if (keep) b.output(b.op1('Identity', [d]), 'd');
  return exportOnnx(b.build());
}

function fusedSteps(bytes: Uint8Array, feeds: Record<string, Tensor>): number {
  const s = InferenceSession.createSync(bytes, { enableProfiling: true });
  s.runSync(feeds);
  return s.endProfiling().ops.find((o) => o.opType === 'LayerNorm chain')?.nodes ?? 0;
}

const variants: Variant[] = [
  { name: 'Silero v2 form (Pow reads a Cast, Div reads the Sub), γ and β', dims: [1, 26, 16], axes: [-1], cast: 'pow', affine: 2 },
  { name: 'no Cast, γ and β', dims: [2, 7, 8], axes: [-1], cast: 'none', affine: 2 },
  { name: 'Cast read by both, γ only', dims: [3, 5], axes: [1], cast: 'both', affine: 1 },
  { name: 'no affine, odd row length', dims: [4, 161], axes: [-1], cast: 'none', affine: 0 },
  { name: 'two trailing axes', dims: [2, 3, 4, 5], axes: [-2, -1], cast: 'none', affine: 2 },
  { name: 'opset 18: axes as an input', dims: [1, 13, 24], axes: [-1], cast: 'none', affine: 2, opset: 18 },
];

describe('LayerNorm chains run as one step', () => {
  it.each(variants)('$name', async (v) => {
    const fused = chainModel(v, false), plain = chainModel(v, true);
    const feeds = { x: randTensor(r, v.dims, 'float32', -3, 3) };
    expect(fusedSteps(fused, feeds)).toBe(1);
    expect(fusedSteps(plain, feeds)).toBe(0);
    const got = InferenceSession.createSync(fused).runSync(feeds).y;
    const want = InferenceSession.createSync(plain).runSync(feeds).y;
    expect(got.dims).toEqual(want.dims);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    const ort = await runOrt(fused, feeds);
    expect(compareTensors(got, ort.y, { rtol: 1e-4, atol: 1e-5 }).message ?? '').toBe('');
  });

  it.each([
    { name: 'axes not the trailing ones', dims: [2, 5, 3], axes: [1], cast: 'none', affine: 0 } as Variant,
    { name: 'γ and β broadcast as one value', dims: [2, 6], axes: [-1], cast: 'pow', affine: 2, paramDims: [1] } as Variant,
  ])('runs the nodes as written when $name', async (v) => {
    const fused = chainModel(v, false), plain = chainModel(v, true);
    const feeds = { x: randTensor(r, v.dims, 'float32', -3, 3) };
    expect(fusedSteps(fused, feeds)).toBe(1);
    const got = InferenceSession.createSync(fused).runSync(feeds).y;
    const want = InferenceSession.createSync(plain).runSync(feeds).y;
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    const ort = await runOrt(fused, feeds);
    expect(compareTensors(got, ort.y, { rtol: 1e-4, atol: 1e-5 }).message ?? '').toBe('');
  });

  it('keeps the nodes when the exponent is not 2 or an intermediate is read elsewhere', () => {
    const v: Variant = { name: '', dims: [2, 8], axes: [-1], cast: 'none', affine: 2 };
    const feeds = { x: randTensor(r, v.dims, 'float32', -3, 3) };
    expect(fusedSteps(chainModel(v, true), feeds)).toBe(0);
    const b = new GraphBuilder({ opset: 13, name: 'ln3' });
    const x = b.input('x', 'float32', [2, 8]);
    const d = b.sub(x, b.op1('ReduceMean', [x], { axes: [-1], keepdims: 1 }));
    const p = b.op1('Pow', [d, b.constant('three', f32([3], []))]);
    b.output(b.div(d, b.op1('Sqrt', [b.add(b.op1('ReduceMean', [p], { axes: [-1], keepdims: 1 }), b.constant('eps', f32([1e-5], [])))])), 'y');
    expect(fusedSteps(exportOnnx(b.build()), feeds)).toBe(0);
  });

  it('names the original node when a fallback fails', () => {
    const v: Variant = { name: '', dims: [2, 6], axes: [-1], cast: 'none', affine: 1, paramDims: [3] };
    const s = InferenceSession.createSync(chainModel(v, false));
    expect(() => s.runSync({ x: randTensor(r, [2, 6], 'float32', -3, 3) })).toThrow(/Mul.*broadcast|broadcast.*Mul|cannot broadcast/i);
  });

  it('keeps shape arithmetic after fused steps (LayerNorm chain, Conv+Relu) in the shape cache', () => {
    const b = new GraphBuilder({ opset: 15, name: 'ln-shape' });
    const x = b.input('x', 'float32', [1, 4, 'T']);
    const c = b.relu(b.op1('Conv', [x, b.constant('w', f32(Array.from({ length: 48 }, (_, i) => Math.sin(i)), [4, 4, 3]))], { pads: [1, 1] }));
    const d = b.sub(c, b.op1('ReduceMean', [c], { axes: [-1], keepdims: 1 }));
    const p = b.op1('Pow', [d, b.constant('two', f32([2], []))]);
    const y = b.div(d, b.op1('Sqrt', [b.add(b.op1('ReduceMean', [p], { axes: [-1], keepdims: 1 }), b.constant('eps', f32([1e-5], [])))]));
    const shp = b.op1('Concat', [b.op1('Shape', [y], { start: 0, end: 1 }), b.constant('m1', new Tensor('int64', [-1n], [1]))], { axis: 0 });
    b.output(b.op1('Reshape', [y, shp]), 'y');
    const s = InferenceSession.createSync(exportOnnx(b.build()));
    expect(s.plan.steps.map((st) => st.node.opType)).toEqual(['Conv+Relu', 'LayerNorm chain', 'Shape', 'Concat', 'Reshape']);
    expect(s.plan.steps.filter((st) => st.shapeOnly).map((st) => st.node.opType)).toEqual(['Shape', 'Concat']);
    for (const T of [5, 5, 9]) expect(s.runSync({ x: randTensor(r, [1, 4, T], 'float32', -1, 1) }).y.dims).toEqual([1, 4 * T]);
  });
});
