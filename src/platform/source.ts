import { RnnxError } from '../ir/errors.js';
import { platform } from './index.js';

/** Where a model can come from: a path (Node), a URL, or its bytes. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Blob;

/** A readable model: a file path (external data resolves beside it) or the bytes. */
export type ResolvedSource = { readonly path: string } | { readonly bytes: Uint8Array };

const isBlob = (x: unknown): x is Blob => typeof Blob === 'function' && x instanceof Blob;

function viewBytes(src: ArrayBuffer | ArrayBufferView): Uint8Array {
  return src instanceof ArrayBuffer ? new Uint8Array(src) : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
}

/** Synchronous sources only: a path or bytes (URLs and Blobs need resolveSource). */
export function resolveSourceSync(src: ModelSource): ResolvedSource {
  if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) return { bytes: viewBytes(src) };
  if (typeof src === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(src) && platform().name === 'node') return { path: src };
  if (src instanceof URL && src.protocol === 'file:' && platform().name === 'node') return { path: decodeURIComponent(src.pathname) };
  throw new RnnxError(`a model from ${isBlob(src) ? 'a Blob' : `'${String(src)}'`} needs the asynchronous InferenceSession.create`);
}

/** Any source: URLs (http, https, blob, data; file in Node) are fetched, Blobs read. */
export async function resolveSource(src: ModelSource): Promise<ResolvedSource> {
  if (isBlob(src)) return { bytes: new Uint8Array(await src.arrayBuffer()) };
  if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) return { bytes: viewBytes(src) };
  const node = platform().name === 'node';
  if (typeof src === 'string' && node && !/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) return { path: src };
  if (typeof src !== 'string' && !(src instanceof URL)) throw new RnnxError(`a model source must be a path, URL, ArrayBuffer, Uint8Array or Blob, got ${Object.prototype.toString.call(src)}`);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  let url: URL;
  try {
    url = typeof src === 'string' ? new URL(src, base) : src;
  } catch {
    throw new RnnxError(`'${String(src)}' is not a URL (file paths need Node)`);
  }
  if (url.protocol === 'file:' && node) return { path: decodeURIComponent(url.pathname) };
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new RnnxError(`cannot fetch model ${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new RnnxError(`cannot fetch model ${url.href}: HTTP ${res.status} ${res.statusText}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()) };
}
