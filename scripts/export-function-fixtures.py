#!/usr/bin/python3
"""Writes test/fixtures/fn_*: PyTorch modules exported with export_modules_as_functions, so the
ONNX files call model-local functions (FunctionProto with attributes, ref_attr_name, nested calls).
Same layout as scripts/export-fixtures.py: model.onnx, meta.json, in_<k>.npy, out_<k>.npy,
state_dict.npz.
Needs Debian's torch 1.13 (torch.onnx.export supports export_modules_as_functions from opset 15).
"""
import json, os
import numpy as np
import torch
import torch.nn as nn
import onnx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
torch.manual_seed(0)


class CellLoop(nn.Module):
    """An LSTMCell stepped in Python over T steps, then a Linear: every call is a function."""
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 6)
        self.lin = nn.Linear(6, 3)

    def forward(self, x, h, c):
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
        return self.lin(h), c


class StackedLSTM(nn.Module):
    """A 2-layer nn.LSTM and a Linear, each exported as a function: recovery must still fuse the LSTM."""
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 6, num_layers=2)
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        y, (h, c) = self.rnn(x)
        return self.lin(y), h, c


def export(name, module, inputs, input_names, output_names, doc):
    module.eval()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with torch.no_grad():
        outs = module(*inputs)
    torch.onnx.export(module, tuple(inputs), os.path.join(d, 'model.onnx'), input_names=input_names,
                      output_names=output_names, opset_version=15,
                      export_modules_as_functions={nn.LSTMCell, nn.LSTM, nn.Linear})
    # torch 1.13 drops output_names when exporting functions: name the graph outputs here.
    path = os.path.join(d, 'model.onnx')
    m = onnx.load(path)
    for o, want in zip(m.graph.output, output_names):
        for node in m.graph.node:
            node.output[:] = [want if x == o.name else x for x in node.output]
        o.name = want
    onnx.save(m, path)
    for n, t in zip(input_names, inputs):
        np.save(os.path.join(d, 'in_%s.npy' % n), t.numpy())
    for n, t in zip(output_names, outs):
        np.save(os.path.join(d, 'out_%s.npy' % n), t.numpy())
    np.savez(os.path.join(d, 'state_dict.npz'), **{k: v.numpy() for k, v in module.state_dict().items()})
    meta = {'name': name, 'doc': doc, 'opset': 15, 'inputs': input_names, 'outputs': output_names,
            'torch': torch.__version__}
    with open(os.path.join(d, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print('wrote', name)


export('fn_lstmcell_loop', CellLoop(), [torch.randn(3, 2, 4), torch.randn(2, 6), torch.randn(2, 6)],
       ['x', 'h0', 'c0'], ['y', 'cn'], 'LSTMCell x3 + Linear, exported as model-local functions')
export('fn_lstm_l2', StackedLSTM(), [torch.randn(5, 2, 4)], ['x'], ['y', 'hn', 'cn'],
       'nn.LSTM(4, 6, num_layers=2) + Linear, exported as model-local functions')
