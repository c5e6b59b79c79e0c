// If, Loop and Scan: subgraphs that read the enclosing scope, checked against onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/builder/graph-builder.js';
import { encodeModel } from '../src/export/onnx.js';
import type { Graph, Node } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng, runOrt } from './helpers.js';

const r = rng(21);
const TOL = { rtol: 1e-5, atol: 1e-6 };
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attributes'] = new Map()): Node =>
  ({ name: `${opType}_${outputs[0]}`, opType, domain: '', inputs, outputs, attributes: attrs });
const graph = (name: string, nodes: Node[], inputs: Graph['inputs'], outputs: string[], inits: [string, Tensor][] = []): Graph =>
  ({ name, nodes, inputs, outputs: outputs.map((o) => ({ name: o })), initializers: new Map(inits), valueInfo: new Map() });

async function agree(model: ReturnType<GraphBuilder['build']>, feeds: Record<string, Tensor>) {
  const ours = InferenceSession.createSync(model).runSync(feeds);
  const theirs = await runOrt(encodeModel(model), feeds);
  for (const k of Object.keys(theirs)) expect(compareTensors(ours[k], theirs[k], TOL).message ?? '', k).toBe('');
  return ours;
}

describe('control flow', () => {
  it('Scan runs an Elman RNN over time, reading weights from the outer graph, forward and reverse', async () => {
    for (const reverse of [0, 1]) {
      const b = new GraphBuilder({ opset: 14 });
      const x = b.input('x', 'float32', [5, 2, 3]); // scanned over axis 0
      const h0 = b.input('h0', 'float32', [2, 4]);
      const W = b.constant('W', randTensor(r, [3, 4])), U = b.constant('U', randTensor(r, [4, 4]));
      const body = graph('rnn_body', [
        node('MatMul', ['xt', W.name], ['xw']), node('MatMul', ['h', U.name], ['hu']),
        node('Add', ['xw', 'hu'], ['pre']), node('Tanh', ['pre'], ['h_next']), node('Identity', ['h_next'], ['y_t']),
      ], [{ name: 'h', type: 'float32', shape: [2, 4] }, { name: 'xt', type: 'float32', shape: [2, 3] }], ['h_next', 'y_t']);
      const [hn, y] = b.op('Scan', [h0, x], {
        body: { type: 'graph', value: body }, num_scan_inputs: 1,
        scan_input_directions: [reverse], scan_output_directions: [reverse], scan_output_axes: [1],
      }, { outputs: ['hn', 'y'] });
      b.output(hn, 'hn', 'float32');
      b.output(y, 'y', 'float32');
      const out = await agree(b.build(), { x: randTensor(r, [5, 2, 3]), h0: randTensor(r, [2, 4]) });
      expect(out.y.dims).toEqual([2, 5, 4]);
    }
  });

  it('Loop with a trip count and an early-exit condition, carried state and scan outputs', async () => {
    const b = new GraphBuilder({ opset: 14 });
    const x = b.input('x', 'float32', [3]);
    const limit = b.input('limit', 'float32', []);
    const M = b.constant('M', new Tensor('int64', [10n], []));
    const cond = b.constant('cond', new Tensor('bool', [1], []));
    const body = graph('loop_body', [
      node('Cast', ['i'], ['fi'], new Map([['to', { type: 'int', value: 1 }]])),
      node('Mul', ['v', x.name], ['vx']), node('Add', ['vx', 'fi'], ['v_next']),
      node('ReduceSum', ['v_next'], ['total'], new Map([['keepdims', { type: 'int', value: 0 }]])),
      node('Less', ['total', limit.name], ['go']), node('Identity', ['v_next'], ['scan_v']),
    ], [{ name: 'i', type: 'int64', shape: [] }, { name: 'c', type: 'bool', shape: [] }, { name: 'v', type: 'float32', shape: [3] }], ['go', 'v_next', 'scan_v']);
    const [vFinal, trace] = b.op('Loop', [M, cond, b.constant('v0', new Tensor('float32', [1, 1, 1], [3]))], { body: { type: 'graph', value: body } }, { outputs: ['v_final', 'trace'] });
    b.output(vFinal, 'v_final', 'float32');
    b.output(trace, 'trace', 'float32');
    const out = await agree(b.build(), { x: new Tensor('float32', [1.1, 0.9, 1.2], [3]), limit: new Tensor('float32', [40], []) });
    expect(out.trace.dims[0]).toBeGreaterThan(1);
    expect(out.trace.dims[0]).toBeLessThan(10);
  });

  it('If picks a branch that reads outer values', async () => {
    for (const c of [0, 1]) {
      const b = new GraphBuilder({ opset: 14 });
      const x = b.input('x', 'float32', [2, 3]);
      const flag = b.input('flag', 'bool', []);
      const thenG = graph('then', [node('Relu', [x.name], ['t_out'])], [], ['t_out']);
      const elseG = graph('else', [node('Neg', [x.name], ['e_out'])], [], ['e_out']);
      const [y] = b.op('If', [flag], { then_branch: { type: 'graph', value: thenG }, else_branch: { type: 'graph', value: elseG } }, { outputs: ['y'] });
      b.output(y, 'y', 'float32');
      await agree(b.build(), { x: randTensor(r, [2, 3]), flag: new Tensor('bool', [c], []) });
    }
  });

  it('unsupported ops inside a body are reported at session creation', () => {
    const b = new GraphBuilder({ opset: 14 });
    const flag = b.input('flag', 'bool', []);
    const x = b.input('x', 'float32', [2]);
    const g = graph('then', [node('Frobnicate', [x.name], ['o'])], [], ['o']);
    b.op('If', [flag], { then_branch: { type: 'graph', value: g }, else_branch: { type: 'graph', value: g } }, { outputs: ['y'] });
    expect(() => b.build()).toThrow(/Unsupported ops in this model: Frobnicate/);
  });
});
