// Assembles src/wasm/kernels.wat into a .wasm file with wabt (an npm package: no download).
// Usage: node scripts/build-wasm.mjs OUT.wasm
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';
import { expandMacros } from './wat-macros.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'dist', 'wasm', 'kernels.wasm');
const wabt = await initWabt();
const source = expandMacros(readFileSync(join(root, 'src', 'wasm', 'kernels.wat'), 'utf8'));
// Two builds of one source: own memory, and an imported shared memory for the worker-thread mode.
const ownMemory = '(memory (export "memory") 1)';
if (!source.includes(ownMemory)) throw new Error(`kernels.wat must declare ${ownMemory}`);
const variants = [
  [out, source],
  [out.replace(/\.wasm$/, '-shared.wasm'), source.replace(ownMemory, '(import "env" "memory" (memory 1 65536 shared))\n  (export "memory" (memory 0))')],
];
mkdirSync(dirname(out), { recursive: true });
for (const [file, text] of variants) {
  const mod = wabt.parseWat('kernels.wat', text, { simd: true, threads: true });
  // wabt 1.0.39's validator rejects shared memories even with `threads`; Node's own validator decides.
  const { buffer } = mod.toBinary({});
  if (!WebAssembly.validate(buffer)) throw new Error(`${file}: the assembled module does not validate`);
  writeFileSync(file, buffer);
  console.log(`wrote ${file} (${buffer.length} bytes)`);
}
