#!/usr/bin/python3
"""Writes test/data/onnx-node/manifest.json: every ONNX 1.12 backend node test, whether rnnx runs
it, and the reason for each exclusion. Copies the tests that run into test/data/onnx-node/.

Usage: npm run build
       /usr/bin/python3 ../shared/tools/gen-onnx-node-tests.py /tmp/nodetests
       /usr/bin/python3 scripts/node-test-manifest.py /tmp/nodetests
"""
import json, os, shutil, subprocess, sys
import onnx

# The ops rnnx registers (default domain), read from the built registry (run `npm run build` first).
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SUPPORTED = set(subprocess.check_output(
    ['node', '--input-type=module', '-e',
     "const m = await import('./dist/ops/registry.js');"
     "console.log([...new Set(m.OPS.filter(r => r.domain === '').map(r => r.opType))].join(' '))"],
    cwd=ROOT, text=True).split())

# Tests whose ops are all supported but that rnnx does not run, with the reason.
EXCLUDED = {


    'test_training_dropout': 'training-mode Dropout with ratio > 0 is random; rnnx is inference only',
    'test_training_dropout_default': 'training-mode Dropout with ratio > 0 is random; rnnx is inference only',
    'test_training_dropout_default_mask': 'training-mode Dropout with ratio > 0 is random; rnnx is inference only',
    'test_training_dropout_mask': 'training-mode Dropout with ratio > 0 is random; rnnx is inference only',
}
for t in ['test_batchnorm_epsilon_training_mode', 'test_batchnorm_example_training_mode']:
    EXCLUDED[t] = 'training-mode BatchNormalization (running statistics updated) is not supported; rnnx is inference only'
for t in ['test_averagepool_3d_default', 'test_maxpool_3d_default']:
    EXCLUDED[t] = 'pooling over 3 spatial dims is not supported (1-D and 2-D only, like Conv)'
EXCLUDED['test_convtranspose_3d'] = 'transposed convolution over 3 spatial dims is not supported (1-D and 2-D only)'
EXCLUDED['test_cast_FLOAT_to_BFLOAT16'] = ('expected data truncates float32 to bfloat16 (onnx 1.12 helper); onnxruntime 1.30, PyTorch and the '
                                          'current ONNX reference round to nearest even, as rnnx does (the newest suite checks it)')
EXCLUDED['test_scan_sum'] = 'Scan-8 (batch axis and sequence_lens) is not supported; Scan from opset 9 is'
# The data of these feeds 'like' with shape [1] while the model declares [3, 4]; rnnx checks feed shapes.
for t in ['test_castlike_BFLOAT16_to_FLOAT', 'test_castlike_FLOAT_to_BFLOAT16']:
    for suffix in ['', '_expanded']:
        EXCLUDED[t + suffix] = "test data feeds 'like' as [1] but the model declares [3, 4]; rnnx refuses feeds that contradict declared static dims"


def ops_of(graph):
    out = set()
    for n in graph.node:
        out.add(n.op_type)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out |= ops_of(a.g)
    return out


src = sys.argv[1]
dst = os.path.join(os.path.dirname(__file__), '..', 'test', 'data', 'onnx-node')
os.makedirs(dst, exist_ok=True)
tests = {}
for name in sorted(os.listdir(src)):
    ops = sorted(ops_of(onnx.load(os.path.join(src, name, 'model.onnx')).graph))
    missing = [o for o in ops if o not in SUPPORTED]
    if missing:
        entry = {'ops': ops, 'status': 'excluded', 'reason': 'unsupported op: ' + ', '.join(missing)}
    elif name in EXCLUDED:
        entry = {'ops': ops, 'status': 'excluded', 'reason': EXCLUDED[name]}
    else:
        entry = {'ops': ops, 'status': 'run'}
        shutil.rmtree(os.path.join(dst, name), ignore_errors=True)
        shutil.copytree(os.path.join(src, name), os.path.join(dst, name))
    tests[name] = entry
with open(os.path.join(dst, 'manifest.json'), 'w') as f:
    json.dump({'generator': 'onnx %s backend node tests' % onnx.__version__, 'tests': tests}, f, indent=1, sort_keys=True)
print(sum(e['status'] == 'run' for e in tests.values()), 'run,', sum(e['status'] == 'excluded' for e in tests.values()), 'excluded')
