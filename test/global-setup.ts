// Tests run the TypeScript sources: assemble the SIMD kernels next to src/wasm/runtime.ts first.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  const root = path.join(import.meta.dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-wasm.mjs'), path.join(root, 'src', 'wasm', 'kernels.wasm')], { stdio: 'ignore' });
}
