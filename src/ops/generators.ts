import { nodeError } from '../ir/errors.js';
import { fromBfloatBits, fromHalfBits, toBfloatBits, toHalfBits } from './half.js';
import { Tensor, allocData, sizeOf, type TensorData } from '../ir/tensor.js';
import { checkType, defineOp, defineValueOp, intsOf, need } from './op.js';

type AnyArr = { length: number; [i: number]: unknown };

export const Shape = defineOp({
  parse: (ctx, a) => (ctx.opset >= 15 ? { start: a.int('start', 0), end: a.int('end') } : { start: 0, end: undefined }),
  run(inputs, p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const r = x.dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const dims = x.dims.slice(clamp(p.start), p.end === undefined ? r : clamp(p.end));
    return [new Tensor('int64', BigInt64Array.from(dims, (d) => BigInt(d)), [dims.length])];
  },
});

export const Size = defineOp({
  parse: () => null,
  run(inputs, _p, ctx) {
    return [new Tensor('int64', BigInt64Array.of(BigInt(need(inputs, 0, ctx, 'data').size)), [])];
  },
});

export const ConstantOfShape = defineOp({
  parse: (_c, a) => {
    const v = a.tensor('value');
    if (v && v.size !== 1) throw a.error('value', `expected a one-element tensor, got shape [${v.dims}]`);
    return v ?? new Tensor('float32', new Float32Array(1), [1]);
  },
  run(inputs, value, ctx) {
    const s = need(inputs, 0, ctx, 'input');
    checkType(s, ['int64'], 0, ctx, 'input');
    const dims = intsOf(s);
    if (dims.some((d) => d < 0)) throw nodeError(ctx.node, `shape [${dims}] has a negative dimension`);
    const out = allocData(value.type, sizeOf(dims)) as AnyArr;
    const v = value.data[0];
    if (v !== 0 && v !== 0n) for (let i = 0; i < out.length; i++) out[i] = v;
    return [new Tensor(value.type, out as TensorData, dims)];
  },
});

export const Constant = defineOp({
  parse(ctx, a) {
    const forms = ['value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings', 'sparse_value'].filter((k) => a.has(k));
    if (forms.length !== 1) throw nodeError(ctx.node, `expected exactly one value attribute, got ${forms.length ? forms.join(', ') : 'none'}`);
    const f = forms[0];
    switch (f) {
      case 'value': return a.tensor('value')!;
      case 'value_float': return new Tensor('float32', [a.float(f)!], []);
      case 'value_floats': return new Tensor('float32', [...a.floats(f)!]);
      case 'value_int': return new Tensor('int64', [BigInt(a.int(f)!)], []);
      case 'value_ints': return new Tensor('int64', a.ints(f)!.map((v) => BigInt(v)));
      case 'value_string': return new Tensor('string', [a.string(f)!], []);
      case 'value_strings': return new Tensor('string', [...a.strings(f)!]);
      default: throw a.error(f, 'sparse constants are not supported');
    }
  },
  run: (_i, value) => [value],
});

/** Identity passes any value through: tensors, sequences, optionals. */
export const Identity = defineValueOp({
  parse: () => null,
  run: (inputs, _p, ctx) => {
    if (inputs[0] === undefined) throw nodeError(ctx.node, 'input 0 (input) is required but missing');
    return [inputs[0]];
  },
});

/**
 * Dropout as inference runs it: identity with an all-true mask. Training mode is random unless
 * the ratio is 0, so it is refused otherwise.
 */
export const Dropout = defineOp({
  parse: (ctx, a) => {
    a.ignore('seed');
    const ratio = ctx.opset < 12 ? a.float('ratio', 0.5) : 0.5;
    if (ctx.opset < 7) {
      a.ignore('consumed_inputs');
      if (a.int('is_test', 0) === 0 && ratio !== 0) throw a.error('is_test', 'training mode (is_test=0) is not supported; set is_test=1');
    }
    return null;
  },
  run(inputs, _p, ctx) {
    const x = need(inputs, 0, ctx, 'data');
    const training = inputs[2];
    if (training && training.data[0]) {
      const ratio = inputs[1] ? Number(inputs[1].data[0]) : 0.5;
      if (ratio !== 0) throw nodeError(ctx.node, `training_mode=true with ratio ${ratio} is random and not supported (inference only)`);
    }
    const mask = new Tensor('bool', new Uint8Array(x.size).fill(1), x.dims);
    return [x, mask];
  },
});

export const Range = defineOp({
  // Range-27: float16/bfloat16 computed in float32 (stash_type 1, the default) or float64 (11).
  parse: (ctx, a) => {
    const stash = ctx.opset >= 27 ? a.int('stash_type', 1) : 1;
    if (stash !== 1 && stash !== 11) throw a.error('stash_type', `expected 1 (float) or 11 (double), got ${stash}`);
    return stash;
  },
  run(inputs, stash, ctx) {
    const [s, l, d] = [0, 1, 2].map((i) => need(inputs, i, ctx, ['start', 'limit', 'delta'][i]));
    for (const [i, t] of [s, l, d].entries()) {
      if (t.size !== 1) throw nodeError(ctx.node, `input ${i} must be a scalar, got shape [${t.dims}]`);
      if (t.type !== s.type) throw nodeError(ctx.node, `input ${i}: expected ${s.type}, got ${t.type}`);
    }
    checkType(s, ctx.opset >= 27 ? ['float32', 'float64', 'int16', 'int32', 'int64', 'float16', 'bfloat16'] : ['float32', 'float64', 'int16', 'int32', 'int64'], 0, ctx, 'start');
    const half = s.type === 'float16' ? 'f16' : s.type === 'bfloat16' ? 'bf16' : undefined;
    const num = (t: Tensor) => (half === 'f16' ? fromHalfBits(t.data[0] as number) : half === 'bf16' ? fromBfloatBits(t.data[0] as number) : Number(t.data[0]));
    const start = num(s), limit = num(l), delta = num(d);
    if (delta === 0) throw nodeError(ctx.node, 'delta is 0');
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const out = allocData(s.type, n) as AnyArr;
    if (half) {
      // numpy.arange in the stash type: start + i·delta in that precision, then rounded to half.
      const r = stash === 1 ? Math.fround : (v: number) => v;
      const enc = half === 'f16' ? toHalfBits : toBfloatBits;
      for (let i = 0; i < n; i++) out[i] = enc(r(r(start) + r(i * r(delta))));
      return [new Tensor(s.type, out as TensorData, [n])];
    }
    const big = s.type === 'int64';
    for (let i = 0; i < n; i++) out[i] = big ? BigInt(start + i * delta) : start + i * delta;
    return [new Tensor(s.type, out as TensorData, [n])];
  },
});
