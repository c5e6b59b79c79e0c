// The narrow element types (float8 ×4, float8e8m0, float4e2m1, int4/uint4, int2/uint2): bit-level
// conversions, TensorProto packing, and Cast / QuantizeLinear / DequantizeLinear cross-checked
// against onnxruntime-node through float32 round trips (onnxruntime cannot feed most of these types).
import { describe, expect, it } from 'vitest';
import { decodeTensor, encodeTensor } from '../src/import/tensor-proto.js';
import type { Model, Node } from '../src/ir/graph.js';
import { Tensor, type DataType } from '../src/ir/tensor.js';
import { e8m0Encoder, fromE8M0, narrowDecoder, narrowEncoder } from '../src/ops/narrow.js';
import { compareTensors } from '../src/runtime/compare.js';
import { randTensor, rng, runOrt, runRnnx } from './helpers.js';

const F8: DataType[] = ['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz'];

describe('narrow float codes', () => {
  it('decode the formats as the spec defines them', () => {
    const d = (t: DataType, c: number) => narrowDecoder(t)(c);
    expect([d('float8e4m3fn', 0x7e), d('float8e4m3fn', 0x01), d('float8e4m3fn', 0x38), d('float8e4m3fn', 0xfe)]).toEqual([448, 2 ** -9, 1, -448]);
    expect(d('float8e4m3fn', 0x7f)).toBeNaN();
    expect([d('float8e4m3fnuz', 0x7f), d('float8e4m3fnuz', 0x01), d('float8e4m3fnuz', 0x40)]).toEqual([240, 2 ** -10, 1]);
    expect(d('float8e4m3fnuz', 0x80)).toBeNaN();
    expect([d('float8e5m2', 0x7b), d('float8e5m2', 0x7c), d('float8e5m2', 0xfc), d('float8e5m2', 0x01)]).toEqual([57344, Infinity, -Infinity, 2 ** -16]);
    expect(d('float8e5m2', 0x7d)).toBeNaN();
    expect([d('float8e5m2fnuz', 0x7f), d('float8e5m2fnuz', 0x01), d('float8e5m2fnuz', 0x40)]).toEqual([57344, 2 ** -17, 1]);
    expect(Array.from({ length: 16 }, (_, c) => d('float4e2m1', c))).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]);
    expect([fromE8M0(127), fromE8M0(0), fromE8M0(254)]).toEqual([1, 2 ** -127, 2 ** 127]);
    expect(fromE8M0(255)).toBeNaN();
  });

  it('every finite code encodes back to itself, and midpoints round to the even code', () => {
    for (const t of [...F8, 'float4e2m1'] as DataType[]) {
      const dec = narrowDecoder(t);
      const n = t === 'float4e2m1' ? 16 : 256;
      for (const sat of [true, false]) {
        const enc = narrowEncoder(t, sat);
        for (let c = 0; c < n; c++) {
          const v = dec(c);
          if (Number.isNaN(v) || !Number.isFinite(v)) continue;
          if (v === 0 && t.endsWith('fnuz')) { expect(enc(v)).toBe(0); continue; }
          expect(enc(v), `${t} code ${c}`).toBe(c);
          const next = dec(c + 1);
          if (c + 1 < n / 2 && Number.isFinite(next)) {
            const mid = (v + next) / 2;
            expect(enc(mid), `${t} midpoint ${c}/${c + 1}`).toBe(c % 2 === 0 ? c : c + 1);
            expect(enc(mid + (next - v) / 1024), `${t} above midpoint ${c}`).toBe(c + 1);
          }
        }
      }
    }
  });

  it('out-of-range values saturate or overflow as the Cast tables say', () => {
    const sat = (t: DataType) => narrowEncoder(t, true), raw = (t: DataType) => narrowEncoder(t, false);
    expect([sat('float8e4m3fn')(1e6), sat('float8e4m3fn')(-Infinity), sat('float8e4m3fn')(464), sat('float8e4m3fn')(465)]).toEqual([0x7e, 0xfe, 0x7e, 0x7e]);
    expect([raw('float8e4m3fn')(464), raw('float8e4m3fn')(465), raw('float8e4m3fn')(Infinity), raw('float8e4m3fn')(-1e6)]).toEqual([0x7e, 0x7f, 0x7f, 0xff]);
    // e5m2: max 57344, the next binade starts at 65536, so the rounding midpoint 61440 ties to the even code 0x7c (Inf).
    expect([raw('float8e5m2')(1e6), raw('float8e5m2')(-Infinity), raw('float8e5m2')(61440), raw('float8e5m2')(61439), sat('float8e5m2')(Infinity)]).toEqual([0x7c, 0xfc, 0x7c, 0x7b, 0x7b]);
    expect([raw('float8e4m3fnuz')(-1e6), raw('float8e5m2fnuz')(Infinity), raw('float8e5m2fnuz')(-0), raw('float8e4m3fnuz')(-1e-9)]).toEqual([0x80, 0x80, 0, 0]);
    expect([raw('float8e4m3fn')(-0), raw('float8e5m2')(NaN), raw('float8e4m3fnuz')(NaN)]).toEqual([0x80, 0x7e, 0x80]);
    expect([sat('float4e2m1')(7), sat('float4e2m1')(-1e9), sat('float4e2m1')(5), sat('float4e2m1')(0.25), sat('float4e2m1')(0.26)]).toEqual([7, 15, 6, 0, 1]);
  });

  it('float8e8m0 rounds up, down or to nearest on the float32 bits, saturating at 2^127', () => {
    const up = e8m0Encoder(true, 'up'), down = e8m0Encoder(true, 'down'), near = e8m0Encoder(false, 'nearest');
    expect([up(1), up(1.01), up(3), down(3), near(3), near(2.9), near(3.1), near(1.5)]).toEqual([127, 128, 129, 128, 129, 128, 129, 128]);
    expect([up(3e38), e8m0Encoder(false, 'up')(3e38), up(NaN), up(Infinity)]).toEqual([254, 255, 255, 255]);
  });
});

describe('packed 4-bit and 2-bit tensors', () => {
  it('round-trip through TensorProto raw_data (LSB first, odd counts padded)', () => {
    const cases: [DataType, number[]][] = [
      ['int4', [-8, 7, -1, 0, 3]], ['uint4', [15, 0, 9]], ['int2', [-2, 1, -1, 0, 1, -2, 0]], ['uint2', [3, 2, 1, 0, 3]],
      ['float4e2m1', [0x7, 0x8, 0xf, 0x1, 0x3]],
    ];
    for (const [type, vals] of cases) {
      const t = new Tensor(type, vals, [vals.length]);
      const tp = encodeTensor(t, 'x');
      expect(tp.rawData!.length, type).toBe(Math.ceil((vals.length * (type.endsWith('2') ? 2 : 4)) / 8));
      const back = decodeTensor(tp, {}, 'x');
      expect(back.type).toBe(type);
      expect(Array.from(back.data as Int8Array)).toEqual(vals);
    }
    // int4 [-8, 7, -1]: bytes 0x78, 0x0f
    expect(Array.from(encodeTensor(new Tensor('int4', [-8, 7, -1], [3]), 'x').rawData!)).toEqual([0x78, 0x0f]);
  });

  it('decode int32_data: one packed byte per entry for 4/2-bit types, one code per entry for float8', () => {
    const i4 = decodeTensor({ dataType: 22, dims: [3], int32Data: [0x78, 0x0f] }, {}, 'x');
    expect(Array.from(i4.data as Int8Array)).toEqual([-8, 7, -1]);
    const u2 = decodeTensor({ dataType: 25, dims: [5], int32Data: [0b00011011, 0b10] }, {}, 'x');
    expect(Array.from(u2.data as Uint8Array)).toEqual([3, 2, 1, 0, 2]);
    const f8 = decodeTensor({ dataType: 17, dims: [2], int32Data: [0x38, 0xfe] }, {}, 'x');
    expect(f8.type).toBe('float8e4m3fn');
    expect(Array.from(f8.data as Uint8Array)).toEqual([0x38, 0xfe]);
    expect(() => decodeTensor({ dataType: 22, dims: [5], int32Data: [1, 2] }, {}, 'x')).toThrow(/5 elements|3/);
  });
});

/** x (float32) -> nodes -> y (float32): the model onnxruntime can run too. */
function chain(nodes: Node[], consts: Record<string, Tensor>, opset: number, dims: number[]): Model {
  return {
    irVersion: 10, producerName: 'rnnx-test', producerVersion: '0', opsets: new Map([['', opset]]),
    graph: {
      name: 'chain', nodes,
      inputs: [{ name: 'x', type: 'float32', shape: dims }],
      outputs: [{ name: 'y', type: 'float32' }],
      initializers: new Map(Object.entries(consts)), valueInfo: new Map(),
    },
  };
}
const node = (opType: string, inputs: string[], output: string, attrs: Record<string, number> = {}): Node => ({
  name: output, opType, domain: '', inputs, outputs: [output],
  attributes: new Map(Object.entries(attrs).map(([k, v]) => [k, { name: k, type: 'int' as const, value: v }])),
});
const CODE: Record<string, number> = { float8e4m3fn: 17, float8e4m3fnuz: 18, float8e5m2: 19, float8e5m2fnuz: 20, uint4: 21, int4: 22 };

describe('against onnxruntime-node (float32 in, float32 out)', () => {
  const r = rng(77);
  // Values spread over every binade of the float8 ranges, plus out-of-range and special values.
  const n = 400;
  const vals = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * 2 ** (-20 + 40 * r()) * (1 + r()));
  vals.push(0, -0, 448, 464, 465, 480, 57344, 61440, 1e9, -1e9, 240, 248, Infinity, -Infinity, NaN);

  for (const t of F8) {
    for (const saturate of [1, 0]) {
      it(`Cast float32 -> ${t} -> float32, saturate=${saturate}`, async () => {
        // Without saturation onnxruntime 1.30 departs from the spec's table (and the ONNX reference)
        // just past the largest value: e4m3fn 480 -> 448 (465..479 -> NaN), e5m2 61440 -> NaN
        // (spec: Inf). Those cases are checked above against the spec; here they are left out.
        const limit = saturate ? Infinity : t === 'float8e4m3fn' ? 464 : t === 'float8e5m2' ? 61439 : Infinity;
        const xs = vals.filter((v) => !(Math.abs(v) > limit && Number.isFinite(v)));
        const x = new Tensor('float32', xs, [xs.length]);
        const m = chain([node('Cast', ['x'], 'q', { to: CODE[t], saturate }), node('Cast', ['q'], 'y', { to: 1 })], {}, 19, [xs.length]);
        const ours = runRnnx(m, { x }).y, theirs = (await runOrt(m, { x })).y;
        const c = compareTensors(ours, theirs, { rtol: 0, atol: 0 });
        expect(c.message ?? '').toBe('');
      });
    }
  }

  for (const [type, zp] of [['int4', -3], ['uint4', 5]] as [DataType, number][]) {
    it(`blocked QuantizeLinear -> DequantizeLinear (${type}, block_size 3, axis 1)`, async () => {
      const dims = [2, 8, 3];
      const xs = randTensor(r, dims, 'float32', -6, 6);
      const sdims = [2, 3, 3];
      const scale = randTensor(r, sdims, 'float32', 0.2, 1.5);
      const zpt = new Tensor(type, new Array(18).fill(zp), sdims);
      const m = chain([
        node('QuantizeLinear', ['x', 's', 'z'], 'q', { axis: 1, block_size: 3 }),
        node('DequantizeLinear', ['q', 's', 'z'], 'y', { axis: 1, block_size: 3 }),
      ], { s: scale, z: zpt }, 21, dims);
      const ours = runRnnx(m, { x: xs }).y, theirs = (await runOrt(m, { x: xs })).y;
      expect(compareTensors(ours, theirs, { rtol: 0, atol: 0 }).message ?? '').toBe('');
    });
  }
});
