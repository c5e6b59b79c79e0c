// `rnnx stream` and the WAV reader.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { Tensor } from '../src/ir/tensor.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { readWav, writeWav16, WavError } from '../src/io/wav.js';
import { InferenceSession } from '../src/runtime/session.js';

const root = path.join(import.meta.dirname, '..');
const v5 = path.join(root, 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx');
const speech = readWav(fs.readFileSync(path.join(root, 'test/fixtures/speech/speech16k.wav')));

async function cli(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const l = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
  const e = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(a.join(' ')); });
  try {
    return { status: await main(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    l.mockRestore();
    e.mockRestore();
  }
}

describe('WAV reader', () => {
  it('reads 16-bit PCM as written, float32 and 24-bit, and picks channels', () => {
    const a = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i / 7) * 0.9);
    const b = Float32Array.from({ length: 100 }, (_, i) => (i % 10) / 10 - 0.5);
    const w = readWav(writeWav16([a, b], 8000));
    expect(w.sampleRate).toBe(8000);
    expect(w.encoding).toBe('pcm16');
    expect(w.channels.length).toBe(2);
    for (let i = 0; i < 100; i++) {
      expect(Math.abs(w.channels[0][i] - a[i])).toBeLessThan(2 / 32768);
      expect(Math.abs(w.channels[1][i] - b[i])).toBeLessThan(2 / 32768);
    }
    // float32, written by hand: fmt 3
    const f = Buffer.alloc(44 + 8);
    f.write('RIFF', 0); f.writeUInt32LE(44, 4); f.write('WAVE', 8); f.write('fmt ', 12); f.writeUInt32LE(16, 16);
    f.writeUInt16LE(3, 20); f.writeUInt16LE(1, 22); f.writeUInt32LE(16000, 24); f.writeUInt32LE(64000, 28); f.writeUInt16LE(4, 32); f.writeUInt16LE(32, 34);
    f.write('data', 36); f.writeUInt32LE(8, 40); f.writeFloatLE(0.25, 44); f.writeFloatLE(-1.5, 48);
    expect(Array.from(readWav(f).channels[0])).toEqual([0.25, -1.5]);
    // 24-bit: -1 and 0.5
    const g = Buffer.from(f); g.writeUInt16LE(1, 20); g.writeUInt16LE(3, 32); g.writeUInt16LE(24, 34); g.writeUInt32LE(6, 40);
    g.writeIntLE(-8388608, 44, 3); g.writeIntLE(4194304, 47, 3);
    expect(Array.from(readWav(g.subarray(0, 50)).channels[0])).toEqual([-1, 0.5]);
  });
  it('refuses what it cannot read with a WavError', () => {
    expect(() => readWav(new Uint8Array(10))).toThrow(WavError);
    expect(() => readWav(Buffer.from('RIFF\0\0\0\0WAVEdata\0\0\0\0'))).toThrow(/no fmt chunk/);
    const w = Buffer.from(writeWav16([new Float32Array(4)], 16000));
    w.writeUInt16LE(6, 20); // A-law
    expect(() => readWav(w)).toThrow(/format 6 with 16 bits per sample is not supported/);
  });
});

describe('rnnx stream', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-stream-'));
  const clip = path.join(dir, 'clip.wav');
  fs.writeFileSync(clip, writeWav16([speech.channels[0].subarray(0, 512 * 40 + 100)], 16000));

  it('writes the joined outputs, equal to a library stream, and plots them', async () => {
    const r = await cli('stream', v5, '--input', `input=${clip}`, '--chunk', '512', '--const', 'sr=16000', '--rate', '16000', '--plot', '--out', dir);
    expect(r.status, r.err).toBe(0);
    expect(r.err).toMatch(/last chunk is padded with 412 zeros/);
    expect(r.out).toMatch(/41 chunks of 512/);
    expect(r.out).toMatch(/state: state→stateN \(graph\)/);
    expect(r.out).toMatch(/output over 41 chunks[^\n]*\n[▁▂▃▄▅▆▇█]{41}\n/);
    const got = readNpy(fs.readFileSync(path.join(dir, 'output.npy')));
    expect(got.dims).toEqual([1, 41]);
    const s = InferenceSession.createSync(v5).createStream({ constants: { sr: new Tensor('int64', [16000n], []) } });
    const x = readWav(fs.readFileSync(clip)).channels[0];
    for (let k = 0; k < 41; k++) {
      const c = new Float32Array(512);
      c.set(x.subarray(k * 512, k * 512 + 512));
      expect((got.data as Float32Array)[k]).toBe((s.runSync({ input: new Tensor('float32', c, [1, 512]) }).output.data as Float32Array)[0]);
    }
  });

  it('a .npy input is chunked along --axis the same way', async () => {
    const x = readWav(fs.readFileSync(clip)).channels[0].slice(0, 512 * 4);
    fs.writeFileSync(path.join(dir, 'x.npy'), writeNpy(new Tensor('float32', x, [1, x.length])));
    const out = path.join(dir, 'npy');
    const r = await cli('stream', v5, '--input', `input=${path.join(dir, 'x.npy')}`, '--chunk', '512', '--axis', '1', '--const', 'sr=16000', '--out', out);
    expect(r.status, r.err).toBe(0);
    expect(readNpy(fs.readFileSync(path.join(out, 'output.npy'))).dims).toEqual([1, 4]);
  });

  it('a sample-rate mismatch, a multi-channel file without --channel and a bad --const are errors', async () => {
    const r = await cli('stream', v5, '--input', `input=${clip}`, '--chunk', '512', '--const', 'sr=16000', '--rate', '8000');
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/sample rate 16000 Hz, --rate is 8000 Hz \(rnnx does not resample/);
    const stereo = path.join(dir, 'stereo.wav');
    fs.writeFileSync(stereo, writeWav16([new Float32Array(1024), new Float32Array(1024)], 16000));
    expect((await cli('stream', v5, '--input', `input=${stereo}`, '--chunk', '512', '--const', 'sr=16000')).err).toMatch(/has 2 channels: choose one with --channel/);
    expect((await cli('stream', v5, '--input', `input=${stereo}`, '--chunk', '512', '--const', 'sr=16000', '--channel', '1')).status).toBe(0);
    expect((await cli('stream', v5, '--input', `input=${clip}`, '--chunk', '512', '--const', 'sr=abc')).err).toMatch(/--const sr: expected numbers/);
    expect((await cli('stream', v5, '--input', `input=${clip}`, '--const', 'sr=16000')).err).toMatch(/--chunk N is required/);
    expect((await cli('stream', v5, '--input', `state=${clip}`, '--chunk', '512', '--const', 'sr=16000')).err).toMatch(/a state the stream carries/);
  });
});
