// @ricky0123/vad-web's own NonRealTimeVAD, bundled twice by test/browser.test.ts: once as
// published (onnxruntime-web) and once with `onnxruntime-web` aliased to rnnx/ort.
import { NonRealTimeVAD } from '@ricky0123/vad-web';

/** 16-bit PCM mono WAV -> samples in [-1, 1). */
function decodeWav(buf: ArrayBuffer): { audio: Float32Array; rate: number } {
  const dv = new DataView(buf);
  let p = 12;
  let rate = 0;
  while (p + 8 <= dv.byteLength) {
    const id = String.fromCharCode(dv.getUint8(p), dv.getUint8(p + 1), dv.getUint8(p + 2), dv.getUint8(p + 3));
    const len = dv.getUint32(p + 4, true);
    if (id === 'fmt ') rate = dv.getUint32(p + 12, true);
    if (id === 'data') {
      const audio = new Float32Array(len / 2);
      for (let i = 0; i < audio.length; i++) audio[i] = dv.getInt16(p + 8 + 2 * i, true) / 32768;
      return { audio, rate };
    }
    p += 8 + len + (len & 1);
  }
  throw new Error('no data chunk');
}

async function detect(wavUrl: string, modelUrl: string, wasmBase?: string) {
  const { audio, rate } = decodeWav(await (await fetch(wavUrl)).arrayBuffer());
  const t0 = performance.now();
  const vad = await NonRealTimeVAD.new({
    modelURL: modelUrl,
    ortConfig: (ort: { env: { wasm: { wasmPaths?: string; numThreads?: number } } }) => {
      if (wasmBase) ort.env.wasm.wasmPaths = wasmBase;
      ort.env.wasm.numThreads = 1;
    },
  } as never);
  const created = performance.now() - t0;
  const segments: { start: number; end: number }[] = [];
  const t1 = performance.now();
  for await (const { start, end } of vad.run(audio, rate)) segments.push({ start, end });
  return { segments, created, ms: performance.now() - t1, seconds: audio.length / rate };
}

Object.assign(globalThis, { vadTest: { detect } });
