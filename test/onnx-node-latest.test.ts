// The newest ONNX backend node tests (onnx/onnx 6be0677, onnx 1.23.0, opsets to 28): every test the
// manifest marks `run` must pass; every other one has a stated reason and a group.
// scripts/node-suite-refresh.mjs re-runs the whole suite and rewrites the manifest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNodeTest } from '../src/runtime/node-test.js';

const dir = path.join(import.meta.dirname, 'data', 'onnx-node-latest');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
  total: number;
  tests: Record<string, { status: 'run' | 'excluded'; group?: string; reason?: string }>;
};
const run = Object.entries(manifest.tests).filter(([, t]) => t.status === 'run').map(([n]) => n);

describe('ONNX backend node tests, newest suite', () => {
  it('manifest lists all 1,802 tests, gives a group and reason for every exclusion and the data for every run', () => {
    expect(Object.keys(manifest.tests).length).toBe(1802);
    expect(manifest.total).toBe(1802);
    for (const [name, t] of Object.entries(manifest.tests)) {
      if (t.status === 'excluded') {
        expect(t.reason, name).toBeTruthy();
        expect(t.group, name).toBeTruthy();
      } else expect(fs.existsSync(path.join(dir, name, 'model.onnx')), name).toBe(true);
    }
  });
  it.each(run)('%s', (name) => {
    const r = runNodeTest(path.join(dir, name));
    expect(r.detail ?? '').toBe('');
    expect(r.status).toBe('passed');
  });
});
