// The playground page: drop an .onnx, see its interface, recovered PyTorch layers and graph, run it
// on random, constant or uploaded .npy inputs, and see the per-node profile. Bundled by
// scripts/build-playground.mjs (npm run playground).
import { InferenceSession, Tensor, kernelInfo, loadKernels, readNpy, type DataType } from '../../src/index.js';
import type { ValueInfo } from '../../src/ir/graph.js';
import { summarize } from '../../src/cli/inspect.js';

const $ = (id: string) => document.getElementById(id)!;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const shapeOf = (v: ValueInfo) => (v.shape ? `[${v.shape.map((d) => d ?? '?').join(', ')}]` : 'rank unknown');

let session: InferenceSession | undefined;
const npyFeeds = new Map<string, Tensor>();

async function showKernels(): Promise<void> {
  const k = await loadKernels();
  $('kernels').textContent = k.simd ? 'WebAssembly SIMD kernels' : `TypeScript kernels (${k.reason})`;
}

async function open(file: File): Promise<void> {
  for (const id of ['model', 'io', 'layers', 'graph', 'run', 'profile']) $(id).innerHTML = '<span class="muted">…</span>';
  try {
    await session?.release();
    session = await InferenceSession.create(file, { enableProfiling: true });
  } catch (e) {
    session = undefined;
    $('model').innerHTML = `<div class="error">${esc(file.name)}: ${esc((e as Error).message)}</div>`;
    for (const id of ['io', 'layers', 'graph', 'run', 'profile']) $(id).innerHTML = '—';
    return;
  }
  npyFeeds.clear();
  const s = summarize(session.model);
  const ops = Object.entries(s.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${esc(k)} ×${v}`).join(', ');
  $('model').innerHTML = `<table>
    <tr><th>file</th><td>${esc(file.name)} (${(file.size / 1024).toFixed(1)} KB)</td></tr>
    <tr><th>producer</th><td>${esc(s.producer || '—')}, IR ${s.irVersion}, opsets ${esc(Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', '))}</td></tr>
    <tr><th>nodes</th><td>${s.nodes}: ${ops}</td></tr>
    <tr><th>weights</th><td>${s.initializers} initializers, ${(s.initializerBytes / 1024).toFixed(1)} KB</td></tr></table>`;
  const row = (v: ValueInfo, input: boolean) => `<tr><td class="mono">${esc(v.name)}</td><td>${esc(v.kind ?? v.type ?? '?')}</td><td class="mono">${esc(shapeOf(v))}</td>${input ? `<td>${inputControl(v)}</td>` : '<td></td>'}</tr>`;
  $('io').innerHTML = `<table><tr><th>name</th><th>type</th><th>shape</th><th>feed</th></tr>
    ${session.inputMetadata.map((v) => row(v, true)).join('')}
    <tr><th colspan="4">outputs</th></tr>${session.outputMetadata.map((v) => row(v, false)).join('')}</table>`;
  for (const v of session.inputMetadata) wireInput(v);
  $('layers').innerHTML = s.recurrent.length ? `<ul class="layers">${s.recurrent.map((l) => `<li class="mono">${esc(l)}</li>`).join('')}</ul>` : '<span class="muted">No recurrent layers.</span>';
  $('graph').innerHTML = session.model.graph.nodes.map((n) => {
    const sub = [...n.attributes.values()].some((a) => a.type === 'graph' || a.type === 'graphs');
    return `<div><span class="op${sub ? ' sub' : ''}">${esc(n.opType)}</span><span class="mono">${esc(n.name || '')}</span> <span class="muted">${esc(n.inputs.filter(Boolean).join(', '))} → ${esc(n.outputs.join(', '))}</span></div>`;
  }).join('');
  $('run').innerHTML = `<button id="go">Run</button> <label><input id="runs" type="number" value="10" min="1" max="1000" style="width:5em"> runs</label> <span id="status" class="muted"></span><div id="outputs"></div>`;
  $('go').addEventListener('click', () => void run());
  $('profile').innerHTML = '<span class="muted">Run the model to profile it.</span>';
}

function isFloat(t: DataType | undefined): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16';
}

function inputControl(v: ValueInfo): string {
  if ((v.kind ?? 'tensor') !== 'tensor') return '<span class="muted">sequence/optional inputs are not supported here</span>';
  const dims = (v.shape ?? []).map((d, i) => (typeof d === 'number' ? '' : `<input type="number" min="0" value="1" data-dim="${i}" title="${esc(String(d ?? '?'))}" style="width:4.5em">`)).join('');
  return `<select data-mode="${esc(v.name)}"><option value="random"${isFloat(v.type) ? ' selected' : ''}>random</option><option value="const"${isFloat(v.type) ? '' : ' selected'}>constant</option><option value="npy">.npy file</option></select>
    <input type="number" data-const="${esc(v.name)}" value="${isFloat(v.type) ? 0 : 1}" style="width:6em">
    <span data-dims="${esc(v.name)}">${dims ? `dims ${dims}` : ''}</span>
    <input type="file" accept=".npy" data-npy="${esc(v.name)}" hidden>`;
}

function wireInput(v: ValueInfo): void {
  const mode = document.querySelector<HTMLSelectElement>(`[data-mode="${CSS.escape(v.name)}"]`);
  const file = document.querySelector<HTMLInputElement>(`[data-npy="${CSS.escape(v.name)}"]`);
  if (!mode || !file) return;
  mode.addEventListener('change', () => { file.hidden = mode.value !== 'npy'; });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (!f) return;
    try {
      npyFeeds.set(v.name, readNpy(new Uint8Array(await f.arrayBuffer()), f.name));
    } catch (e) {
      $('status').innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    }
  });
}

/** A feed for one input as its controls ask. */
function feed(v: ValueInfo, seed: number): Tensor {
  const mode = document.querySelector<HTMLSelectElement>(`[data-mode="${CSS.escape(v.name)}"]`)!.value;
  if (mode === 'npy') {
    const t = npyFeeds.get(v.name);
    if (!t) throw new Error(`${v.name}: choose a .npy file`);
    return t;
  }
  const dimInputs = document.querySelectorAll<HTMLInputElement>(`[data-dims="${CSS.escape(v.name)}"] [data-dim]`);
  const dims = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
  dimInputs.forEach((el) => { dims[Number(el.dataset.dim)] = Math.max(0, Math.floor(Number(el.value))); });
  const n = dims.reduce((a, b) => a * b, 1);
  const c = Number(document.querySelector<HTMLInputElement>(`[data-const="${CSS.escape(v.name)}"]`)!.value);
  let a = seed >>> 0;
  const rand = () => { a = (a + 0x6d2b79f5) >>> 0; let t = Math.imul(a ^ (a >>> 15), a | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const vals = Array.from({ length: n }, () => (mode === 'random' ? (isFloat(v.type) ? rand() * 2 - 1 : Math.floor(rand() * 10)) : c));
  const type = v.type ?? 'float32';
  if (type === 'int64' || type === 'uint64') return new Tensor(type, vals.map((x) => BigInt(Math.round(x))), dims);
  return new Tensor(type, vals, dims);
}

async function run(): Promise<void> {
  if (!session) return;
  const status = $('status');
  try {
    const feeds = Object.fromEntries(session.inputMetadata.map((v, i) => [v.name, feed(v, 1234 + i)]));
    const runs = Math.max(1, Math.min(1000, Number((document.getElementById('runs') as HTMLInputElement).value) || 1));
    status.textContent = 'running…';
    session.startProfiling();
    let out: Record<string, Tensor> = {};
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) out = await session.run(feeds);
    const ms = (performance.now() - t0) / runs;
    const profile = session.endProfiling();
    status.textContent = `${ms.toFixed(2)} ms per run over ${runs} runs (${session.kernels.simd ? 'SIMD' : 'TypeScript'} kernels, ${session.kernels.threads} thread)`;
    $('outputs').innerHTML = `<table><tr><th>output</th><th>type</th><th>dims</th><th>first values</th><th>min / mean / max</th></tr>${Object.entries(out).map(([k, t]) => {
      const vals = Array.from(t.data as ArrayLike<number | bigint>, Number);
      const finite = vals.filter(Number.isFinite);
      const stats = finite.length ? `${Math.min(...finite.slice(0, 100000)).toPrecision(4)} / ${(finite.reduce((p, q) => p + q, 0) / finite.length).toPrecision(4)} / ${Math.max(...finite.slice(0, 100000)).toPrecision(4)}` : '—';
      return `<tr><td class="mono">${esc(k)}</td><td>${t.type}</td><td class="mono">[${t.dims.join(', ')}]</td><td class="mono">${esc(vals.slice(0, 6).map((x) => +x.toPrecision(5)).join(', '))}${vals.length > 6 ? ', …' : ''}</td><td class="mono">${stats}</td></tr>`;
    }).join('')}</table>`;
    const per = (x: number) => x / Math.max(1, profile.runs);
    const bars = (rows: { name: string; ms: number }[]) => {
      const max = Math.max(...rows.map((r) => r.ms), 1e-9);
      return rows.map((r) => `<div class="row"><span class="name mono" title="${esc(r.name)}">${esc(r.name)}</span><div class="bar" style="width:${(100 * r.ms / max).toFixed(1)}%"></div><span class="ms">${per(r.ms).toFixed(3)}</span></div>`).join('');
    };
    $('profile').innerHTML = `<div class="bars"><h3 class="muted">op types</h3>${bars(profile.ops.map((o) => ({ name: `${o.opType} (${o.nodes})`, ms: o.ms })))}
      <h3 class="muted">slowest nodes</h3>${bars(profile.nodes.slice(0, 15).map((n) => ({ name: `${n.name} · ${n.opType}`, ms: n.ms })))}</div>`;
  } catch (e) {
    status.innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
  }
}

const drop = $('drop');
const input = $('file') as HTMLInputElement;
input.addEventListener('change', () => { if (input.files?.[0]) void open(input.files[0]); });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void open(f);
});
void showKernels();
Object.assign(globalThis, { rnnxPlayground: { ready: true, kernelInfo } });
