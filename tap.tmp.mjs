import * as fs from 'node:fs';
const which = process.argv[2];
const base = which === 'pre' ? '/tmp/onnxwork/pre/dist' : '/work/wt-onnx/dist';
const { onnx } = await import(base + '/import/proto.js');
const { InferenceSession } = await import(base + '/index.js');
const { readTensorPb } = await import(base + '/runtime/node-test.js');
const dir = '/tmp/node-new/test_linear_attention_linear_expanded';
const mp = onnx.ModelProto.decode(fs.readFileSync(dir + '/model.onnx'));
// tap every top-level node output
const outs = mp.graph.node.flatMap(n => n.output).filter(Boolean);
mp.graph.output = outs.map(name => ({ name }));
const bytes = onnx.ModelProto.encode(mp).finish();
const s = InferenceSession.createSync(bytes);
const feeds = {};
s.inputNames.forEach((n, i) => { feeds[n] = readTensorPb(`${dir}/test_data_set_0/input_${i}.pb`); });
const r = s.runValues ? s.runValues(feeds) : s.runSync(feeds);
const res = {};
for (const o of outs) { const t = r[o]; res[o.replace(/.*function_/, '')] = t ? [t.dims, Array.from(t.data).slice(0, 6).map(Number)] : null; }
console.log(JSON.stringify(res));
