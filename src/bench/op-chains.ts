// npm run bench -- --ops: the fixed cost of one node, per op type, in rnnx and onnxruntime.
//
// Real models such as Silero v2/v3 or GTCRN run hundreds of nodes on tensors of a few hundred to
// a few thousand elements; their time is the sum of each node's fixed cost, not arithmetic. Each
// row here is a chain of 100 nodes of one op (or one pair of ops that restores the shape) on a
// tensor of the size those models use, timed in rnnx, onnxruntime-node and onnxruntime-web (one
// thread each, in one process) and divided by the chain's length. `Identity` is the executor's
// own cost per node; the other rows add the op's. onnxruntime runs with graph optimizations off,
// so that it too runs every node (it would otherwise cancel a Transpose pair or a Reshape pair).
import { GraphBuilder, type Value } from '../builder/graph-builder.js';
import { exportOnnx } from '../export/onnx.js';
import { InferenceSession } from '../runtime/session.js';
import { Tensor } from '../ir/tensor.js';

const LENGTH = 100;

interface Chain {
  readonly name: string;
  readonly dims: readonly number[];
  /** nodes one link adds */
  readonly perLink: number;
  readonly link: (b: GraphBuilder, x: Value) => Value;
  /** input values are scaled by this (a chain of products must neither blow up nor vanish) */
  readonly scale?: number;
}

const i64 = (v: number[]) => new Tensor('int64', v.map(BigInt), [v.length]);
const f32 = (v: number[], dims: number[]) => new Tensor('float32', Float32Array.from(v), dims);

/** Shapes from Silero v2/v3 and GTCRN: 161 frequency bins × 10 frames, 2 heads × 10 × 10, 24 features. */
function chains(): Chain[] {
  const spec = [1, 161, 10];
  return [
    { name: 'Identity', dims: spec, perLink: 1, link: (b, x) => b.op1('Identity', [x]) },
    { name: 'Relu', dims: spec, perLink: 1, link: (b, x) => b.relu(x) },
    { name: 'Sigmoid', dims: spec, perLink: 1, link: (b, x) => b.sigmoid(x) },
    { name: 'Tanh', dims: spec, perLink: 1, link: (b, x) => b.tanh(x) },
    { name: 'Sqrt', dims: spec, perLink: 1, link: (b, x) => b.op1('Sqrt', [x]) },
    { name: 'Add (x + x)', dims: spec, perLink: 1, link: (b, x) => b.add(x, x) },
    { name: 'Add (x + [161,1])', dims: spec, perLink: 1, link: (b, x) => b.add(x, b.constant('bias', f32(new Array(161).fill(1e-3), [161, 1]))) },
    { name: 'Mul (x · scalar)', dims: spec, perLink: 1, link: (b, x) => b.mul(x, b.constant('one', f32([1], []))) },
    { name: 'Transpose [0,2,1]', dims: spec, perLink: 1, link: (b, x) => b.transpose(x, [0, 2, 1]) },
    { name: 'Transpose [1,0,2]', dims: [10, 2, 24], perLink: 1, link: (b, x) => b.transpose(x, [1, 0, 2]) },
    { name: 'Reshape', dims: spec, perLink: 2, link: (b, x) => b.reshape(b.reshape(x, [1, 1610]), [1, 161, 10]) },
    { name: 'Unsqueeze + Squeeze', dims: spec, perLink: 2, link: (b, x) => b.op1('Squeeze', [b.op1('Unsqueeze', [x, b.constant('axes', i64([0]))]), b.constant('axes', i64([0]))]) },
    { name: 'Concat + Slice', dims: spec, perLink: 2, link: (b, x) => b.op1('Slice', [b.op1('Concat', [x, x], { axis: 1 }), b.constant('starts', i64([0])), b.constant('ends', i64([161])), b.constant('axes', i64([1]))]) },
    { name: 'ReduceMean + Sub', dims: spec, perLink: 2, link: (b, x) => b.sub(x, b.op1('ReduceMean', [x], { axes: [-1], keepdims: 1 })) },
    { name: 'Transpose [0,2,1] small', dims: [1, 26, 8], perLink: 1, link: (b, x) => b.transpose(x, [0, 2, 1]) },
    { name: 'Pad reflect + Slice', dims: [1, 1, 4000], perLink: 2, link: (b, x) => b.op1('Slice', [b.op1('Pad', [x, b.constant('pads', i64([0, 0, 8, 0, 0, 8])), null], { mode: 'reflect' }), b.constant('starts', i64([8])), b.constant('ends', i64([4008])), b.constant('axes', i64([2]))]) },
    { name: 'Split + Concat', dims: spec, perLink: 2, link: (b, x) => b.concat(b.op('Split', [x, b.constant('split', i64([80, 81]))], { axis: 1 }, { outputs: 2 }), 1) },
    { name: 'Gather (axis 2)', dims: spec, perLink: 1, link: (b, x) => b.gather(x, b.constant('idx', i64([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])), 2) },
    { name: 'ReduceMean (axis 1) + Sub', dims: [1, 161, 26], perLink: 2, link: (b, x) => b.sub(x, b.op1('ReduceMean', [x], { axes: [1], keepdims: 1 })) },
    { name: 'MatMul x·x [2,26,26]', dims: [2, 26, 26], perLink: 1, scale: 1 / 26, link: (b, x) => b.matmul(x, x) },
    { name: 'Softmax', dims: [2, 10, 10], perLink: 1, link: (b, x) => b.softmax(x) },
    { name: 'MatMul [10,24]·[24,24]', dims: [1, 10, 24], perLink: 1, link: (b, x) => b.matmul(x, b.constant('w', f32(Array.from({ length: 576 }, (_, i) => (i % 25 === 0 ? 1 : 0)), [24, 24]))) },
    { name: 'Conv 1×1 64→64', dims: [1, 64, 10], perLink: 1, link: (b, x) => b.op1('Conv', [x, b.constant('w', f32(Array.from({ length: 4096 }, (_, i) => (i % 65 === 0 ? 1 : 0)), [64, 64, 1]))], { kernel_shape: [1] }) },
  ];
}

function chainModel(c: Chain): Uint8Array {
  const b = new GraphBuilder({ opset: 13, name: 'chain' });
  let v = b.input('x', 'float32', c.dims);
  for (let i = 0; i < LENGTH / c.perLink; i++) v = c.link(b, v);
  b.output(v, 'y');
  return exportOnnx(b.build());
}

/** Best mean time of one run over `rounds` rounds of `budgetMs` each, in ms. */
async function best(run: () => unknown | Promise<unknown>, budgetMs: number, rounds = 5): Promise<number> {
  for (let k = 0; k < 20; k++) await run();
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < budgetMs) {
      await run();
      n++;
      t = performance.now();
    }
    min = Math.min(min, (t - t0) / n);
  }
  return min;
}

export async function opChainBench(filter?: readonly string[]): Promise<void> {
  const ortNode = await import('onnxruntime-node');
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  const budget = Number(process.env.RNNX_BENCH_MS ?? 2000) / 10;
  console.log(`per-node cost: chains of ${LENGTH} nodes, µs per node (best of 5 rounds), one thread per engine\n`);
  console.log('| op | input | rnnx µs | onnxruntime-node µs | onnxruntime-web µs | rnnx / node | rnnx / web |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of chains()) {
    if (filter && !filter.some((f) => c.name.startsWith(f))) continue;
    const bytes = chainModel(c);
    const n = c.dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => (0.9 + 0.1 * Math.sin(i)) * (c.scale ?? 1));
    const x = new Tensor('float32', data, c.dims);
    const ours = InferenceSession.createSync(bytes);
    const node = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'disabled' });
    const xn = new ortNode.Tensor('float32', data, [...c.dims]);
    const xw = new ortWeb.Tensor('float32', data, [...c.dims]);
    const r = (await best(() => ours.runSync({ x }), budget)) * 1000 / LENGTH;
    const o = (await best(() => node.run({ x: xn }), budget)) * 1000 / LENGTH;
    const w = (await best(() => web.run({ x: xw }), budget)) * 1000 / LENGTH;
    console.log(`| ${c.name} | [${c.dims.join(',')}] | ${r.toFixed(2)} | ${o.toFixed(2)} | ${w.toFixed(2)} | ${(r / o).toFixed(2)} | ${(r / w).toFixed(2)} |`);
    await node.release();
    await web.release();
  }
}
