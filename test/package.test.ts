// The published package: its tarball, what a fresh offline install of it pulls in, and that both
// module systems load it. Needs dist/ (npm ci builds it through `prepare`).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '..');
const MB = 1024 * 1024;
/** Tarball + installed dependencies (the optional peer onnxruntime-node is not installed). */
const INSTALLED_LIMIT = 10 * MB;

function du(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += du(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

describe('npm package', () => {
  let tmp = '';
  let tarball = '';
  let packed: { size: number; files: { path: string }[] };
  const npmEnv = { ...process.env };
  delete npmEnv.ONNXRUNTIME_NODE_INSTALL; // a user's install sets nothing
  for (const k of Object.keys(npmEnv)) if (k.startsWith('npm_')) delete npmEnv[k];

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js')) || !fs.existsSync(path.join(root, 'dist', 'cjs', 'index.cjs'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm ci does it through prepare)');
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-pack-'));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root, env: npmEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    packed = JSON.parse(out)[0];
    tarball = path.join(tmp, JSON.parse(out)[0].filename as string);
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // Offline: everything must come from the cache (npm ci filled it); no env var, no download.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, env: npmEnv, stdio: 'ignore' });
  }, 120_000);

  afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

  it(`tarball and installed dependencies stay under ${INSTALLED_LIMIT / MB} MB, without onnxruntime`, () => {
    const nm = path.join(tmp, 'app', 'node_modules');
    const installed = du(nm);
    const deps = fs.readdirSync(nm).filter((d) => !d.startsWith('.'));
    console.log(`npm package: tarball ${(packed.size / 1024).toFixed(0)} KB, installed ${(installed / MB).toFixed(2)} MB (${deps.join(', ')})`);
    expect(deps).not.toContain('onnxruntime-node');
    expect(deps).not.toContain('onnxruntime-web');
    expect(deps).not.toContain('onnx-proto');
    expect(packed.size + installed).toBeLessThan(INSTALLED_LIMIT);
  });

  it('ships no benchmark, source maps or sources; ships LICENSE and the wasm kernels', () => {
    const files = packed.files.map((f) => f.path);
    expect(files.filter((f) => f.startsWith('dist/bench') || f.endsWith('.map') || f.startsWith('src/'))).toEqual([]);
    for (const f of ['LICENSE', 'README.md', 'dist/wasm/kernels.wasm', 'dist/wasm/kernels-shared.wasm', 'dist/cjs/index.cjs', 'dist/index.d.ts']) expect(files).toContain(f);
  });

  it('loads through import and require and runs a model', () => {
    const app = path.join(tmp, 'app');
    const model = path.join(app, 'node_modules', 'rnnx', 'test', 'fixtures', 'lstm_seed', 'model.onnx');
    const script = (load: string) => `${load}
      const s = rnnx.InferenceSession.createSync(${JSON.stringify(model)});
      const feeds = {};
      for (const m of s.inputMetadata) feeds[m.name] = new rnnx.Tensor('float32', new Float32Array(m.shape.reduce((a, d) => a * (typeof d === 'number' ? d : 1), 1)), m.shape.map((d) => typeof d === 'number' ? d : 1));
      const out = s.runSync(feeds);
      console.log(Object.keys(out).join(','), typeof rnnx.kernelInfo === 'function' ? rnnx.kernelInfo().simd : 'n/a');`;
    const cjs = execFileSync(process.execPath, ['-e', script("const rnnx = require('rnnx');")], { cwd: app, encoding: 'utf8' });
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e', script("import * as rnnx from 'rnnx';")], { cwd: app, encoding: 'utf8' });
    expect(cjs.trim()).toBe('y,hn,cn true');
    expect(esm.trim()).toBe(cjs.trim());
    // The require condition resolves to the CommonJS build, not require(esm).
    const resolved = execFileSync(process.execPath, ['-p', "require.resolve('rnnx')"], { cwd: app, encoding: 'utf8' }).trim();
    expect(resolved.endsWith(path.join('dist', 'cjs', 'index.cjs'))).toBe(true);
  });
});
