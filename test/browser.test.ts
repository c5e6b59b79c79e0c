// rnnx in a real browser: Debian's chromium, headless, driven by puppeteer-core; pages served from
// 127.0.0.1 by a tiny static server. The page loads rnnx's browser build (bundled here with
// esbuild), runs models and is compared bit for bit with Node on the same (SIMD) kernels; then
// @ricky0123/vad-web's NonRealTimeVAD runs on onnxruntime-web and on rnnx/ort over the same audio.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../src/io/npy.js';
import { Tensor } from '../src/ir/tensor.js';
import { modelFromTorch } from '../src/nn/from-torch.js';
import { exportOnnx } from '../src/export/onnx.js';
import { InferenceSession } from '../src/runtime/session.js';
import { randTensor, rng } from './helpers.js';
import type { WireTensor } from './browser/engine-page.js';

const CHROMIUM = process.env.RNNX_CHROMIUM ?? '/usr/bin/chromium';
const root = path.join(import.meta.dirname, '..');
const vadDist = path.join(root, 'node_modules', '@ricky0123', 'vad-web', 'dist');
const ortDist = path.join(root, 'node_modules', 'onnxruntime-web', 'dist');

let tmp = '';
let server: http.Server;
let base = '';
let browser: Browser;
const files = new Map<string, Uint8Array | string>();
let engineImports: string[] = [];

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.wav': 'audio/wav' };

/**
 * /iso/… is cross-origin isolated (SharedArrayBuffer available), /plain/… is not, /csp/… has a strict
 * Content-Security-Policy (scripts from the page's origin, WebAssembly allowed, no eval or
 * `new Function`: what Chrome extensions (Manifest V3) and many sites enforce); same files.
 */
function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const [, scope, ...rest] = url.pathname.split('/');
  const name = rest.join('/');
  const headers: Record<string, string> = {};
  if (scope === 'iso') Object.assign(headers, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
  if (scope === 'csp') headers['Content-Security-Policy'] = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
  if (scope === 'csp-nowasm') headers['Content-Security-Policy'] = "default-src 'self'; script-src 'self'";
  let body = files.get(name);
  if (body === undefined && name.startsWith('ortwasm/') && /^[\w.-]+$/.test(name.slice(8))) {
    const f = path.join(ortDist, name.slice(8));
    if (fs.existsSync(f)) body = fs.readFileSync(f);
  }
  if (!['iso', 'plain', 'csp', 'csp-nowasm'].includes(scope) || body === undefined) {
    res.writeHead(404, headers).end('not found');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(name)] ?? 'application/octet-stream', 'Cross-Origin-Resource-Policy': 'same-origin' }).end(body);
}

/**
 * Bundles a page; every import of onnxruntime-web (and its subpaths) becomes `ortTo`. Returns the
 * code and the imports left in it (none: everything, Node modules included, must be resolved).
 */
async function bundle(entry: string, ortTo?: string): Promise<{ js: string; imports: string[] }> {
  const r = await build({
    entryPoints: [path.join(import.meta.dirname, 'browser', entry)], bundle: true, format: 'esm', platform: 'browser',
    target: 'es2022', write: false, minify: true, logLevel: 'silent', metafile: true, outfile: 'out.js',
    plugins: ortTo ? [{ name: 'alias-ort', setup: (b) => b.onResolve({ filter: /^onnxruntime-web(\/.*)?$/ }, () => ({ path: ortTo })) }] : [],
  });
  return { js: r.outputFiles[0].text, imports: Object.values(r.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)) };
}

async function open(page: string, scope: 'iso' | 'plain' | 'csp' | 'csp-nowasm' = 'plain'): Promise<Page> {
  const p = await browser.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${base}/${scope}/${page}`);
  await p.waitForFunction(() => 'rnnxTest' in globalThis || 'vadTest' in globalThis, { timeout: 20_000 }).catch(() => {
    throw new Error(`${page} did not load: ${errors.join('; ')}`);
  });
  return p;
}

const html = (script: string) => `<!doctype html><meta charset="utf-8"><title>rnnx</title><script type="module" src="./${script}"></script>`;

function wire(t: Tensor): WireTensor {
  return { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v)) as number[] };
}

/** Node's run of the same steps, outputs in the page's wire form (float32 as bits). */
async function nodeRun(bytes: Uint8Array, steps: Record<string, WireTensor>[], carry: Record<string, string>, fuse = true): Promise<Record<string, WireTensor>[]> {
  const s = await InferenceSession.create(bytes, { fuse });
  const out: Record<string, WireTensor>[] = [];
  let state: Record<string, Tensor> = {};
  for (const step of steps) {
    const feeds = { ...Object.fromEntries(Object.entries(step).map(([k, w]) => [k, w.type === 'int64' ? new Tensor('int64', BigInt64Array.from(w.data, (v) => BigInt(v)), w.dims) : new Tensor(w.type, w.data as number[], w.dims)])), ...state };
    const r = await s.run(feeds);
    state = Object.fromEntries(Object.entries(carry).map(([o, i]) => [i, r[o]]));
    out.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, t.data instanceof Float32Array ? { type: t.type, dims: [...t.dims], data: Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)) } : wire(t)])));
  }
  await s.release();
  return out;
}

// Inputs: the LSTM fixture's own, Silero v5 over six 512-sample frames of a synthetic signal.
const lstmDir = path.join(root, 'test', 'fixtures', 'lstm_seed');
const lstmSteps = [Object.fromEntries(['x', 'h0', 'c0'].map((n) => [n, wire(readNpy(fs.readFileSync(path.join(lstmDir, `in_${n}.npy`))))]))];
const sig = rng(14);
const sileroSteps = Array.from({ length: 6 }, (_, f) => ({
  input: wire(new Tensor('float32', Float32Array.from({ length: 512 }, (_, i) => 0.3 * Math.sin((f * 512 + i) * 0.07) * (f % 2) + 0.02 * (sig() - 0.5)), [1, 512])),
  sr: wire(new Tensor('int64', [16000n], [])),
}));
sileroSteps[0] = { ...sileroSteps[0], state: wire(new Tensor('float32', new Float32Array(256), [2, 1, 128])) } as typeof sileroSteps[0];

/** A wide two-layer bidirectional LSTM: its GEMMs are large enough for threads: 2 to split. */
function wideLstm(): { bytes: Uint8Array; steps: Record<string, WireTensor>[] } {
  const r = rng(5);
  const H = 128, G = 4 * H;
  const sd: Record<string, Tensor> = {};
  for (const l of [0, 1]) for (const s of ['', '_reverse']) {
    sd[`weight_ih_l${l}${s}`] = randTensor(r, [G, l ? 2 * H : 64], 'float32', -0.08, 0.08);
    sd[`weight_hh_l${l}${s}`] = randTensor(r, [G, H], 'float32', -0.08, 0.08);
    sd[`bias_ih_l${l}${s}`] = randTensor(r, [G], 'float32', -0.1, 0.1);
    sd[`bias_hh_l${l}${s}`] = randTensor(r, [G], 'float32', -0.1, 0.1);
  }
  const bytes = exportOnnx(modelFromTorch('LSTM', sd, { input_size: 64, hidden_size: H, num_layers: 2, bidirectional: true }));
  return { bytes, steps: [{ x: wire(randTensor(r, [10, 8, 64])) }] };
}
const wide = wideLstm();

const same = (a: Record<string, WireTensor>[], b: Record<string, WireTensor>[]) => JSON.stringify(a) === JSON.stringify(b);

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the browser tests need Debian's chromium (apt-get install -y chromium), or RNNX_CHROMIUM=/path/to/chrome`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-browser-'));
  // onnxruntime-web's CPU (wasm) build: the full one adds WebGPU and a twice larger binary.
  const [engine, vadOrt, vadRnnx] = await Promise.all([
    bundle('engine-page.ts'),
    bundle('vad-page.ts', path.join(ortDist, 'ort.wasm.min.js')),
    bundle('vad-page.ts', path.join(root, 'src', 'ort.ts')),
  ]);
  engineImports = engine.imports;
  const playground = await build({
    entryPoints: [path.join(root, 'examples', 'playground', 'main.ts')], bundle: true, format: 'iife', platform: 'browser',
    target: 'es2022', write: false, minify: true, logLevel: 'silent', define: { 'import.meta.url': 'location.href' },
  });
  files.set('playground.js', playground.outputFiles[0].text);
  files.set('playground.html', fs.readFileSync(path.join(root, 'examples', 'playground', 'index.html'), 'utf8'));
  for (const [name, b] of [['engine.js', engine], ['vad-ort.js', vadOrt], ['vad-rnnx.js', vadRnnx]] as const) {
    files.set(name, b.js);
    files.set(name.replace('.js', '.html'), html(name));
  }
  files.set('kernels.wasm', fs.readFileSync(path.join(root, 'src', 'wasm', 'kernels.wasm')));
  files.set('lstm.onnx', fs.readFileSync(path.join(lstmDir, 'model.onnx')));
  files.set('silero_v5.onnx', fs.readFileSync(path.join(vadDist, 'silero_vad_v5.onnx')));
  files.set('silero_vad_legacy.onnx', fs.readFileSync(path.join(vadDist, 'silero_vad_legacy.onnx')));
  files.set('wide.onnx', wide.bytes);
  files.set('speech.wav', fs.readFileSync(path.join(root, 'test', 'fixtures', 'speech', 'speech.wav')));
  console.log(`browser bundles (minified): engine ${(engine.js.length / 1024).toFixed(0)} KB, vad-web+onnxruntime-web ${(vadOrt.js.length / 1024).toFixed(0)} KB (+ its .wasm ${(fs.statSync(path.join(ortDist, 'ort-wasm-simd-threaded.wasm')).size / 1048576).toFixed(1)} MB), vad-web+rnnx ${(vadRnnx.js.length / 1024).toFixed(0)} KB`);
  server = http.createServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: path.join(tmp, 'profile'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('rnnx in headless Chromium', () => {
  it('the browser bundle imports nothing from Node', () => {
    // esbuild (platform: browser) fails on any Node module it cannot resolve; none is left external.
    expect(engineImports).toEqual([]);
  });

  it('LSTM fixture and Silero VAD v5: bit for bit the same as Node, on the SIMD kernels', async () => {
    const page = await open('engine.html');
    for (const [model, steps, carry, fuse] of [['lstm.onnx', lstmSteps, {}, true], ['silero_v5.onnx', sileroSteps, { stateN: 'state' }, true]] as const) {
      const got = await page.evaluate((u, s, c, f) => (globalThis as never as { rnnxTest: { runModel: Function } }).rnnxTest.runModel(u, s, c, 1, f), model, steps, carry as Record<string, string>, fuse);
      expect(got.info).toEqual({ simd: true, source: 'embedded' });
      expect(got.kernels).toEqual({ simd: true, threads: 1 });
      const want = await nodeRun(files.get(model) as Uint8Array, steps, carry, fuse);
      expect(got.out.length).toBe(steps.length);
      expect(same(got.out, want), `${model}: browser and Node outputs differ`).toBe(true);
      console.log(`browser ${model}: ${steps.length} run(s) ${got.ran.toFixed(1)} ms (create ${got.created.toFixed(1)} ms), SIMD kernels, bit-identical to Node`);
    }
    await page.close();
  });

  it('runs under a strict Content-Security-Policy (no eval, no new Function; WebAssembly allowed): Silero v5 bit for bit as Node', async () => {
    const page = await open('engine.html', 'csp');
    const got = await page.evaluate((s, c) => (globalThis as never as { rnnxTest: { runModel: Function } }).rnnxTest.runModel('silero_v5.onnx', s, c, 1, true), sileroSteps, { stateN: 'state' });
    expect(got.kernels).toEqual({ simd: true, threads: 1 });
    expect(same(got.out, await nodeRun(files.get('silero_v5.onnx') as Uint8Array, sileroSteps, { stateN: 'state' })), 'under CSP: browser and Node outputs differ').toBe(true);
    await page.close();
    // Without 'wasm-unsafe-eval' no WebAssembly compiles: the plain TypeScript kernels run, and say why.
    const plain = await open('engine.html', 'csp-nowasm');
    const got2 = await plain.evaluate((s, c) => (globalThis as never as { rnnxTest: { runModel: Function } }).rnnxTest.runModel('silero_v5.onnx', s, c, 1, true), sileroSteps, { stateN: 'state' });
    expect(got2.kernels.simd).toBe(false);
    expect(got2.info.simd).toBe(false);
    expect(String(got2.info.reason)).toMatch(/\S/);
    expect(got2.out.length).toBe(sileroSteps.length);
    console.log(`CSP without 'wasm-unsafe-eval': ${JSON.stringify(got2.info)}`);
    await plain.close();
  });

  it('InferenceSession.create takes an ArrayBuffer, a Uint8Array, a Blob and a URL; a missing URL is a named error', async () => {
    const page = await open('engine.html');
    const r = await page.evaluate(() => (globalThis as never as { rnnxTest: { sources: Function } }).rnnxTest.sources('/plain/lstm.onnx'));
    expect(r.names).toEqual(Array(4).fill(['y', 'hn', 'cn']));
    expect(r.error).toMatch(/^RnnxError: cannot fetch model http:\/\/127\.0\.0\.1:\d+\/missing\.onnx: HTTP 404/);
    await page.close();
  });

  it('threads: 2 runs a Web Worker where cross-origin isolated, one thread elsewhere; same numbers', async () => {
    const want = await nodeRun(wide.bytes, wide.steps, {});
    for (const scope of ['iso', 'plain'] as const) {
      const page = await open('engine.html', scope);
      const got = await page.evaluate((s) => (globalThis as never as { rnnxTest: { runModel: Function } }).rnnxTest.runModel('wide.onnx', s, {}, 2), wide.steps);
      expect(got.isolated).toBe(scope === 'iso');
      expect(got.kernels).toEqual({ simd: true, threads: scope === 'iso' ? 2 : 1 });
      expect(same(got.out, want), `threads: 2 (${scope}) differs from Node`).toBe(true);
      console.log(`browser threads: 2 ${scope === 'iso' ? 'cross-origin isolated: 2 threads' : 'not isolated: fell back to 1 thread'}, wide LSTM ${got.ran.toFixed(1)} ms`);
      await page.close();
    }
  });

  it('kernels: embedded, or supplied by the caller from a URL (load times measured)', async () => {
    const page = await open('engine.html');
    const r = await page.evaluate(() => (globalThis as never as { rnnxTest: { kernelLoadTimes: Function } }).rnnxTest.kernelLoadTimes('kernels.wasm'));
    expect(r.viaUrl).toEqual({ simd: true, source: 'caller' });
    expect(r.back).toEqual({ simd: true, source: 'embedded' });
    console.log(`kernel load (mean of 5): embedded ${r.times.embedded.toFixed(2)} ms, fetched kernels.wasm ${r.times.url.toFixed(2)} ms`);
    await page.close();
  });
});

describe('the playground (examples/playground) in headless Chromium', () => {
  it('shows a dropped model, runs it and draws its profile; screenshot', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/plain/playground.html`);
    await page.waitForFunction(() => document.getElementById('kernels')?.textContent !== '', { timeout: 20_000 });
    expect(await page.$eval('#kernels', (e) => e.textContent)).toBe('WebAssembly SIMD kernels');
    const input = await page.$('#file');
    await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(path.join(root, 'test', 'fixtures', 'conv1d_lstm', 'model.onnx'));
    await page.waitForSelector('#go', { timeout: 20_000 });
    expect(await page.$$eval('#io tr', (rows) => rows.map((r) => r.querySelector('td')?.textContent).filter(Boolean))).toEqual(['x', 'y', 'hn']);
    expect(await page.$eval('#layers', (e) => e.textContent)).toMatch(/LSTM\(input_size=6, hidden_size=5, num_layers=1/);
    expect(await page.$$eval('#graph > div', (d) => d.length)).toBeGreaterThan(3);
    await page.click('#go');
    await page.waitForSelector('#profile .bars .row', { timeout: 30_000 }).catch(async () => {
      throw new Error(`no profile: ${await page.$eval('#status', (e) => e.textContent)} ${errors.join('; ')}`);
    });
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/ms per run over 10 runs \(SIMD kernels, 1 thread\)/);
    expect(await page.$$eval('#outputs tr', (r) => r.length)).toBe(3); // header + y + hn
    expect(await page.$$eval('#profile .bars .row', (r) => r.length)).toBeGreaterThan(3);
    const shot = process.env.RNNX_SCREENSHOT ?? path.join(tmp, 'playground.png');
    await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('@ricky0123/vad-web in headless Chromium', () => {
  it('NonRealTimeVAD finds the same speech segments on rnnx/ort as on onnxruntime-web', async () => {
    const runs: Record<string, { segments: { start: number; end: number }[]; created: number; ms: number; seconds: number }> = {};
    for (const engine of ['ort', 'rnnx'] as const) {
      const page = await open(`vad-${engine}.html`);
      runs[engine] = await page.evaluate((w) => (globalThis as never as { vadTest: { detect: Function } }).vadTest.detect('speech.wav', 'silero_vad_legacy.onnx', w), engine === 'ort' ? `${base}/plain/ortwasm/` : undefined);
      await page.close();
    }
    const fmt = (s: { start: number; end: number }[]) => s.map((x) => `${(x.start / 1000).toFixed(2)}–${(x.end / 1000).toFixed(2)} s`).join(', ');
    for (const [k, r] of Object.entries(runs)) {
      console.log(`vad-web on ${k === 'ort' ? 'onnxruntime-web' : 'rnnx/ort'}: ${r.segments.length} segments [${fmt(r.segments)}], ${r.seconds.toFixed(1)} s of audio in ${r.ms.toFixed(0)} ms (+ ${r.created.toFixed(0)} ms to create)`);
    }
    expect(runs.ort.segments.length).toBe(3); // the recording has three sentences
    expect(runs.rnnx.segments).toEqual(runs.ort.segments);
  });
});
