// Writes test/fixtures/speech/speech16k.wav: two spoken sentences (espeak-ng through the npm package
// text2wav 0.0.14) between silences, resampled offline from 22050 Hz to 16000 Hz (windowed sinc),
// 16-bit mono. Needs `npm install --no-save text2wav@0.0.14`; the output is committed, tests never run this.
const fs = require('node:fs');
const path = require('node:path');
const text2wav = require('text2wav');

function pcm16(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 12, rate = 0, data;
  while (off + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(off, off + 4));
    const size = dv.getUint32(off + 4, true);
    if (id === 'fmt ') rate = dv.getUint32(off + 12, true);
    if (id === 'data') data = new Int16Array(bytes.slice(off + 8, off + 8 + size).buffer);
    off += 8 + size + (size & 1);
  }
  return { rate, x: Float32Array.from(data, (v) => v / 32768) };
}

// Band-limited resampling: sinc low-pass at 0.45 of the output rate, Hann window of 32 taps each side.
function resample(x, from, to) {
  const n = Math.floor((x.length * to) / from);
  const y = new Float32Array(n);
  const fc = (0.45 * to) / from;
  for (let i = 0; i < n; i++) {
    const t = (i * from) / to;
    const c = Math.floor(t);
    let s = 0;
    for (let k = c - 32; k <= c + 32; k++) {
      if (k < 0 || k >= x.length) continue;
      const d = t - k;
      const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / 33);
      const sinc = d === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * d) / (Math.PI * d);
      s += x[k] * sinc * w;
    }
    y[i] = s;
  }
  return y;
}

(async () => {
  const RATE = 16000;
  const said = [
    await text2wav('Hello there. This is a short test of voice activity detection.', { voice: 'en' }),
    await text2wav('After a pause, the speaker talks again, and then stops.', { voice: 'en' }),
  ].map((b) => { const { rate, x } = pcm16(b); return resample(x, rate, RATE); });
  const silence = (s) => new Float32Array(Math.round(s * RATE));
  const parts = [silence(0.8), said[0], silence(1.5), said[1], silence(1.0)];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  let seed = 1; // faint deterministic noise so the silences are not digital zeros
  for (let i = 0; i < total; i++) { seed = (seed * 1103515245 + 12345) >>> 0; out[i] += ((seed / 4294967296) - 0.5) * 0.002; }
  const bytes = Buffer.alloc(44 + total * 2);
  bytes.write('RIFF', 0); bytes.writeUInt32LE(36 + total * 2, 4); bytes.write('WAVE', 8);
  bytes.write('fmt ', 12); bytes.writeUInt32LE(16, 16); bytes.writeUInt16LE(1, 20); bytes.writeUInt16LE(1, 22);
  bytes.writeUInt32LE(RATE, 24); bytes.writeUInt32LE(RATE * 2, 28); bytes.writeUInt16LE(2, 32); bytes.writeUInt16LE(16, 34);
  bytes.write('data', 36); bytes.writeUInt32LE(total * 2, 40);
  for (let i = 0; i < total; i++) bytes.writeInt16LE(Math.round(Math.max(-1, Math.min(1, out[i])) * 32767), 44 + 2 * i);
  const file = path.join(__dirname, '..', 'test', 'fixtures', 'speech', 'speech16k.wav');
  fs.writeFileSync(file, bytes);
  console.log(`${file}: ${(total / RATE).toFixed(2)} s; speech ${(0.8).toFixed(2)}–${(0.8 + said[0].length / RATE).toFixed(2)} s and ${(2.3 + said[0].length / RATE).toFixed(2)}–${(2.3 + (said[0].length + said[1].length) / RATE).toFixed(2)} s`);
})();
