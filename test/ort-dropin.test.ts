import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from '../src/ort.js';
import { RnnxError } from '../src/ir/errors.js';
import { Tensor as CoreTensor } from '../src/ir/tensor.js';
import { fromHalfBits } from '../src/ops/half.js';

const here = import.meta.dirname;
const snippet = fs.readFileSync(path.join(here, 'ort-dropin', 'snippet.ts'), 'utf8');
const IMPORT = "import * as ort from 'onnxruntime-web';";
const modelPath = path.join(here, 'fixtures', 'lstm_seed', 'model.onnx');
const genDir = path.join(here, 'ort-dropin', '.gen');

/** The snippet with its import swapped (written beside it, so it resolves like the original). */
function variant(name: string, specifier: string): string {
  expect(snippet).toContain(IMPORT);
  fs.mkdirSync(genDir, { recursive: true });
  const file = path.join(genDir, `snippet-${name}.ts`);
  fs.writeFileSync(file, snippet.replace(IMPORT, `import * as ort from '${specifier}';`));
  return file;
}

/** Type errors of each file, from one program (the libraries are parsed once). */
function typeErrors(files: string[]): string[][] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  });
  return files.map((f) => ts.getPreEmitDiagnostics(program, program.getSourceFile(f)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')));
}

afterAll(() => fs.rmSync(genDir, { recursive: true, force: true }));

describe('rnnx/ort: one onnxruntime snippet, both engines', () => {
  it('type-checks against onnxruntime-web and against rnnx/ort', () => {
    // rnnx/ort as a user's compiler sees it: the package's exports and built declarations.
    if (!fs.existsSync(path.join(here, '..', 'dist', 'ort.d.ts'))) throw new Error('dist/ort.d.ts is missing: run `npm run build`');
    const broken = variant('broken', 'rnnx/ort');
    fs.writeFileSync(broken, fs.readFileSync(broken, 'utf8').replace("tag: 'snippet'", 'tag: 42'));
    const [web, rnnx, bad] = typeErrors([path.join(here, 'ort-dropin', 'snippet.ts'), variant('pkg', 'rnnx/ort'), broken]);
    expect(web).toEqual([]);
    expect(rnnx).toEqual([]);
    expect(bad.join('\n')).toMatch(/number.*not assignable to type 'string'/); // the checker does check
  }, 120_000);

  it('runs on onnxruntime-node and on rnnx with the same results', async () => {
    const model = new Uint8Array(fs.readFileSync(modelPath));
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1));
    const viaOrt = await (await import(variant('node', 'onnxruntime-node'))).main(model, x);
    const viaRnnx = await (await import(variant('rnnx', '../../../src/ort.js'))).main(model, x);
    expect(viaRnnx.inputs).toEqual(viaOrt.inputs);
    expect(viaRnnx.outputs).toEqual(viaOrt.outputs);
    expect(viaRnnx.metadata).toEqual(viaOrt.metadata);
    expect(viaRnnx.fetched).toEqual(['hn', 'y']);
    expect(viaRnnx.fetched).toEqual(viaOrt.fetched);
    expect(viaRnnx.yDims).toEqual(viaOrt.yDims);
    expect(viaRnnx.location).toBe('cpu');
    expect(viaRnnx.location).toBe(viaOrt.location);
    for (const k of ['y', 'hn'] as const) {
      viaRnnx[k].forEach((v: number, i: number) => expect(Math.abs(v - viaOrt[k][i])).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(viaOrt[k][i])));
    }
  });
});

describe('rnnx/ort behaviour', () => {
  it('Tensor constructors infer the type like onnxruntime-common', () => {
    const cases: [unknown, string][] = [
      [new Float32Array(2), 'float32'], [new Float64Array(2), 'float64'], [new Int32Array(2), 'int32'], [new BigInt64Array(2), 'int64'],
      [new Uint8Array(2), 'uint8'], [new Int8Array(2), 'int8'], [new Uint16Array(2), 'uint16'], [new Int16Array(2), 'int16'],
      [new Uint32Array(2), 'uint32'], [new BigUint64Array(2), 'uint64'], [['a', 'b'], 'string'], [[true, false], 'bool'],
    ];
    for (const [data, type] of cases) {
      const a = new ort.Tensor(data as Float32Array, [2]);
      const b = new ortNode.Tensor(data as Float32Array, [2]);
      expect(a.type).toBe(type);
      expect(b.type).toBe(type);
      expect(a.dims).toEqual([2]);
    }
    expect(new ort.Tensor('int64', [16000n]).dims).toEqual([1]);
    // A number array without a type: both refuse.
    expect(() => new ortNode.Tensor([1, 2] as unknown as Float32Array, [2])).toThrow();
    expect(() => new ort.Tensor([1, 2] as unknown as Float32Array, [2])).toThrow(RnnxError);
    expect(() => new ort.Tensor('float32', new Int32Array(2))).toThrow(RnnxError);
    expect(() => new ort.Tensor('complex64' as 'float32', [1])).toThrow(/unsupported type 'complex64'/);
  });

  it('float16 from numbers holds the values, not raw bits', () => {
    const t = new ort.Tensor('float16', [1.5, 2, -0.333, 65504]);
    // -0.333 rounds to the nearest half, -1364 · 2⁻¹²
    expect(Array.from(t.data as Uint16Array, fromHalfBits)).toEqual([1.5, 2, -1364 / 4096, 65504]);
    // onnxruntime refuses this form (without Float16Array); rnnx converts.
    expect(() => new ortNode.Tensor('float16', [1.5, 2])).toThrow();
  });

  it('tensors pass both ways between rnnx and onnxruntime', async () => {
    const model = new Uint8Array(fs.readFileSync(modelPath));
    const rs = await ort.InferenceSession.create(model);
    const os = await ortNode.InferenceSession.create(model);
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.cos(i));
    const z = () => new Float32Array(10);
    const rnnxFeeds = { x: new ort.Tensor(x, [2, 3, 4]), h0: new CoreTensor('float32', z(), [1, 2, 5]), c0: new ort.Tensor(z(), [1, 2, 5]) };
    const ortFeeds = { x: new ortNode.Tensor(x, [2, 3, 4]), h0: new ortNode.Tensor(z(), [1, 2, 5]), c0: new ortNode.Tensor(z(), [1, 2, 5]) };
    const a = await os.run(rnnxFeeds as unknown as ortNode.InferenceSession.FeedsType); // rnnx tensors into onnxruntime
    const b = await rs.run(ortFeeds); // onnxruntime tensors into rnnx
    const close = (p: unknown, q: unknown) => (p as Float32Array).forEach((v, i) => expect(Math.abs(v - (q as Float32Array)[i])).toBeLessThan(1e-5));
    close(b.y.data, a.y.data);
    // Outputs onward: rnnx's states into onnxruntime, onnxruntime's into rnnx.
    const c = await os.run({ x: ortFeeds.x, h0: b.hn, c0: b.cn } as unknown as ortNode.InferenceSession.FeedsType);
    const d = await rs.run({ x: ortFeeds.x, h0: a.hn, c0: a.cn });
    close(d.y.data, c.y.data);
    expect(d.y.dims).toEqual(c.y.dims);
    await rs.release();
    await os.release();
  });

  it('session options: cpu/wasm providers run, others are errors; unknown options are errors', async () => {
    const model = new Uint8Array(fs.readFileSync(modelPath));
    await expect(ort.InferenceSession.create(model, { executionProviders: ['wasm', { name: 'cpu' }] })).resolves.toBeInstanceOf(ort.InferenceSession);
    await expect(ort.InferenceSession.create(model, { executionProviders: ['webgpu' as 'wasm'] })).rejects.toThrow(/execution provider 'webgpu' is not available/);
    await expect(ort.InferenceSession.create(model, { freeDimensionOverrides: {} } as ort.InferenceSession.SessionOptions)).rejects.toThrow(/unknown session option 'freeDimensionOverrides'/);
    const buf = new ArrayBuffer(model.length + 8);
    new Uint8Array(buf).set(model, 8);
    const s = await ort.InferenceSession.create(buf, 8, model.length);
    expect(s.outputNames).toEqual(['y', 'hn', 'cn']);
    await expect(ort.InferenceSession.create(buf, 9, model.length)).rejects.toThrow(RnnxError);
  });

  it('release() ends the session', async () => {
    const s = await ort.InferenceSession.create(new Uint8Array(fs.readFileSync(modelPath)));
    const feeds = { x: new ort.Tensor(new Float32Array(24), [2, 3, 4]), h0: new ort.Tensor(new Float32Array(10), [1, 2, 5]), c0: new ort.Tensor(new Float32Array(10), [1, 2, 5]) };
    await s.run(feeds);
    await s.release();
    await expect(s.run(feeds)).rejects.toThrow(/released/);
  });
});
