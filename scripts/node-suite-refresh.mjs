// Re-runs every test of the newest ONNX backend node suite, classifies each failure and rewrites
// test/data/onnx-node-latest/manifest.json, copying in the data of every test that passes.
//
// Usage (after `npm run build`; the suite is read from an onnx/onnx checkout at 6be0677, the
// last commit that has onnx/backend/test/data/node):
//   node scripts/node-suite-refresh.mjs /path/to/onnx/onnx/backend/test/data/node
//
// A failure is excluded with the reason its error gives (unsupported op, element type, attribute,
// rank, training mode), or with a reason written below. A test whose numbers differ from the
// expected ones and that has no written reason is a wrong answer: the script reports it and
// exits 1 without writing anything.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { runNodeTest } = await import(path.join(root, 'dist', 'runtime', 'node-test.js'));
const src = process.argv[2];
if (!src || !fs.existsSync(src)) throw new Error('usage: node scripts/node-suite-refresh.mjs ONNX_NODE_TEST_DIR');
const dst = path.join(root, 'test', 'data', 'onnx-node-latest');
const SOURCE = 'onnx/onnx 6be0677fc22e74563e6eb472f931513aefe5648d, onnx/backend/test/data/node (onnx 1.23.0)';

/** Tests whose failure is explained here rather than by rnnx's own error message. */
const WRITTEN = {
  test_dft_inverse: ['reference data', 'the expected output is a float32 FFT whose rounding (up to 1.5e-6 from the exact inverse DFT) exceeds the suite\'s atol 1e-7 on near-zero elements; rnnx is within 4.4e-7 of the exact float64 result'],
  test_dft_inverse_opset19: ['reference data', 'the expected output is a float32 FFT whose rounding (up to 1.5e-6 from the exact inverse DFT) exceeds the suite\'s atol 1e-7 on near-zero elements; rnnx is within 4.4e-7 of the exact float64 result'],
};

/** [group, reason] from rnnx's error for a test that failed without a written reason. */
function classify(detail) {
  const unsupported = /^Unsupported ops in this model: (.*)$/.exec(detail);
  if (unsupported) {
    const ops = unsupported[1].split(/, (?![^(]*\))/).map((s) => s.replace(/ x\d+$/, '').replace(/; supported: [^)]*/, ''));
    return ['unsupported op', `unsupported op: ${ops.join(', ')}`];
  }
  let m = /data type (\S+) is not supported/.exec(detail);
  if (m) return ['unsupported element type', `element type ${m[1]} is not supported`];
  if (/training|random/i.test(detail)) return ['training mode or random output', detail];
  if (/only \d-D|spatial dim|rank \d|must be \[N, C, H, W\]/.test(detail)) return ['unsupported rank', detail];
  if (/attribute|mode|not supported/i.test(detail)) return ['unsupported attribute or mode', detail];
  if (/expected .* got /.test(detail)) return ['unsupported input type', detail];
  return ['other refusal', detail];
}

const results = {};
const wrong = [];
for (const name of fs.readdirSync(src).sort()) {
  const r = runNodeTest(path.join(src, name));
  if (r.status === 'passed') results[name] = { status: 'run' };
  else if (WRITTEN[name]) results[name] = { status: 'excluded', group: WRITTEN[name][0], reason: WRITTEN[name][1] };
  else if (/^test_data_set_\d+ output/.test(r.detail ?? '')) wrong.push(`${name}: ${r.detail}`);
  else {
    const [group, reason] = classify(r.detail ?? r.status);
    results[name] = { status: 'excluded', group, reason };
  }
}
if (wrong.length > 0) {
  console.error(`${wrong.length} test(s) give wrong numbers; fix them or write their reason in this script:\n${wrong.join('\n')}`);
  process.exit(1);
}
// Data: exactly the tests that run.
fs.mkdirSync(dst, { recursive: true });
for (const d of fs.readdirSync(dst)) if (d.startsWith('test_')) fs.rmSync(path.join(dst, d), { recursive: true });
for (const [name, t] of Object.entries(results)) {
  if (t.status === 'run') fs.cpSync(path.join(src, name), path.join(dst, name), { recursive: true });
}
const groups = {};
for (const t of Object.values(results)) if (t.group) groups[t.group] = (groups[t.group] ?? 0) + 1;
const run = Object.values(results).filter((t) => t.status === 'run').length;
const manifest = { source: SOURCE, total: Object.keys(results).length, run, excluded: groups, tests: results };
fs.writeFileSync(path.join(dst, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
console.log(`${run} run, ${manifest.total - run} excluded`, groups);
