import { Tensor } from '../src/ir/tensor.js';
import { rng } from './helpers.js';

/** A deterministic test signal: tone bursts over noise, 512-sample chunks. */
export function chunks(n: number, seed = 1, size = 512): Tensor[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, c) => {
    const x = new Float32Array(size);
    const loud = (c >> 3) % 2 === 1;
    for (let i = 0; i < size; i++) {
      const t = c * size + i;
      x[i] = (r() - 0.5) * 0.02 + (loud ? 0.4 * Math.sin(t * 0.05) * Math.sin(t * 0.0021) : 0);
    }
    return new Tensor('float32', x, [1, size]);
  });
}

