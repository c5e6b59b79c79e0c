/** String ops of opset 20: StringConcat, StringSplit, RegexFullMatch. */
import { nodeError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { broadcastIndex, broadcastShapes } from './broadcast.js';
import { checkType, defineOp, need } from './op.js';

/** StringConcat: elementwise X + Y with broadcasting. */
export const StringConcat = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'X'), y = need(inputs, 1, ctx, 'Y');
    checkType(x, ['string'], 0, ctx, 'X');
    checkType(y, ['string'], 1, ctx, 'Y');
    const dims = broadcastShapes([x.dims, y.dims], ctx);
    const ix = broadcastIndex(x.dims, dims), iy = broadcastIndex(y.dims, dims);
    const X = x.data as string[], Y = y.data as string[];
    const n = dims.reduce((a, b) => a * b, 1);
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = X[ix ? ix[i] : i] + Y[iy ? iy[i] : i];
    return [new Tensor('string', out, dims)];
  },
});

/** Python's str.split: on `sep`, or (sep undefined) on runs of whitespace, at most `max` times (max < 0: all). */
function pySplit(s: string, sep: string | undefined, max: number): string[] {
  if (sep !== undefined) {
    const parts: string[] = [];
    let start = 0;
    while (max < 0 || parts.length < max) {
      const at = s.indexOf(sep, start);
      if (at < 0) break;
      parts.push(s.slice(start, at));
      start = at + sep.length;
    }
    parts.push(s.slice(start));
    return parts;
  }
  const parts: string[] = [];
  let i = 0;
  const ws = (c: string) => /\s/u.test(c);
  while (i < s.length) {
    while (i < s.length && ws(s[i])) i++;
    if (i >= s.length) break;
    if (max >= 0 && parts.length === max) { parts.push(s.slice(i)); break; }
    let j = i;
    while (j < s.length && !ws(s[j])) j++;
    parts.push(s.slice(i, j));
    i = j;
  }
  return parts;
}

/**
 * StringSplit: Y [..., max pieces] padded with "", Z [...] the number of pieces of each string.
 * delimiter "" or absent splits on whitespace runs (Python's str.split()); maxsplit limits the splits.
 */
export const StringSplit = defineOp({
  parse(_c, a) {
    const d = a.string('delimiter');
    const max = a.int('maxsplit');
    if (max !== undefined && max < 0) throw a.error('maxsplit', `must be >= 0, got ${max}`);
    return { sep: d === '' ? undefined : d, max: max ?? -1 };
  },
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['string'], 0, ctx, 'X');
    const pieces = (x.data as string[]).map((s) => pySplit(s, p.sep, p.max));
    const width = pieces.reduce((m, q) => Math.max(m, q.length), 0);
    const Y: string[] = [];
    for (const q of pieces) for (let k = 0; k < width; k++) Y.push(q[k] ?? '');
    const Z = BigInt64Array.from(pieces, (q) => BigInt(q.length));
    return [new Tensor('string', Y, [...x.dims, width]), new Tensor('int64', Z, x.dims)];
  },
});

/** RegexFullMatch: whether each string matches `pattern` (RE2 syntax, run as a JS RegExp) entirely. */
export const RegexFullMatch = defineOp({
  parse(_c, a) {
    const pattern = a.string('pattern');
    if (pattern === undefined) throw a.error('pattern', 'is required');
    // RE2 has no lookaround or backreferences; refuse them rather than run JS's semantics for them
    if (/\(\?[=!<]|\\[1-9]/.test(pattern)) throw a.error('pattern', `'${pattern}' uses lookaround or backreferences, which RE2 does not have`);
    try {
      return new RegExp(`^(?:${pattern})$`, 'u');
    } catch (e) {
      throw a.error('pattern', `invalid regular expression '${pattern}': ${(e as Error).message}`);
    }
  },
  run(inputs, re, ctx) {
    const x = need(inputs, 0, ctx, 'X');
    checkType(x, ['string'], 0, ctx, 'X');
    if (!(x.data as string[]).every((s) => typeof s === 'string')) throw nodeError(ctx.node, 'X must hold strings');
    return [new Tensor('bool', Uint8Array.from(x.data as string[], (s) => (re.test(s) ? 1 : 0)), x.dims)];
  },
});
