#!/usr/bin/python3
"""Checks that `rnnx export-weights` output loads into the original PyTorch module.

For every fixture whose meta.json records its module, rebuilds the module from its constructor
arguments, reads the safetensors file rnnx wrote (parsed here with json + torch.frombuffer, the
format safetensors.torch.load_file reads), and calls load_state_dict(strict=True); then checks
every tensor equals the fixture's saved state_dict.

Usage (after npm ci): /usr/bin/python3 scripts/check-weights.py
"""
import json, os, struct, subprocess, sys, tempfile
import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32}


def load_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(data[8 + n + s:8 + n + e]), dtype=DTYPES[v['dtype']]).reshape(v['shape'])
    return out


checked = 0
fixtures = os.path.join(ROOT, 'test', 'fixtures')
for name in sorted(os.listdir(fixtures)):
    if not os.path.exists(os.path.join(fixtures, name, 'meta.json')):
        continue  # e.g. test/fixtures/real (third-party models)
    meta = json.load(open(os.path.join(fixtures, name, 'meta.json')))
    if 'module' not in meta or 'recovery' in meta:
        continue
    mod = meta['module']
    module = getattr(torch.nn, mod['class'])(**mod['kwargs'])
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'w.safetensors')
        subprocess.run(['node', os.path.join(ROOT, 'bin', 'rnnx.js'), 'export-weights',
                        os.path.join(fixtures, name, 'model.onnx'), '--out', out], check=True, capture_output=True)
        sd = load_safetensors(out)
    prefix = mod['prefix'] + '.' if mod['prefix'] else ''
    if meta.get('dynamo', {}).get('loop'):
        # the module calling the cell per step also has its step indices (int64 scalars) as initializers
        sd = {k: v for k, v in sd.items() if not (v.dtype == torch.int64 and v.numel() == 1)}
    module.load_state_dict({k[len(prefix):]: v for k, v in sd.items()}, strict=True)
    saved = np.load(os.path.join(fixtures, name, 'state_dict.npz'))
    for k, v in module.state_dict().items():
        assert np.array_equal(v.numpy(), saved[prefix + k]), (name, k)
    checked += 1
print('%d modules loaded their rnnx-exported weights with load_state_dict(strict=True)' % checked)
