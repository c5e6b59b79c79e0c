// The README's Streaming example, run as written (only its `from 'rnnx'` points at the sources).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = path.join(import.meta.dirname, '..');

it('the README Streaming example finds the two spoken sentences of the speech fixture', async () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /<!-- streaming-example[^>]*-->\n```js\n([\s\S]*?)```/.exec(readme);
  expect(m).not.toBeNull();
  const code = m![1].replace("from 'rnnx'", `from ${JSON.stringify(pathToFileURL(path.join(root, 'src', 'index.ts')).href)}`);
  const file = path.join(root, 'test', `.readme-example-${process.pid}.mjs`);
  fs.writeFileSync(file, code);
  const argv = process.argv;
  const cwd = process.cwd();
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); });
  try {
    process.chdir(root);
    process.argv = [argv[0], file, path.join('test', 'fixtures', 'speech', 'speech16k.wav')];
    await import(pathToFileURL(file).href);
  } finally {
    process.argv = argv;
    process.chdir(cwd);
    log.mockRestore();
    fs.rmSync(file, { force: true });
  }
  // The fixture speaks at 0.80–4.71 s and 6.21–9.82 s (scripts/make-speech-wav.cjs).
  const segs = lines.map((l) => /^speech (\d+\.\d+) s – (\d+\.\d+) s$/.exec(l)).map((r) => [Number(r![1]), Number(r![2])]);
  expect(segs.length).toBe(2);
  expect(Math.abs(segs[0][0] - 0.8)).toBeLessThan(0.3);
  expect(Math.abs(segs[0][1] - 4.71)).toBeLessThan(0.5);
  expect(Math.abs(segs[1][0] - 6.21)).toBeLessThan(0.3);
  expect(Math.abs(segs[1][1] - 9.82)).toBeLessThan(0.5);
}, 300_000);
