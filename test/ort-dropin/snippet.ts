// An onnxruntime user's code. test/ort-dropin.test.ts compiles it as it is (onnxruntime-web's
// types), with the import swapped for onnxruntime-node and for rnnx/ort, and runs the last two.
import * as ort from 'onnxruntime-web';

export interface SnippetResult {
  inputs: string[];
  outputs: string[];
  metadata: string[];
  y: number[];
  hn: number[];
  yDims: readonly number[];
  fetched: string[];
  location: string;
}

/** Runs the lstm_seed fixture (x [2, 3, 4] batch-first, h0/c0 [1, 2, 5]) the way onnxruntime's docs do. */
export async function main(model: Uint8Array, x: Float32Array): Promise<SnippetResult> {
  const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  const session = await ort.InferenceSession.create(model, options);
  const metadata: string[] = [];
  for (const m of session.inputMetadata) metadata.push(m.isTensor ? `${m.name}:${m.type}[${m.shape.join(',')}]` : m.name);

  const feeds: ort.InferenceSession.FeedsType = {
    x: new ort.Tensor(x, [2, 3, 4]),
    h0: new ort.Tensor('float32', new Float32Array(10), [1, 2, 5]),
    c0: new ort.Tensor('float32', [0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5], [1, 2, 5]),
  };
  const runOptions: ort.InferenceSession.RunOptions = { logSeverityLevel: 3, tag: 'snippet' };
  const all = await session.run(feeds, runOptions);
  const some = await session.run(feeds, ['hn'], runOptions);
  const byObject = await session.run(feeds, { y: null });
  const y: ort.Tensor = all.y;
  const data = (await y.getData()) as Float32Array;
  const hn = some.hn.data as Float32Array;
  const result: SnippetResult = {
    inputs: [...session.inputNames],
    outputs: [...session.outputNames],
    metadata,
    y: Array.from(data),
    hn: Array.from(hn),
    yDims: y.dims,
    fetched: [...Object.keys(some), ...Object.keys(byObject)],
    location: y.location,
  };
  for (const t of Object.values(feeds)) if (t instanceof ort.Tensor) t.dispose();
  await session.release();
  return result;
}
