import { RnnxError } from './errors.js';
import { toBfloatBits, toHalfBits } from '../ops/half.js';

/** Element types, named as onnxruntime-common names them. */
export type DataType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string'
  // ONNX's narrow types (opset 19+ float8, 21+ int4, 23+ float4, 24+ float8e8m0, 25+ int2). Each
  // element takes one array slot: float8/float4 hold their bit codes, int4/int2 their values;
  // TensorProto packs 4-bit and 2-bit elements, rnnx unpacks them on import (see `packedBits`).
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float8e8m0' | 'float4e2m1'
  | 'int4' | 'uint4' | 'int2' | 'uint2';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array;
export type BigArray = BigInt64Array | BigUint64Array;
export type TensorData = NumericArray | BigArray | string[];

interface DTypeInfo {
  readonly onnx: number;
  readonly ctor: (new (n: number) => NumericArray | BigArray) | null;
  /** Bits per element in TensorProto (and onnxruntime) storage when below 8: packed LSB first. */
  readonly packedBits?: 2 | 4;
}

export const DTYPES: Readonly<Record<DataType, DTypeInfo>> = {
  float32: { onnx: 1, ctor: Float32Array },
  uint8: { onnx: 2, ctor: Uint8Array },
  int8: { onnx: 3, ctor: Int8Array },
  uint16: { onnx: 4, ctor: Uint16Array },
  int16: { onnx: 5, ctor: Int16Array },
  int32: { onnx: 6, ctor: Int32Array },
  int64: { onnx: 7, ctor: BigInt64Array },
  string: { onnx: 8, ctor: null },
  bool: { onnx: 9, ctor: Uint8Array },
  float16: { onnx: 10, ctor: Uint16Array },
  float64: { onnx: 11, ctor: Float64Array },
  uint32: { onnx: 12, ctor: Uint32Array },
  uint64: { onnx: 13, ctor: BigUint64Array },
  bfloat16: { onnx: 16, ctor: Uint16Array },
  float8e4m3fn: { onnx: 17, ctor: Uint8Array },
  float8e4m3fnuz: { onnx: 18, ctor: Uint8Array },
  float8e5m2: { onnx: 19, ctor: Uint8Array },
  float8e5m2fnuz: { onnx: 20, ctor: Uint8Array },
  uint4: { onnx: 21, ctor: Uint8Array, packedBits: 4 },
  int4: { onnx: 22, ctor: Int8Array, packedBits: 4 },
  float4e2m1: { onnx: 23, ctor: Uint8Array, packedBits: 4 },
  float8e8m0: { onnx: 24, ctor: Uint8Array },
  uint2: { onnx: 25, ctor: Uint8Array, packedBits: 2 },
  int2: { onnx: 26, ctor: Int8Array, packedBits: 2 },
};

/** DTYPES as a Map: no prototype keys, and faster than Object.hasOwn on the hot path of `new Tensor`. */
const DTYPE_INFO = new Map<string, DTypeInfo>(Object.entries(DTYPES));

const BY_ONNX = new Map<number, DataType>(
  (Object.keys(DTYPES) as DataType[]).map((t) => [DTYPES[t].onnx, t]),
);
const ONNX_NAMES: Record<number, string> = {
  14: 'complex64', 15: 'complex128',
};

export function dtypeFromOnnx(code: number): DataType | undefined {
  return BY_ONNX.get(code);
}
export function onnxDtypeName(code: number): string {
  return BY_ONNX.get(code) ?? ONNX_NAMES[code] ?? `dtype#${code}`;
}
export function dtypeToOnnx(t: DataType): number {
  return DTYPES[t].onnx;
}

export function isFloat(t: DataType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16' || isNarrowFloat(t);
}
/** float8 and float4 types: bit codes in a Uint8Array. */
export function isNarrowFloat(t: DataType): boolean {
  return t.startsWith('float8') || t === 'float4e2m1';
}

/** Packs 4-bit or 2-bit elements LSB first, as TensorProto raw_data and onnxruntime store them. */
export function packBits(src: ArrayLike<number>, bits: 2 | 4): Uint8Array {
  const per = 8 / bits, mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(src.length / per));
  for (let i = 0; i < src.length; i++) out[(i / per) | 0] |= (src[i] & mask) << (bits * (i % per));
  return out;
}

/** Unpacks n elements of `bits` bits (LSB first), sign-extending when `signed`. */
export function unpackBits(bytes: ArrayLike<number>, n: number, bits: 2 | 4, signed: boolean, out: Uint8Array | Int8Array): void {
  const per = 8 / bits, mask = (1 << bits) - 1, shift = 32 - bits;
  for (let i = 0; i < n; i++) {
    const v = (bytes[(i / per) | 0] >> (bits * (i % per))) & mask;
    out[i] = signed ? (v << shift) >> shift : v;
  }
}
export function isBig(t: DataType): boolean {
  return t === 'int64' || t === 'uint64';
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  // An indexed loop: for-of over a frozen array goes through the iterator protocol (slow in V8).
  for (let i = 0; i < dims.length; i++) n *= dims[i];
  return n;
}

/** Whether two dims arrays hold the same dims (the same array, or equal element by element). */
export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Allocator = (type: DataType, n: number, ctor: new (n: number) => TensorData) => TensorData;
let allocator: Allocator | null = null;

/**
 * Installs the allocator allocData uses (the executor's, while a step runs: buffer reuse and the
 * memory budget); returns the previous one. Whatever it returns must be zero-filled.
 */
export function setAllocator(a: Allocator | null): Allocator | null {
  const prev = allocator;
  allocator = a;
  return prev;
}

/** A zero-filled array of n elements of `type` (strings: ''). */
export function allocData(type: DataType, n: number): TensorData {
  const ctor = DTYPES[type].ctor;
  if (!ctor) return new Array<string>(n).fill('');
  return allocator ? allocator(type, n, ctor as new (n: number) => TensorData) : new ctor(n);
}

/**
 * Frozen, validated dims arrays shared by equal shapes (a direct-mapped cache of recent shapes):
 * freezing a fresh array costs V8 about half a microsecond, more than a small op's arithmetic.
 */
const DIMS_CACHE: (readonly number[] | undefined)[] = new Array(4096).fill(undefined);
const NO_DIMS: readonly number[] = Object.freeze([]);

/** `d` validated (non-negative safe integers), as a frozen array that may be shared. */
function frozenDims(d: readonly number[]): readonly number[] {
  const n = d.length;
  if (n === 0) return NO_DIMS;
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 0x9e3779b1) + (d[i] | 0)) | 0;
  const slot = (h ^ (h >>> 15)) & 4095;
  const hit = DIMS_CACHE[slot];
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit[i] === d[i]) i++;
    if (i === n) return hit;
  }
  for (let i = 0; i < n; i++) {
    const x = d[i];
    if (!Number.isSafeInteger(x) || x < 0) throw new RnnxError(`Tensor: dims [${d}] must be non-negative integers`);
  }
  const f = Object.freeze(d.slice());
  DIMS_CACHE[slot] = f;
  return f;
}

/**
 * An n-dimensional array; the same shape as onnxruntime-common's Tensor (`type`, `data`, `dims`),
 * so tensors pass between the two engines unchanged. float16/bfloat16 hold raw bits in Uint16Array.
 */
export class Tensor {
  readonly type: DataType;
  readonly data: TensorData;
  readonly dims: readonly number[];

  constructor(type: DataType, data: TensorData | readonly number[] | readonly bigint[] | readonly boolean[], dims?: readonly number[]) {
    const info = typeof type === 'string' ? DTYPE_INFO.get(type) : undefined;
    if (info === undefined) throw new RnnxError(`Tensor: unknown type '${String(type)}'`);
    let arr: TensorData;
    if (Array.isArray(data)) {
      if (type === 'string') arr = (data as string[]).slice();
      else if (type === 'float16' || type === 'bfloat16') {
        // Numbers are values, converted to the type's bits (a Uint16Array holds bits as they are).
        const bits = type === 'float16' ? toHalfBits : toBfloatBits;
        arr = Uint16Array.from(data as unknown as number[], (v) => bits(Number(v)));
      } else if (isBig(type)) arr = (info.ctor as typeof BigInt64Array).from((data as unknown as (bigint | number)[]).map((v) => BigInt(v)));
      else arr = (info.ctor as typeof Float32Array).from((data as unknown as (number | boolean)[]).map(Number));
    } else {
      arr = data as TensorData;
      // a typed array of another element type would be read with the wrong width or meaning (the
      // constructor compare first: one load, where instanceof walks the prototype chain)
      if (info.ctor ? arr.constructor !== info.ctor && !(arr instanceof info.ctor) : !Array.isArray(arr)) {
        throw new RnnxError(`Tensor: type '${type}' needs ${info.ctor ? info.ctor.name : 'an Array of strings'}, got ${describeData(arr)}`);
      }
    }
    if (type === 'bool') arr = normalizedBools(arr as Uint8Array);
    const d = frozenDims(dims ? (Array.isArray(dims) ? dims : [...dims]) : [arr.length]);
    if (sizeOf(d) !== arr.length) {
      throw new RnnxError(`Tensor: dims [${d}] hold ${sizeOf(d)} elements but data has ${arr.length}`);
    }
    this.type = type;
    this.data = arr;
    this.dims = d;
  }

  get size(): number {
    return this.data.length;
  }

  /** onnxruntime's data location: rnnx tensors always live in CPU memory. */
  get location(): 'cpu' {
    return 'cpu';
  }

  /** onnxruntime's `getData()`: the data (already on the CPU). */
  async getData(): Promise<TensorData> {
    return this.data;
  }

  /** onnxruntime's `dispose()`: a no-op (the data is ordinary JS memory, freed by the GC). */
  dispose(): void {}

  /** Same data, other dims (no copy). */
  reshape(dims: readonly number[]): Tensor {
    return new Tensor(this.type, this.data, dims);
  }
}

function describeData(x: unknown): string {
  return x === null || x === undefined ? String(x) : ((x as object).constructor?.name ?? typeof x);
}

/** bool bytes are 0 or 1: any other byte is true, stored as 1 (in a copy: the caller's array is left alone). */
function normalizedBools(a: Uint8Array): Uint8Array {
  for (let i = 0; i < a.length; i++) {
    if (a[i] > 1) {
      const out = new Uint8Array(a.length);
      for (let j = 0; j < a.length; j++) out[j] = a[j] ? 1 : 0;
      return out;
    }
  }
  return a;
}

/** Accepts rnnx tensors and anything shaped like one (onnxruntime Tensors included). */
export function asTensor(x: unknown, what: string): Tensor {
  if (x instanceof Tensor) return x;
  const t = x as { type?: unknown; data?: unknown; dims?: unknown };
  if (t && typeof t.type === 'string' && t.data !== undefined && Array.isArray(t.dims)) {
    const type = t.type as DataType;
    if (!Object.hasOwn(DTYPES, type)) throw new RnnxError(`${what}: unsupported tensor type '${type}'`);
    const bits = DTYPES[type].packedBits;
    const n = sizeOf(t.dims as number[]);
    const data = t.data as TensorData;
    // onnxruntime holds int4/uint4 packed two to a byte; rnnx holds one element per slot.
    if (bits && data.length !== n && data.length === Math.ceil((n * bits) / 8)) {
      const out = new (DTYPES[type].ctor as typeof Uint8Array)(n);
      unpackBits(data as Uint8Array, n, bits, type.startsWith('int'), out);
      return new Tensor(type, out, t.dims as number[]);
    }
    return new Tensor(type, data, t.dims as number[]);
  }
  throw new RnnxError(`${what}: expected a Tensor with type, data and dims`);
}
