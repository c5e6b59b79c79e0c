// threads: 2 — the SIMD recurrent kernels split each GEMM with a worker thread over shared memory.
// Same numbers as one thread (the same kernels on disjoint column panels).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RnnxError } from '../src/ir/errors.js';
import { readNpy } from '../src/io/npy.js';
import { modelFromTorch, type TorchHparams } from '../src/nn/from-torch.js';
import { compareTensors } from '../src/runtime/compare.js';
import { InferenceSession } from '../src/runtime/session.js';
import { sharedWasmModule } from '../src/wasm/runtime.js';
import { randTensor, rng } from './helpers.js';

const root = path.join(import.meta.dirname, 'torch-modules');

describe.skipIf(!sharedWasmModule())('two threads', () => {
  it.each(['lstmp_l2_bi_state', 'lstm_l2_bi', 'gru_l2_bf_state'])('%s: same outputs as one thread and as PyTorch', async (name) => {
    const dir = path.join(root, name);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { class: 'LSTM' | 'GRU' | 'RNN'; inputs: string[]; outputs: string[] };
    const hp = JSON.parse(fs.readFileSync(path.join(dir, 'hparams.json'), 'utf8')) as TorchHparams;
    const feeds = Object.fromEntries(meta.inputs.map((n) => [n, readNpy(fs.readFileSync(path.join(dir, `in_${n}.npy`)))]));
    const model = modelFromTorch(meta.class, path.join(dir, 'state_dict.npz'), hp, { initialState: 'h0' in feeds });
    const one = InferenceSession.createSync(model).runSync(feeds);
    const session = InferenceSession.createSync(model, { threads: 2 });
    const two = session.runSync(feeds);
    for (const k of meta.outputs) {
      expect(compareTensors(two[k], one[k], { rtol: 0, atol: 0 }).message ?? '', k).toBe('');
      expect(compareTensors(two[k], readNpy(fs.readFileSync(path.join(dir, `out_${k}.npy`))), { rtol: 1e-4, atol: 1e-5 }).ok).toBe(true);
    }
    await session.release();
    expect(() => session.runSync(feeds)).toThrow(/session was released/); // released: the session has ended
  });

  it('splits wide layers (input projections and recurrent products) and agrees exactly', () => {
    const r = rng(3);
    const H = 256, G = 4 * H;
    const hp: TorchHparams = { input_size: 40, hidden_size: H, num_layers: 2, bidirectional: true };
    const sd: Record<string, ReturnType<typeof randTensor>> = {};
    for (const l of [0, 1]) for (const s of ['', '_reverse']) {
      sd[`weight_ih_l${l}${s}`] = randTensor(r, [G, l ? 2 * H : 40], 'float32', -0.05, 0.05);
      sd[`weight_hh_l${l}${s}`] = randTensor(r, [G, H], 'float32', -0.05, 0.05);
      sd[`bias_ih_l${l}${s}`] = randTensor(r, [G], 'float32', -0.1, 0.1);
      sd[`bias_hh_l${l}${s}`] = randTensor(r, [G], 'float32', -0.1, 0.1);
    }
    const model = modelFromTorch('LSTM', sd, hp);
    const feeds = { x: randTensor(r, [7, 3, 40]) };
    const one = InferenceSession.createSync(model).runSync(feeds);
    const session = InferenceSession.createSync(model, { threads: 2 });
    const two = session.runSync(feeds);
    for (const k of ['y', 'hn', 'cn']) expect(compareTensors(two[k], one[k], { rtol: 0, atol: 0 }).message ?? '', k).toBe('');
    void session.release();
  });

  it('refuses other thread counts', () => {
    const model = modelFromTorch('RNN', { weight_ih_l0: randTensor(rng(1), [4, 3]), weight_hh_l0: randTensor(rng(2), [4, 4]), bias_ih_l0: randTensor(rng(3), [4]), bias_hh_l0: randTensor(rng(4), [4]) }, { input_size: 3, hidden_size: 4 });
    expect(() => InferenceSession.createSync(model, { threads: 3 as never })).toThrow(RnnxError);
  });
});
