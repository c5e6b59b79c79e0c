// State pairs and streams on the real-model fixtures (test/fixtures/real, added by the models work;
// each case runs when its fixture is present).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/ir/tensor.js';
import { InferenceSession } from '../src/runtime/session.js';
import { detectStatePairs } from '../src/runtime/state-pairs.js';
import { rng } from './helpers.js';

const REAL = path.join(import.meta.dirname, 'fixtures', 'real');
const model = (name: string) => path.join(REAL, name, 'model.onnx');

/** input → output, how each pair is found. */
const EXPECTED: Record<string, [string, string, string][]> = {
  dtln_1: [['input_3', 'tf_op_layer_stack_2', 'graph']],
  dtln_2: [['input_5', 'tf_op_layer_stack_5', 'graph']], // unrolled Keras LSTM cells
  gtcrn: [['conv_cache', 'conv_cache_out', 'name'], ['tra_cache', 'tra_cache_out', 'name'], ['inter_cache', 'inter_cache_out', 'name']],
  gtcrn_simple: [['conv_cache', 'conv_cache_out', 'name'], ['tra_cache', 'tra_cache_out', 'graph'], ['inter_cache', 'inter_cache_out', 'graph']],
  silero_v3_1: [['h0', 'hn', 'graph'], ['c0', 'cn', 'graph']],
  silero_v5_half: [['state', 'stateN', 'graph']],
  silero_v6_openvino_16k: [['state', 'stateN', 'graph']],
};

describe('state pairs of the real models', () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    it.skipIf(!fs.existsSync(model(name)))(name, () => {
      const s = InferenceSession.createSync(model(name));
      const d = detectStatePairs(s.graph, s.plan.constants);
      expect(d.pairs.map((p) => [p.input, p.output, p.how])).toEqual(want);
    });
  }
});

/** Random feeds of the declared shapes (symbolic dims 1) for the stream's fed inputs. */
function feedsFor(s: InferenceSession, names: readonly string[], r: () => number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const n of names) {
    const info = s.inputMetadata.find((i) => i.name === n)!;
    const dims = info.shape!.map((d) => (typeof d === 'number' ? d : 1));
    out[n] = new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() - 0.5), dims);
  }
  return out;
}

describe('streams on the real models', () => {
  for (const name of ['dtln_1', 'dtln_2', 'gtcrn_simple']) {
    it.skipIf(!fs.existsSync(model(name)))(`${name}: 8 chunks bit-identical to plumbing by hand; the batcher refuses the fixed batch of 1`, () => {
      const s = InferenceSession.createSync(model(name));
      const stream = s.createStream();
      const r = rng(11);
      let state: Record<string, Tensor> = Object.fromEntries(stream.pairs.map((p) => [p.input, stream.state[p.input]]));
      for (let k = 0; k < 8; k++) {
        const feeds = feedsFor(s, stream.feedNames, r);
        const hand = s.runSync({ ...feeds, ...state });
        state = Object.fromEntries(stream.pairs.map((p) => [p.input, hand[p.output]]));
        const got = stream.runSync(feeds);
        for (const o of stream.spec.outputNames) expect(Buffer.from((got[o].data as Float32Array).buffer).equals(Buffer.from((hand[o].data as Float32Array).buffer))).toBe(true);
      }
      expect(() => s.createStreamBatcher()).toThrow(/cannot be batched/);
      expect(s.createStreamBatcher({ fallback: 'sequential' }).mode).toBe('sequential');
    });
  }
});
