// A small seeded run of the structure-aware fuzzer (issue 15): every mutant of the PyTorch
// fixtures either runs or fails with an RnnxError. `npm run fuzz -- --minutes N` runs it longer,
// in a child process that also catches hangs and memory blow-ups.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureModels, mutantOf, runRnnx, writeMutant, type Outcome } from '../src/fuzz/campaign.js';
import { mutate, rngFor } from '../src/fuzz/mutate.js';
import { onnx } from '../src/import/proto.js';

const root = path.join(import.meta.dirname, '..');
const fixtures = fixtureModels(root);

describe('fuzzing', () => {
  it('the mutator is deterministic per (seed, index) and always writes valid protobuf', () => {
    const a = mutantOf(fixtures, 7, 3), b = mutantOf(fixtures, 7, 3), c = mutantOf(fixtures, 7, 4);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(a.steps).toEqual(b.steps);
    expect(a.steps.length).toBeGreaterThan(0);
    expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).toBe(false);
    for (let i = 0; i < 50; i++) expect(() => onnx.ModelProto.decode(mutate(fixtures[i % fixtures.length].bytes, rngFor(1, i)).bytes)).not.toThrow();
  });
  it('150 mutants: each runs or is refused with an RnnxError, never a crash', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnx-fuzz-test-'));
    const counts = new Map<Outcome, number>();
    const crashes: string[] = [];
    for (let i = 0; i < 150; i++) {
      const m = mutantOf(fixtures, 20261128, i);
      const r = runRnnx(writeMutant(path.join(work, String(i)), m)).result;
      counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
      if (r.outcome === 'crash') crashes.push(`#${i} (${m.fixture}: ${m.steps.join('; ')}): ${r.detail}`);
    }
    fs.rmSync(work, { recursive: true, force: true });
    expect(crashes).toEqual([]);
    // the mutants exercise both sides: some still run, most are refused
    expect(counts.get('ok') ?? 0).toBeGreaterThan(10);
    expect(counts.get('error') ?? 0).toBeGreaterThan(50);
  }, 60_000);
});
