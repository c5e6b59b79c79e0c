// Assembles src/wasm/kernels.wat into a .wasm file with wabt (an npm package: no download).
// Usage: node scripts/build-wasm.mjs OUT.wasm
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'dist', 'wasm', 'kernels.wasm');
const wabt = await initWabt();
const mod = wabt.parseWat('kernels.wat', readFileSync(join(root, 'src', 'wasm', 'kernels.wat'), 'utf8'), { simd: true });
mod.validate();
const { buffer } = mod.toBinary({});
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, buffer);
console.log(`wrote ${out} (${buffer.length} bytes)`);
