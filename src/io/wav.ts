import { RnnxError } from '../ir/errors.js';

/** A file that is not a WAV rnnx reads (PCM 8/16/24/32-bit integer, or IEEE float 32/64). */
export class WavError extends RnnxError {
  override name = 'WavError';
}

export interface Wav {
  readonly sampleRate: number;
  /** One Float32Array per channel, samples in [-1, 1] for integer PCM. */
  readonly channels: readonly Float32Array[];
  /** 'pcm16', 'pcm24', 'float32', … as stored. */
  readonly encoding: string;
}

const KSDATAFORMAT_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Parses a RIFF/WAVE file: PCM (format 1), IEEE float (3), or WAVE_FORMAT_EXTENSIBLE of either. */
export function readWav(bytes: Uint8Array, what = 'WAV file'): Wav {
  const fail = (m: string) => new WavError(`${what}: ${m}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(...bytes.subarray(o, o + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw fail(bytes.length >= 4 && tag(0) === 'RIFX' ? 'big-endian RIFX files are not supported' : 'not a RIFF/WAVE file');
  let fmt: { format: number; channels: number; rate: number; bits: number; align: number } | undefined;
  let data: Uint8Array | undefined;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = tag(off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    // Streams written live often leave the data size at 0 or 0xFFFFFFFF: take what is there.
    const end = id === 'data' && (size === 0 || size === 0xffffffff || body + size > bytes.length) ? bytes.length : body + size;
    if (end > bytes.length) throw fail(`chunk '${id}' runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw fail(`fmt chunk of ${size} bytes is too short`);
      let format = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const rate = dv.getUint32(body + 4, true);
      const align = dv.getUint16(body + 12, true);
      const bits = dv.getUint16(body + 14, true);
      if (format === 0xfffe) {
        if (size < 40) throw fail('WAVE_FORMAT_EXTENSIBLE fmt chunk is too short');
        const sub = bytes.subarray(body + 24, body + 40);
        if (!KSDATAFORMAT_TAIL.every((b, i) => sub[2 + i] === b)) throw fail('unknown WAVE_FORMAT_EXTENSIBLE sub-format');
        format = dv.getUint16(body + 24, true);
      }
      fmt = { format, channels, rate, bits, align };
    } else if (id === 'data') {
      data = bytes.subarray(body, end);
    }
    off = end + (size & 1); // chunks are padded to even sizes
    if (id === 'data' && end === bytes.length) break;
  }
  if (!fmt) throw fail('no fmt chunk');
  if (!data) throw fail('no data chunk');
  const { format, channels: C, rate, bits } = fmt;
  if (C < 1) throw fail('0 channels');
  if (rate < 1) throw fail('sample rate 0');
  const encoding = format === 1 ? `pcm${bits}` : format === 3 ? `float${bits}` : '';
  if (!['pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32', 'float64'].includes(encoding)) {
    throw fail(`format ${format} with ${bits} bits per sample is not supported (PCM 8/16/24/32-bit or IEEE float 32/64-bit)`);
  }
  const bps = bits / 8;
  if (fmt.align !== bps * C) throw fail(`block align ${fmt.align} does not match ${C} channel(s) of ${bits} bits`);
  const frames = Math.floor(data.length / fmt.align);
  const out = Array.from({ length: C }, () => new Float32Array(frames));
  const ddv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < C; c++) {
      const p = f * fmt.align + c * bps;
      let v: number;
      switch (encoding) {
        case 'pcm8': v = (ddv.getUint8(p) - 128) / 128; break;
        case 'pcm16': v = ddv.getInt16(p, true) / 32768; break;
        case 'pcm24': v = ((ddv.getUint8(p) | (ddv.getUint8(p + 1) << 8) | (ddv.getInt8(p + 2) << 16))) / 8388608; break;
        case 'pcm32': v = ddv.getInt32(p, true) / 2147483648; break;
        case 'float32': v = ddv.getFloat32(p, true); break;
        default: v = ddv.getFloat64(p, true);
      }
      out[c][f] = v;
    }
  }
  return { sampleRate: rate, channels: out, encoding };
}

/** Writes mono or multi-channel 16-bit PCM (samples clipped to [-1, 1]). */
export function writeWav16(channels: readonly Float32Array[], sampleRate: number): Uint8Array {
  const C = channels.length;
  const frames = channels[0]?.length ?? 0;
  const bytes = new Uint8Array(44 + frames * C * 2);
  const dv = new DataView(bytes.buffer);
  const str = (o: number, s: string) => { for (let i = 0; i < 4; i++) bytes[o + i] = s.charCodeAt(i); };
  str(0, 'RIFF'); dv.setUint32(4, 36 + frames * C * 2, true); str(8, 'WAVE');
  str(12, 'fmt '); dv.setUint32(16, 16, true); dv.setUint16(20, 1, true); dv.setUint16(22, C, true);
  dv.setUint32(24, sampleRate, true); dv.setUint32(28, sampleRate * C * 2, true); dv.setUint16(32, C * 2, true); dv.setUint16(34, 16, true);
  str(36, 'data'); dv.setUint32(40, frames * C * 2, true);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < C; c++) {
      const v = Math.max(-1, Math.min(1, channels[c][f]));
      dv.setInt16(44 + (f * C + c) * 2, Math.round(v < 0 ? v * 32768 : v * 32767), true);
    }
  }
  return bytes;
}
