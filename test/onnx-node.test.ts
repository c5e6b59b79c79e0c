// The ONNX backend node tests (onnx 1.12): every test the manifest marks `run` must pass.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNodeTest } from '../src/runtime/node-test.js';

const dir = path.join(import.meta.dirname, 'data', 'onnx-node');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
  tests: Record<string, { ops: string[]; status: 'run' | 'excluded'; reason?: string }>;
};
const run = Object.entries(manifest.tests).filter(([, t]) => t.status === 'run').map(([n]) => n);

describe('ONNX backend node tests', () => {
  it('manifest gives a reason for every exclusion and the data for every run', () => {
    for (const [name, t] of Object.entries(manifest.tests)) {
      if (t.status === 'excluded') expect(t.reason, name).toBeTruthy();
      else expect(fs.existsSync(path.join(dir, name, 'model.onnx')), name).toBe(true);
    }
    expect(Object.keys(manifest.tests).length).toBe(922);
  });
  it.each(run)('%s', (name) => {
    const r = runNodeTest(path.join(dir, name));
    expect(r.detail ?? '').toBe('');
    expect(r.status).toBe('passed');
  });
});
