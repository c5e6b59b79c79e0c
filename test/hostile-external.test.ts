// External data and conformance files from strangers (issue 15, items 1 and 7): confined to the
// model's real folder, regular files only, every read bounded by the file's size.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RnnxError } from '../src/ir/errors.js';
import { loadModel } from '../src/import/model.js';
import { onnx } from '../src/import/proto.js';
import { readNpy } from '../src/io/npy.js';
import { runNodeTest } from '../src/runtime/node-test.js';
import { crossCheck, CHECK_TOL } from '../src/cli/common.js';
import { InferenceSession } from '../src/runtime/session.js';

const fixtures = path.join(import.meta.dirname, 'fixtures');
const seed = path.join(fixtures, 'lstm_seed');
const nodeTests = path.join(import.meta.dirname, 'data', 'onnx-node');
const feeds = Object.fromEntries(['x', 'h0', 'c0'].map((n) => [n, readNpy(fs.readFileSync(path.join(seed, `in_${n}.npy`)))]));

type Entry = { key: string; value: string };
/**
 * Writes lstm_seed with every initializer moved to one data file (`location`), each at its own
 * offset; `edit` may change the entries of each initializer. Returns the model path.
 */
function externalSeed(dir: string, location = 'weights.bin', edit?: (e: Entry[], i: number) => Entry[]): string {
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(seed, 'model.onnx')));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  proto.graph!.initializer!.forEach((tp, i) => {
    const raw = tp.rawData!;
    expect(raw.length).toBeGreaterThan(0);
    const pad = (64 - (offset % 64)) % 64; // aligned like onnx's save_as_external_data
    chunks.push(new Uint8Array(pad), raw);
    offset += pad;
    const e = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
    tp.externalData = edit ? edit(e, i) : e;
    tp.dataLocation = 1;
    tp.rawData = new Uint8Array(0);
    offset += raw.length;
  });
  fs.mkdirSync(path.dirname(path.join(dir, location)), { recursive: true });
  fs.writeFileSync(path.join(dir, location), Buffer.concat(chunks));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-hostile-'));

function rnnxError(f: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an RnnxError').toBeInstanceOf(RnnxError);
  expect((err as Error).message).toMatch(pattern);
}

const want = InferenceSession.createSync(path.join(seed, 'model.onnx')).runSync(feeds);

describe('external data: the good cases', () => {
  it('loads every tensor at its offset of one file, the same as the embedded model', () => {
    const out = InferenceSession.createSync(externalSeed(tmp())).runSync(feeds);
    for (const k of Object.keys(want)) expect(Array.from(out[k].data as Float32Array)).toEqual(Array.from(want[k].data as Float32Array));
  });
  it('an entry without length reads the tensor\'s own size at its offset', () => {
    const file = externalSeed(tmp(), 'weights.bin', (e) => e.filter((x) => x.key !== 'length'));
    expect(InferenceSession.createSync(file).runSync(feeds).y.data).toEqual(want.y.data);
  });
  it('a data file named ..w.bin, a sub-folder and a symlink that stays inside are accepted', () => {
    expect(InferenceSession.createSync(externalSeed(tmp(), '..w.bin')).runSync(feeds).y.data).toEqual(want.y.data);
    expect(InferenceSession.createSync(externalSeed(tmp(), 'data/w.bin')).runSync(feeds).y.data).toEqual(want.y.data);
    const dir = tmp();
    const file = externalSeed(dir, 'real.bin');
    fs.symlinkSync('real.bin', path.join(dir, 'link.bin'));
    const proto = onnx.ModelProto.decode(fs.readFileSync(file));
    for (const tp of proto.graph!.initializer!) tp.externalData!.find((e) => e.key === 'location')!.value = 'link.bin';
    fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
    expect(InferenceSession.createSync(file).runSync(feeds).y.data).toEqual(want.y.data);
  });
  it('the model folder itself may be reached through a symlink', () => {
    const dir = tmp();
    externalSeed(path.join(dir, 'real'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'alias'));
    expect(InferenceSession.createSync(path.join(dir, 'alias', 'model.onnx')).runSync(feeds).y.data).toEqual(want.y.data);
  });
  it('run --check gives onnxruntime the model path, so external data is found from any folder', async () => {
    const file = externalSeed(tmp());
    const ours = InferenceSession.createSync(file).runSync(feeds);
    const r = await crossCheck(file, feeds, ours, CHECK_TOL);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.outputs.map((o) => o.name)).toEqual(['y', 'hn', 'cn']);
  });
});

describe('external data: hostile cases', () => {
  it('a symlink to a file outside the folder is refused (no bytes of it reach the model)', () => {
    const dir = tmp();
    const file = externalSeed(dir);
    fs.rmSync(path.join(dir, 'weights.bin'));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'weights.bin'));
    rnnxError(() => loadModel(file), /resolves \(through a symbolic link\) to \/etc\/passwd, outside the model's folder/);
  });
  it('a symlink to /dev/zero is refused at once', () => {
    const dir = tmp();
    const file = externalSeed(dir);
    fs.rmSync(path.join(dir, 'weights.bin'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'weights.bin'));
    rnnxError(() => loadModel(file), /outside the model's folder/);
  });
  it('a symlinked directory that leads outside is refused', () => {
    const dir = tmp();
    const outside = tmp();
    const file = externalSeed(dir, 'sub/weights.bin');
    fs.renameSync(path.join(dir, 'sub'), path.join(outside, 'sub'));
    fs.symlinkSync(path.join(outside, 'sub'), path.join(dir, 'sub'));
    rnnxError(() => loadModel(file), /resolves \(through a symbolic link\) to .* outside the model's folder/);
  });
  it('a FIFO or a folder inside the model folder is refused without blocking', () => {
    const dir = tmp();
    const file = externalSeed(dir);
    fs.rmSync(path.join(dir, 'weights.bin'));
    execFileSync('mkfifo', [path.join(dir, 'weights.bin')]);
    rnnxError(() => loadModel(file), /external data 'weights.bin' is not a regular file/);
    fs.rmSync(path.join(dir, 'weights.bin'));
    fs.mkdirSync(path.join(dir, 'weights.bin'));
    rnnxError(() => loadModel(file), /external data 'weights.bin' is a directory/);
  }, 10_000);
  it('a model path that is a FIFO or a device is refused without blocking', () => {
    const dir = tmp();
    execFileSync('mkfifo', [path.join(dir, 'model.onnx')]);
    rnnxError(() => loadModel(path.join(dir, 'model.onnx')), /model '.*model.onnx' is not a regular file/);
    rnnxError(() => loadModel('/dev/zero'), /not a regular file/);
  }, 10_000);
  it('paths that leave the folder, absolute paths and NUL are refused', () => {
    for (const loc of ['../w.bin', 'a/../../w.bin', '/etc/passwd', '..']) {
      const dir = tmp();
      fs.mkdirSync(path.join(dir, 'm'));
      const file = externalSeed(path.join(dir, 'm'), 'ok.bin', (e) => e.map((x) => (x.key === 'location' ? { key: 'location', value: loc } : x)));
      rnnxError(() => loadModel(file), /leaves the model's folder/);
    }
    const file = externalSeed(tmp(), 'ok.bin', (e) => e.map((x) => (x.key === 'location' ? { key: 'location', value: 'ok.bin\0x' } : x)));
    rnnxError(() => loadModel(file), /NUL/);
  });
  it('offsets and lengths are decimal integers inside the file', () => {
    const withEntry = (key: string, value: string) => externalSeed(tmp(), 'w.bin', (e) => [...e.filter((x) => x.key !== key), { key, value }]);
    rnnxError(() => loadModel(withEntry('offset', '0x10')), /external data offset '0x10' is not a decimal integer/);
    rnnxError(() => loadModel(withEntry('offset', '1e2')), /offset '1e2' is not a decimal integer/);
    rnnxError(() => loadModel(withEntry('offset', '-4')), /offset '-4'/);
    rnnxError(() => loadModel(withEntry('offset', ' 16')), /offset ' 16'/);
    rnnxError(() => loadModel(withEntry('offset', '99999999999999999999')), /below 2\^53/);
    rnnxError(() => loadModel(withEntry('offset', '100000')), /range offset=100000 length=\d+ is outside 'w.bin' \(\d+ bytes\)/);
    rnnxError(() => loadModel(withEntry('length', '3')), /external data length 3 but dims \[.*\] of float32 need \d+ bytes/);
    rnnxError(() => loadModel(withEntry('lenght', '3')), /unknown external data key 'lenght'/);
    rnnxError(() => loadModel(externalSeed(tmp(), 'w.bin', (e) => [...e, e[0]])), /key 'location' given twice/);
    rnnxError(() => loadModel(externalSeed(tmp(), 'w.bin', (e) => e.filter((x) => x.key !== 'location'))), /without a 'location'/);
  });
  it('a file truncated after the model was written is an error, not garbage', () => {
    const dir = tmp();
    const file = externalSeed(dir);
    fs.truncateSync(path.join(dir, 'weights.bin'), 100);
    rnnxError(() => loadModel(file), /is outside 'weights.bin' \(100 bytes\)/);
  });
});

describe('exact dims', () => {
  const big = { low: 1, high: 0x200000, unsigned: false }; // 2^53 + 1
  it('an initializer dim of 2^53+1 is refused, not rounded', () => {
    const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(seed, 'model.onnx')));
    proto.graph!.initializer![0].dims = [big as never, 0];
    rnnxError(() => loadModel(onnx.ModelProto.encode(proto).finish()), /invalid dims \[9007199254740993,0\]/);
  });
  it('a declared dim of 2^53+1 is refused, a negative one is unknown', () => {
    const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(seed, 'model.onnx')));
    const dim = proto.graph!.input![0].type!.tensorType!.shape!.dim![2];
    dim.dimValue = big as never;
    rnnxError(() => loadModel(onnx.ModelProto.encode(proto).finish()), /declared dim 9007199254740993 is beyond 2\^53/);
    dim.dimValue = -3;
    expect(loadModel(onnx.ModelProto.encode(proto).finish()).graph.inputs[0].shape![2]).toBe(null);
  });
  it('dims whose product passes 2^53 are refused before any allocation', () => {
    const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(seed, 'model.onnx')));
    proto.graph!.initializer![0].dims = [2 ** 30, 2 ** 30, 2 ** 30];
    rnnxError(() => loadModel(onnx.ModelProto.encode(proto).finish()), /hold more than 2\^53 elements/);
  });
});

describe('conformance runner', () => {
  const copyTest = (name: string) => {
    const dir = path.join(tmp(), name);
    fs.cpSync(path.join(nodeTests, name), dir, { recursive: true });
    return dir;
  };
  it('passes an untouched test (the control)', () => {
    expect(runNodeTest(copyTest('test_split_equal_parts_1d')).status).toBe('passed');
  });
  it('a test set with no output files, or a folder with no test set, fails', () => {
    const dir = copyTest('test_relu');
    for (const f of fs.readdirSync(path.join(dir, 'test_data_set_0'))) if (f.startsWith('output_')) fs.rmSync(path.join(dir, 'test_data_set_0', f));
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining('0 output files for 1 model outputs') });
    fs.rmSync(path.join(dir, 'test_data_set_0'), { recursive: true });
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining('nothing to check') });
  });
  it('every output is compared: a wrong or missing second output fails', () => {
    const dir = copyTest('test_split_equal_parts_1d');
    const set = path.join(dir, 'test_data_set_0');
    // output_1.pb replaced by output_2.pb (same shape, other values)
    fs.copyFileSync(path.join(set, 'output_2.pb'), path.join(set, 'output_1.pb'));
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining("output 'output_2'") });
    const dir2 = copyTest('test_split_equal_parts_1d');
    fs.rmSync(path.join(dir2, 'test_data_set_0', 'output_2.pb'));
    expect(runNodeTest(dir2)).toMatchObject({ status: 'failed', detail: expect.stringContaining('2 output files for 3 model outputs') });
  });
  it('a .pb symlinked to /dev/zero, or whose external data leaves its folder, fails at once', () => {
    const dir = copyTest('test_relu');
    const input = path.join(dir, 'test_data_set_0', 'input_0.pb');
    fs.rmSync(input);
    fs.symlinkSync('/dev/zero', input);
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining('not a regular file') });
    fs.rmSync(input);
    const tp = onnx.TensorProto.encode({ name: 'x', dims: [3, 4, 5], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'x.bin' }] }).finish();
    fs.writeFileSync(input, tp);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'test_data_set_0', 'x.bin'));
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining('outside the model\'s folder') });
    fs.rmSync(path.join(dir, 'test_data_set_0', 'x.bin'));
    fs.writeFileSync(path.join(dir, 'test_data_set_0', 'x.bin'), Buffer.from(new Float32Array(60).fill(-1).buffer));
    expect(runNodeTest(dir)).toMatchObject({ status: 'failed', detail: expect.stringContaining('output') }); // relu(-1) = 0 ≠ the stored outputs
  });
});
