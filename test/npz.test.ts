import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { RnnxError } from '../src/ir/errors.js';
import { Tensor } from '../src/ir/tensor.js';
import { readNpz, writeNpy } from '../src/io/npy.js';

/** An .npz as numpy writes it (deflated or stored entries), made with fflate's writer. */
function npz(arrays: Record<string, Tensor>, level: 0 | 6 = 6): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(arrays).map(([k, t]) => [`${k}.npy`, writeNpy(t)])), { level });
}

/** Offset of the first central directory entry. */
function centralDir(z: Uint8Array): number {
  const dv = new DataView(z.buffer, z.byteOffset, z.byteLength);
  for (let i = z.length - 22; i >= 0; i--) if (dv.getUint32(i, true) === 0x06054b50) return dv.getUint32(i + 16, true);
  throw new Error('no EOCD');
}

function expectNamed(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(RnnxError);
  expect((err as Error).message).toMatch(re);
}

describe('.npz reader', () => {
  const a = new Tensor('float32', Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i)), [10, 100]);
  const b = new Tensor('int64', BigInt64Array.from([1n, -2n, 3n]), [3]);

  for (const level of [0, 6] as const) {
    it(`reads ${level ? 'deflated' : 'stored'} entries`, () => {
      const got = readNpz(npz({ a, b }, level));
      expect([...got.keys()]).toEqual(['a', 'b']);
      expect(got.get('a')!.dims).toEqual([10, 100]);
      expect(got.get('a')!.data).toEqual(a.data);
      expect(got.get('b')!.data).toEqual(b.data);
    });
  }

  it('refuses a zip bomb before inflating (declared sizes over the limit)', () => {
    // 8 MB of zeros deflate to ~8 KB; the entry then claims 4 GB.
    const zeros = new Tensor('uint8', new Uint8Array(8 << 20), [8 << 20]);
    const z = npz({ z: zeros });
    expect(z.length).toBeLessThan(1 << 20);
    expectNamed(() => readNpz(z, 'bomb.npz', { maxBytes: 4 << 20 }), /bomb\.npz: entries would inflate to \d+ bytes, over the limit/);
    const cd = centralDir(z);
    new DataView(z.buffer, z.byteOffset).setUint32(cd + 24, 0xfff00000, true);
    expectNamed(() => readNpz(z, 'bomb.npz'), /would inflate to 4293918720 bytes, over the limit of 1073741824/);
  });

  it('an entry that inflates to more than it declares is cut at the declared size and refused', () => {
    const z = npz({ a });
    new DataView(z.buffer, z.byteOffset).setUint32(centralDir(z) + 24, 200, true);
    expectNamed(() => readNpz(z, 'lie.npz'), /lie\.npz:a\.npy: corrupt zip entry \(size or CRC-32/);
  });

  it('corrupt deflate data is a named error', () => {
    const z = npz({ a });
    const dv = new DataView(z.buffer, z.byteOffset);
    const start = 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    for (let i = start + 10; i < start + 40; i++) z[i] ^= 0x5a;
    expectNamed(() => readNpz(z, 'bad.npz'), /bad\.npz:a\.npy: corrupt (deflate data|zip entry)/);
  });

  it('offsets past the end are named errors', () => {
    const z = npz({ a, b });
    const cd = centralDir(z);
    const dv = new DataView(z.buffer, z.byteOffset);
    const z1 = z.slice();
    new DataView(z1.buffer).setUint32(cd + 42, z.length + 100, true); // local header offset
    expectNamed(() => readNpz(z1, 'x.npz'), /x\.npz: corrupt zip archive \(offset \d+ is past the end\)/);
    const z2 = z.slice();
    new DataView(z2.buffer).setUint32(cd + 20, dv.getUint32(cd + 20, true) + 1_000_000, true); // compressed size
    expectNamed(() => readNpz(z2, 'x.npz'), /run past the end/);
    const z3 = z.slice();
    for (let i = z3.length - 22; i >= 0; i--) if (new DataView(z3.buffer).getUint32(i, true) === 0x06054b50) { new DataView(z3.buffer).setUint32(i + 16, z.length * 2, true); break; }
    expectNamed(() => readNpz(z3, 'x.npz'), /corrupt zip archive/);
    expectNamed(() => readNpz(z.subarray(0, 100), 'x.npz'), /x\.npz: not a zip archive/);
  });
});
