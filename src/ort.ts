/**
 * `rnnx/ort`: onnxruntime's JavaScript API (onnxruntime-common's InferenceSession, Tensor and env)
 * on rnnx's engine, so code written for onnxruntime-web or onnxruntime-node runs by changing the
 * import. The differences that remain are listed in the README ("rnnx/ort").
 */
import { RnnxError } from './ir/errors.js';
import type { Dim, Model } from './ir/graph.js';
import { asTensor, Tensor as CoreTensor, type DataType, type TensorData } from './ir/tensor.js';
import { InferenceSession as CoreSession, type SessionOptions as CoreSessionOptions } from './runtime/session.js';
import type { ProfileResult } from './runtime/profile.js';
import type { ModelSource } from './platform/source.js';

type TypedArrayOf = {
  float32: Float32Array; float64: Float64Array; int8: Int8Array; uint8: Uint8Array; int16: Int16Array;
  uint16: Uint16Array; int32: Int32Array; uint32: Uint32Array; int64: BigInt64Array; uint64: BigUint64Array;
  float16: Uint16Array; bool: Uint8Array; string: string[];
};

/** Element types by typed array, as onnxruntime-common infers them. */
function inferType(data: unknown): DataType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(data)) {
    if (data.length > 0 && typeof data[0] === 'string') return 'string';
    if (data.length > 0 && typeof data[0] === 'boolean') return 'bool';
  }
  throw new RnnxError(`Tensor: cannot infer a type from ${Object.prototype.toString.call(data)}; pass the type first`);
}

/**
 * onnxruntime's Tensor: `new Tensor(type, data, dims?)` or `new Tensor(data, dims?)` with the type
 * inferred from the typed array. It is an rnnx Tensor (sessions of either API take it), with
 * onnxruntime's `location`, `getData()` and `dispose()`.
 */
export class Tensor extends CoreTensor {
  constructor(type: Tensor.Type, data: Tensor.DataType | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[], dims?: readonly number[]);
  constructor(data: Tensor.DataType | readonly number[] | readonly boolean[] | readonly string[], dims?: readonly number[]);
  constructor(a: unknown, b?: unknown, c?: unknown) {
    if (typeof a === 'string') {
      if (!ORT_TYPES.has(a)) throw new RnnxError(`Tensor: unsupported type '${a}' (onnxruntime's types: ${[...ORT_TYPES].join(', ')})`);
      super(a as DataType, asData(a as DataType, b), c as readonly number[] | undefined);
    } else {
      const type = inferType(a);
      super(type, asData(type, a), b as readonly number[] | undefined);
    }
  }
}

function asData(type: DataType, d: unknown): TensorData | readonly number[] {
  if (d instanceof Uint8ClampedArray) {
    if (type !== 'uint8') throw new RnnxError(`Tensor: a Uint8ClampedArray holds uint8 data, not ${type}`);
    return Uint8Array.from(d);
  }
  if (Array.isArray(d)) {
    if (type === 'bool') return d.map((v) => (v ? 1 : 0));
    return d as readonly number[];
  }
  const want = (EXPECTED as Record<string, unknown>)[type] as (abstract new (...a: never[]) => unknown) | undefined;
  if (want && !(d instanceof want)) throw new RnnxError(`Tensor: a ${type} tensor's data must be a ${want.name}, got ${Object.prototype.toString.call(d)}`);
  return d as TensorData;
}

const EXPECTED: Partial<Record<DataType, unknown>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, float16: Uint16Array, bool: Uint8Array,
};
const ORT_TYPES = new Set<string>([...Object.keys(EXPECTED), 'string']);

export declare namespace Tensor {
  /** onnxruntime's element type names. */
  type Type = 'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';
  /** onnxruntime's Tensor.DataType: the data of any tensor. */
  type DataType = TypedArrayOf[keyof TypedArrayOf];
  type DataTypeMap = TypedArrayOf;
  /** Where the data lives: always 'cpu' in rnnx. */
  type DataLocation = 'cpu';
}

// A tensor from either engine's output is an rnnx Tensor; this is the type users spell `ort.Tensor`.
export type { CoreTensor as RnnxTensor };

export declare namespace InferenceSession {
  type OnnxValue = Tensor | CoreTensor;
  type FeedsType = { [name: string]: OnnxValue | { readonly type: string; readonly data: unknown; readonly dims: readonly number[] } };
  type NullableOnnxValue = OnnxValue | null | undefined;
  type FetchesType = readonly string[] | { [name: string]: NullableOnnxValue };
  type ReturnType = { [name: string]: Tensor };
  type ExecutionProviderConfig = 'cpu' | 'wasm' | { readonly name: 'cpu' | 'wasm' };

  /**
   * onnxruntime's session options. rnnx honours `executionProviders` ('cpu'/'wasm' only),
   * `enableProfiling`, `enableCpuMemArena` (its buffer arena) and `intraOpNumThreads`
   * (2 → rnnx's `threads: 2`); the others are accepted and do nothing (README lists each).
   */
  interface SessionOptions {
    executionProviders?: readonly ExecutionProviderConfig[];
    intraOpNumThreads?: number;
    interOpNumThreads?: number;
    graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
    enableCpuMemArena?: boolean;
    enableMemPattern?: boolean;
    executionMode?: 'sequential' | 'parallel';
    enableProfiling?: boolean;
    profileFilePrefix?: string;
    logId?: string;
    logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
    logVerbosityLevel?: number;
    extra?: Record<string, unknown>;
    /** rnnx: recover PyTorch recurrent modules (default true). */
    fuse?: boolean;
  }

  /** onnxruntime's run options; `signal` is rnnx's addition. */
  interface RunOptions {
    logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
    logVerbosityLevel?: number;
    terminate?: boolean;
    tag?: string;
    extra?: Record<string, unknown>;
    signal?: AbortSignal;
  }

  interface TensorValueMetadata {
    readonly name: string;
    readonly isTensor: true;
    readonly type: Tensor.Type;
    readonly shape: ReadonlyArray<number | string>;
  }
  interface NonTensorValueMetadata {
    readonly name: string;
    readonly isTensor: false;
  }
  type ValueMetadata = TensorValueMetadata | NonTensorValueMetadata;
}

/** Options onnxruntime has that rnnx's single CPU engine accepts and ignores (listed in the README). */
const IGNORED_OPTIONS = ['interOpNumThreads', 'graphOptimizationLevel', 'enableMemPattern', 'executionMode', 'profileFilePrefix', 'logId', 'logSeverityLevel', 'logVerbosityLevel', 'extra'] as const;
const KNOWN_OPTIONS = new Set<string>(['executionProviders', 'intraOpNumThreads', 'enableCpuMemArena', 'enableProfiling', 'fuse', ...IGNORED_OPTIONS]);

function coreOptions(o: InferenceSession.SessionOptions = {}): CoreSessionOptions {
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(k)) throw new RnnxError(`InferenceSession: unknown session option '${k}'`);
  }
  for (const ep of o.executionProviders ?? []) {
    const name = typeof ep === 'string' ? ep : (ep as { name?: unknown })?.name;
    if (name !== 'cpu' && name !== 'wasm') {
      throw new RnnxError(`InferenceSession: execution provider '${String(name)}' is not available in rnnx (it runs 'cpu'/'wasm': its own WebAssembly SIMD kernels)`);
    }
  }
  const threads = o.intraOpNumThreads ?? env.wasm.numThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw new RnnxError(`InferenceSession: intraOpNumThreads must be a non-negative integer, got ${threads}`);
  const out: { -readonly [K in keyof CoreSessionOptions]: CoreSessionOptions[K] } = {};
  if (threads !== undefined && threads >= 2) out.threads = 2;
  if (o.enableProfiling) out.enableProfiling = true;
  if (o.enableCpuMemArena === false) out.enableMemoryArena = false;
  if (o.fuse !== undefined) out.fuse = o.fuse;
  return out;
}

function metadata(v: { name: string; kind?: string; type?: DataType; shape?: readonly Dim[] }): InferenceSession.ValueMetadata {
  if ((v.kind ?? 'tensor') !== 'tensor') return { name: v.name, isTensor: false };
  return { name: v.name, isTensor: true, type: (v.type ?? 'float32') as Tensor.Type, shape: (v.shape ?? []).map((d, i) => d ?? `unk__${i}`) };
}

const asCore = (t: unknown): CoreTensor => asTensor(t, 'feed');

/** onnxruntime's InferenceSession on rnnx. */
export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];

  private constructor(readonly rnnx: CoreSession) {
    this.inputNames = rnnx.inputNames;
    this.outputNames = rnnx.outputNames;
    this.inputMetadata = rnnx.inputMetadata.map(metadata);
    this.outputMetadata = rnnx.outputMetadata.map(metadata);
  }

  static create(uri: string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, byteOffset: number, byteLength?: number, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(source: URL | Blob | Model, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static async create(source: unknown, a?: unknown, b?: unknown, c?: unknown): Promise<InferenceSession> {
    let options = a as InferenceSession.SessionOptions | undefined;
    let src = source as ModelSource | Model;
    if (typeof a === 'number') {
      if (!(source instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer))) throw new RnnxError('InferenceSession.create: a byte offset needs an ArrayBuffer');
      const buf = source as ArrayBuffer;
      if (!Number.isInteger(a) || a < 0 || a > buf.byteLength) throw new RnnxError(`InferenceSession.create: byteOffset ${a} is outside the buffer (${buf.byteLength} bytes)`);
      const len = typeof b === 'number' ? b : buf.byteLength - a;
      if (!Number.isInteger(len) || len < 0 || a + len > buf.byteLength) throw new RnnxError(`InferenceSession.create: byteLength ${len} from ${a} is outside the buffer (${buf.byteLength} bytes)`);
      src = new Uint8Array(buf, a, len);
      options = (typeof b === 'number' ? c : b) as InferenceSession.SessionOptions | undefined;
    } else if (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer) {
      src = new Uint8Array(source);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) throw new RnnxError('InferenceSession.create: options must be an object');
    return new InferenceSession(await CoreSession.create(src, coreOptions(options)));
  }

  run(feeds: InferenceSession.FeedsType, options?: InferenceSession.RunOptions): Promise<InferenceSession.ReturnType>;
  run(feeds: InferenceSession.FeedsType, fetches: InferenceSession.FetchesType, options?: InferenceSession.RunOptions): Promise<InferenceSession.ReturnType>;
  async run(feeds: InferenceSession.FeedsType, a?: unknown, b?: InferenceSession.RunOptions): Promise<InferenceSession.ReturnType> {
    const strip = (o: unknown) => {
      if (!o || typeof o !== 'object' || Array.isArray(o) || !('extra' in o)) return o;
      const { extra: _extra, ...rest } = o as InferenceSession.RunOptions;
      return rest;
    };
    const out = await this.rnnx.run(this.scalars(feeds) as Parameters<CoreSession['run']>[0], (b === undefined ? strip(a) : a) as never, strip(b) as never);
    return out as InferenceSession.ReturnType;
  }

  /** Like onnxruntime, a one-element tensor feeds an input declared as a scalar (vad-web feeds `sr` as [1]). */
  private scalars(feeds: InferenceSession.FeedsType): InferenceSession.FeedsType {
    let out: Record<string, unknown> | undefined;
    for (const info of this.rnnx.inputMetadata) {
      const t = feeds[info.name];
      if (info.shape?.length !== 0 || !t || !Array.isArray(t.dims) || t.dims.length === 0) continue;
      if (t.dims.reduce((p: number, q: number) => p * q, 1) !== 1) continue;
      out ??= { ...feeds };
      out[info.name] = asCore(t).reshape([]);
    }
    return (out ?? feeds) as InferenceSession.FeedsType;
  }

  /** Ends the session: later runs throw. */
  release(): Promise<void> {
    return this.rnnx.release();
  }

  startProfiling(): void {
    this.rnnx.startProfiling();
  }

  /** onnxruntime returns nothing (it writes a file); rnnx returns the per-node and per-op-type times. */
  endProfiling(): ProfileResult {
    return this.rnnx.endProfiling();
  }
}

/** onnxruntime's `env`. rnnx reads `wasm.numThreads` (2 or more → threads: 2); the rest is kept and ignored. */
export const env: {
  debug?: boolean;
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  wasm: { numThreads?: number; simd?: boolean | 'fixed' | 'relaxed'; proxy?: boolean; wasmPaths?: string | { wasm?: URL | string; mjs?: URL | string }; initTimeout?: number; trace?: boolean };
  webgpu: Record<string, unknown>;
  webgl: Record<string, unknown>;
  [key: string]: unknown;
} = {
  logLevel: 'warning',
  wasm: {},
  webgpu: {},
  webgl: {},
};
