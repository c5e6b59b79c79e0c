import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RnnxError } from '../src/ir/errors.js';
import { Tensor } from '../src/ir/tensor.js';
import { InferenceSession } from '../src/runtime/session.js';
import { StateBytesError } from '../src/runtime/state-bytes.js';
import { detectStatePairs } from '../src/runtime/state-pairs.js';
import { chunks } from './stream-helpers.js';

const VAD = path.resolve('node_modules/@ricky0123/vad-web/dist');
const sr16k = new Tensor('int64', BigInt64Array.from([16000n]), []);

function sameBits(a: Tensor, b: Tensor): void {
  expect(a.dims).toEqual(b.dims);
  expect(a.type).toBe(b.type);
  expect(Buffer.from((a.data as Float32Array).buffer, (a.data as Float32Array).byteOffset, (a.data as Float32Array).byteLength)
    .equals(Buffer.from((b.data as Float32Array).buffer, (b.data as Float32Array).byteOffset, (b.data as Float32Array).byteLength))).toBe(true);
}

describe('state pair detection', () => {
  it('Silero VAD v4 (legacy): h→hn, c→cn through the If branches, batch axis 1', () => {
    const s = InferenceSession.createSync(path.join(VAD, 'silero_vad_legacy.onnx'));
    const d = detectStatePairs(s.graph, s.plan.constants);
    expect(d.pairs.map((p) => [p.input, p.output, p.how, p.batchAxis])).toEqual([['h', 'hn', 'graph', 1], ['c', 'cn', 'graph', 1]]);
    expect(d.unpaired).toEqual([]);
  });
  for (const v of ['v5', 'v6']) {
    it(`Silero VAD ${v}: state→stateN (LSTM inside If branches), batch axis 1`, () => {
      const s = InferenceSession.createSync(path.join(VAD, `silero_vad_${v}.onnx`));
      const d = detectStatePairs(s.graph, s.plan.constants);
      expect(d.pairs.map((p) => [p.input, p.output, p.how, p.batchAxis])).toEqual([['state', 'stateN', 'graph', 1]]);
      expect(d.pairs[0].detail).toMatch(/LSTM .* h, .*LSTM .* c/);
      // unfused: the same
      const u = InferenceSession.createSync(path.join(VAD, `silero_vad_${v}.onnx`), { fuse: false });
      expect(detectStatePairs(u.graph, u.plan.constants).pairs.map((p) => [p.input, p.output])).toEqual([['state', 'stateN']]);
    });
  }
});

describe('createStream', () => {
  for (const v of ['v5', 'v6']) {
    it(`Silero VAD ${v}: chunks bit-identical to plumbing the state by hand with session.run`, async () => {
      const s = await InferenceSession.create(path.join(VAD, `silero_vad_${v}.onnx`));
      const stream = s.createStream({ constants: { sr: sr16k } });
      expect(stream.feedNames).toEqual(['input']);
      let state = new Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
      const probs: number[] = [];
      for (const input of chunks(v === 'v5' ? 100 : 30)) {
        const byHand = await s.run({ input, state, sr: sr16k });
        state = byHand.stateN;
        const got = await stream.run({ input });
        expect(Object.keys(got)).toEqual(['output']);
        sameBits(got.output, byHand.output);
        sameBits(stream.state.state, byHand.stateN);
        probs.push((got.output.data as Float32Array)[0]);
      }
      expect(Math.max(...probs) - Math.min(...probs)).toBeGreaterThan(1e-3); // the outputs (and state) really evolve
    });
  }

  it('reset() returns to zeros; saveState/loadState move a stream exactly', () => {
    const s = InferenceSession.createSync(path.join(VAD, 'silero_vad_v5.onnx'));
    const a = s.createStream({ constants: { sr: sr16k } });
    const data = chunks(20, 7);
    for (const input of data.slice(0, 10)) a.runSync({ input });
    const bytes = a.saveState();
    const b = s.createStream({ constants: { sr: sr16k } });
    b.loadState(bytes);
    for (const input of data.slice(10)) sameBits(b.runSync({ input }).output, a.runSync({ input }).output);
    a.reset();
    const fresh = s.createStream({ constants: { sr: sr16k } });
    for (const input of data.slice(0, 3)) sameBits(a.runSync({ input }).output, fresh.runSync({ input }).output);
  });

  it('loadState refuses bad bytes with a StateBytesError naming the problem', () => {
    const s = InferenceSession.createSync(path.join(VAD, 'silero_vad_v5.onnx'));
    const a = s.createStream({ constants: { sr: sr16k } });
    a.runSync({ input: chunks(1)[0] });
    const good = a.saveState();
    const err = (b: Uint8Array) => {
      try { a.loadState(b); } catch (e) { expect(e).toBeInstanceOf(StateBytesError); return (e as Error).message; }
      throw new Error('accepted bad bytes');
    };
    expect(err(new Uint8Array(3))).toMatch(/too short/);
    expect(err(good.subarray(0, good.length - 10))).toMatch(/checksum/);
    const bad = good.slice(); bad[0] = 0x58;
    expect(err(bad)).toMatch(/not an rnnx saved state/);
    const flipped = good.slice(); flipped[40] ^= 1;
    expect(err(flipped)).toMatch(/checksum/);
    // A state saved by a model with other states (legacy h/c) is refused by name.
    const legacy = InferenceSession.createSync(path.join(VAD, 'silero_vad_legacy.onnx')).createStream({ constants: { sr: sr16k } });
    expect(err(legacy.saveState())).toMatch(/2 state entries, this stream has 1/);
    // Right names, wrong shape.
    const other = InferenceSession.createSync(path.join(VAD, 'silero_vad_v5.onnx')).createStream({
      constants: { sr: sr16k }, initialState: { state: new Tensor('float32', new Float32Array(2 * 2 * 128), [2, 2, 128]) } });
    expect(other.saveState().length).toBeGreaterThan(good.length);
    a.loadState(other.saveState()); // [2, 2, 128] matches the declared [2, ?, 128]
    expect(a.state.state.dims).toEqual([2, 2, 128]);
    a.loadState(good);
    expect(a.state.state.dims).toEqual([2, 1, 128]);
  });

  it('options.state overrides detection; wrong names and feeds are named errors', () => {
    const s = InferenceSession.createSync(path.join(VAD, 'silero_vad_v5.onnx'));
    const st = s.createStream({ state: { state: 'stateN' }, constants: { sr: sr16k } });
    expect(st.pairs.map((p) => [p.input, p.output, p.how])).toEqual([['state', 'stateN', 'given']]);
    expect(() => s.createStream({ state: { stat: 'stateN' } })).toThrow(/'stat' is not an input/);
    expect(() => s.createStream({ state: { state: 'out' } })).toThrow(/'out' is not an output/);
    expect(() => s.createStream({ state: { state: 'output' } })).toThrow(/differ in dtype or shape/);
    expect(() => s.createStream({ constants: { state: sr16k } })).toThrow(/is a state input/);
    const ok = s.createStream({ constants: { sr: sr16k } });
    expect(() => ok.runSync({ input: chunks(1)[0], state: chunks(1)[0] })).toThrow(/the stream carries it/);
    expect(() => ok.runSync({})).toThrow(/missing feed input/);
    expect(() => ok.runSync({ input: chunks(1)[0], sr: sr16k })).toThrow(/fixed by options.constants/);
  });

  it('a model with no state pairs: a clear error listing the candidates', async () => {
    const { GraphBuilder } = await import('../src/builder/graph-builder.js');
    const b = new GraphBuilder({ opset: 14 });
    const x = b.input('x', 'float32', [1, 4]);
    const y = b.input('y', 'float32', [1, 4]);
    b.output(b.add(x, y), 'z', 'float32', [1, 4]);
    const s = InferenceSession.createSync(b.build());
    expect(() => s.createStream()).toThrow(RnnxError);
    expect(() => s.createStream()).toThrow(/No recurrent state pairs.*x→z, y→z/);
  });
});
