import { RnnxError } from './errors.js';

/** Element types, named as onnxruntime-common names them. */
export type DataType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array;
export type BigArray = BigInt64Array | BigUint64Array;
export type TensorData = NumericArray | BigArray | string[];

interface DTypeInfo {
  readonly onnx: number;
  readonly ctor: (new (n: number) => NumericArray | BigArray) | null;
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
};

const BY_ONNX = new Map<number, DataType>(
  (Object.keys(DTYPES) as DataType[]).map((t) => [DTYPES[t].onnx, t]),
);
const ONNX_NAMES: Record<number, string> = {
  14: 'complex64', 15: 'complex128', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2',
  20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4',
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
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16';
}
export function isBig(t: DataType): boolean {
  return t === 'int64' || t === 'uint64';
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
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
 * An n-dimensional array; the same shape as onnxruntime-common's Tensor (`type`, `data`, `dims`),
 * so tensors pass between the two engines unchanged. float16/bfloat16 hold raw bits in Uint16Array.
 */
export class Tensor {
  readonly type: DataType;
  readonly data: TensorData;
  readonly dims: readonly number[];

  constructor(type: DataType, data: TensorData | readonly number[] | readonly bigint[] | readonly boolean[], dims?: readonly number[]) {
    const info = DTYPES[type];
    if (!info) throw new RnnxError(`Tensor: unknown type '${type}'`);
    let arr: TensorData;
    if (Array.isArray(data)) {
      if (type === 'string') arr = (data as string[]).slice();
      else if (isBig(type)) arr = (info.ctor as typeof BigInt64Array).from((data as unknown as (bigint | number)[]).map((v) => BigInt(v)));
      else arr = (info.ctor as typeof Float32Array).from((data as unknown as (number | boolean)[]).map(Number));
    } else {
      arr = data as TensorData;
    }
    const d = dims ? [...dims] : [arr.length];
    if (sizeOf(d) !== arr.length) {
      throw new RnnxError(`Tensor: dims [${d}] hold ${sizeOf(d)} elements but data has ${arr.length}`);
    }
    this.type = type;
    this.data = arr;
    this.dims = Object.freeze(d);
  }

  get size(): number {
    return this.data.length;
  }

  /** Same data, other dims (no copy). */
  reshape(dims: readonly number[]): Tensor {
    return new Tensor(this.type, this.data, dims);
  }
}

/** Accepts rnnx tensors and anything shaped like one (onnxruntime Tensors included). */
export function asTensor(x: unknown, what: string): Tensor {
  if (x instanceof Tensor) return x;
  const t = x as { type?: unknown; data?: unknown; dims?: unknown };
  if (t && typeof t.type === 'string' && t.data !== undefined && Array.isArray(t.dims)) {
    const type = t.type as DataType;
    if (!(type in DTYPES)) throw new RnnxError(`${what}: unsupported tensor type '${type}'`);
    return new Tensor(type, t.data as TensorData, t.dims as number[]);
  }
  throw new RnnxError(`${what}: expected a Tensor with type, data and dims`);
}
