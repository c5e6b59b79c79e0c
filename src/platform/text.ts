// Text <-> bytes without Node's Buffer (TextDecoder/TextEncoder exist in Node and browsers).
const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export const utf8 = (b: Uint8Array): string => decoder.decode(b);
export const utf8Bytes = (s: string): Uint8Array => encoder.encode(s);
/** One byte per character (numpy headers); TextDecoder's 'latin1' is windows-1252, identical on 0x00-0x7f and 0xa0-0xff. */
export const latin1 = (b: Uint8Array): string => { let s = ''; for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]); return s; };
export const latin1Bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
