import { nodeError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { checkType, defineOp, need } from './op.js';

/** StringNormalizer: drops stopwords (case-(in)sensitively), then changes case; [C] or [1, C] input. */
export const StringNormalizer = defineOp({
  parse: (_c, a) => {
    const action = a.string('case_change_action', 'NONE');
    if (!['NONE', 'LOWER', 'UPPER'].includes(action)) throw a.error('case_change_action', `expected NONE, LOWER or UPPER, got '${action}'`);
    a.string('locale', '');
    return { action, sensitive: a.int('is_case_sensitive', 0) !== 0, stop: a.strings('stopwords') ?? [] };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['string'], 0, ctx, 'X');
    if (!(x.dims.length === 1 || (x.dims.length === 2 && x.dims[0] === 1))) throw nodeError(ctx.node, `X must be [C] or [1, C], got [${x.dims}]`);
    const stop = new Set(p.sensitive ? p.stop : p.stop.map((w) => w.toLowerCase()));
    let kept = (x.data as string[]).filter((w) => !stop.has(p.sensitive ? w : w.toLowerCase()));
    if (p.action === 'LOWER') kept = kept.map((w) => w.toLowerCase());
    if (p.action === 'UPPER') kept = kept.map((w) => w.toUpperCase());
    if (kept.length === 0) kept = ['']; // the spec keeps one empty string rather than an empty tensor
    return [new Tensor('string', kept, x.dims.length === 2 ? [1, kept.length] : [kept.length])];
  },
});

/** TfIdfVectorizer: counts the pool's n-grams (with skips) per row; TF, IDF or TFIDF weighting. */
export const TfIdfVectorizer = defineOp({
  parse: (_c, a) => {
    const mode = a.string('mode');
    if (mode !== 'TF' && mode !== 'IDF' && mode !== 'TFIDF') throw a.error('mode', `expected TF, IDF or TFIDF, got '${mode}'`);
    const minN = a.int('min_gram_length'), maxN = a.int('max_gram_length'), maxSkip = a.int('max_skip_count');
    const counts = a.ints('ngram_counts'), indexes = a.ints('ngram_indexes');
    const poolI = a.ints('pool_int64s'), poolS = a.strings('pool_strings');
    if (minN === undefined || maxN === undefined || maxSkip === undefined || !counts || !indexes || (!poolI && !poolS)) {
      throw a.error('mode', 'min_gram_length, max_gram_length, max_skip_count, ngram_counts, ngram_indexes and a pool are required');
    }
    const pool: (number | string)[] = [...(poolI ?? poolS ?? [])];
    // n-gram key -> output index; pool entries of (i+1)-grams start at counts[i]
    const index = new Map<string, number>();
    let j = 0;
    for (let i = 0; i < counts.length; i++) {
      const n = i + 1, start = counts[i], end = i + 1 < counts.length ? counts[i + 1] : pool.length;
      for (let s = start; s + n <= end; s += n) index.set(`${n}|${pool.slice(s, s + n).join('\u0000')}`, indexes[j++]);
    }
    return { mode, minN, maxN, maxSkip, index, size: Math.max(-1, ...indexes) + 1, weights: a.floats('weights') };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['int32', 'int64', 'string'], 0, ctx, 'X');
    const rows = x.dims.length === 2 ? x.dims[0] : 1;
    const C = x.dims.length === 2 ? x.dims[1] : x.dims[0];
    const X = Array.from(x.data as ArrayLike<number | bigint | string>, (v) => String(v));
    const out = new Float32Array(rows * p.size);
    for (let r = 0; r < rows; r++) {
      const tok = X.slice(r * C, (r + 1) * C);
      for (let n = Math.max(1, p.minN); n <= p.maxN; n++)
        for (let skip = 0; skip <= (n === 1 ? 0 : p.maxSkip); skip++)
          for (let s = 0; s + (n - 1) * (skip + 1) < C; s++) {
            const gram = Array.from({ length: n }, (_, k) => tok[s + k * (skip + 1)]);
            const at = p.index.get(`${n}|${gram.join('\u0000')}`);
            if (at !== undefined) out[r * p.size + at]++;
          }
    }
    for (let i = 0; i < out.length; i++) {
      const w = p.weights ? p.weights[i % p.size] : 1;
      if (p.mode === 'IDF') out[i] = out[i] > 0 ? w : 0;
      else if (p.mode === 'TFIDF') out[i] *= w;
    }
    return [new Tensor('float32', out, x.dims.length === 2 ? [rows, p.size] : [p.size])];
  },
});
