#!/usr/bin/python3
"""Exports PyTorch recurrent models to ONNX with PyTorch's own outputs, for rnnx's tests.

Run with Debian's torch (apt-get install -y python3-torch python3-onnx):
    /usr/bin/python3 scripts/export-fixtures.py
Writes test/fixtures/<name>/{model.onnx, meta.json, in_<k>.npy, out_<k>.npy, state_dict.npz}.
Fixed seeds: the same torch build writes the same files.
"""
import json, os, sys
import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


def export(name, module, inputs, input_names, output_names, opset=14, dynamic_axes=None, doc=''):
    module.eval()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with torch.no_grad():
        outs = module(*inputs)
    if not isinstance(outs, (tuple, list)):
        outs = (outs,)
    flat = []
    for o in outs:
        if isinstance(o, (tuple, list)):
            flat.extend(o)
        else:
            flat.append(o)
    torch.onnx.export(module, tuple(inputs), os.path.join(d, 'model.onnx'), input_names=input_names,
                      output_names=output_names, opset_version=opset, dynamic_axes=dynamic_axes or {})
    for n, t in zip(input_names, inputs):
        np.save(os.path.join(d, 'in_%s.npy' % n), t.numpy())
    for n, t in zip(output_names, flat):
        np.save(os.path.join(d, 'out_%s.npy' % n), t.numpy())
    np.savez(os.path.join(d, 'state_dict.npz'), **{k: v.numpy() for k, v in module.state_dict().items()})
    meta = {'name': name, 'doc': doc, 'opset': opset, 'inputs': input_names, 'outputs': output_names,
            'torch': torch.__version__}
    with open(os.path.join(d, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print('wrote', name)


class WithState(nn.Module):
    """Calls a recurrent module with (x, h0[, c0]) and returns (y, h_n[, c_n])."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *state):
        if isinstance(self.rnn, nn.LSTM):
            y, (h, c) = self.rnn(x, (state[0], state[1]))
            return y, h, c
        y, h = self.rnn(x, state[0])
        return y, h


def main():
    # The seed example: nn.LSTM(4, 5, batch_first=True), h0/c0 [1, 2, 5], input [2, 3, 4].
    torch.manual_seed(0)
    m = WithState(nn.LSTM(4, 5, batch_first=True))
    x = torch.randn(2, 3, 4)
    h0 = torch.randn(1, 2, 5)
    c0 = torch.randn(1, 2, 5)
    export('lstm_seed', m, [x, h0, c0], ['x', 'h0', 'c0'], ['y', 'hn', 'cn'],
           doc='nn.LSTM(4, 5, batch_first=True) with initial states')


if __name__ == '__main__':
    main()
