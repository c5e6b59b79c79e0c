#!/usr/bin/python3
"""PyTorch's side of the dynamo-form fixtures (test/fixtures/dyn_*).

torch.onnx.export(dynamo=True) needs PyTorch >= 2.5 and this machine has Debian's 1.13, so the
ONNX file is written by rnnx's imitation of the exporter (src/builder/dynamo-form.ts, following
onnxscript's torch_lib; see DEVELOPERS.md). This script writes everything else: the module's
seeded state_dict, the inputs, and PyTorch's own outputs (the recurrent math did not change
between 1.13 and 2.x), plus meta.json saying which form to write.

    /usr/bin/python3 scripts/dynamo-fixtures.py      # state_dict.npz, in_*.npy, out_*.npy, meta.json
    npm run build && node scripts/gen-dynamo-fixtures.mjs   # model.onnx in dynamo form
"""
import json, os, zlib
import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


class Holder(nn.Module):
    """Puts the module at a dotted path (e.g. encoder.rnn) so state_dict names carry it."""

    def __init__(self, path, module):
        super().__init__()
        head, _, rest = path.partition('.')
        setattr(self, head, Holder(rest, module) if rest else module)
        self.head = head

    def forward(self, *args):
        return getattr(self, self.head)(*args)


class CellLoop(nn.Module):
    """Calls the cell once per step of x [T, N, I]; returns the stacked h, and the final state(s)."""

    def __init__(self, path, module):
        super().__init__()
        head, _, rest = path.partition('.')
        setattr(self, head, Holder(rest, module) if rest else module)
        self.head = head

    def inner(self, *args):
        return getattr(self, self.head)(*args)

    def forward(self, x, *state):
        lstm = len(state) == 2
        st = (state[0], state[1]) if lstm else (state[0] if state else None)
        ys = []
        for t in range(x.shape[0]):
            st = self.inner(x[t], st) if st is not None else self.inner(x[t])
            ys.append(st[0] if lstm or isinstance(st, tuple) else st)
        if isinstance(st, tuple):
            return (torch.stack(ys), st[0], st[1])
        return (torch.stack(ys), st)


def fixture(name, kind, kwargs, prefix='rnn', state=False, dynamic='none', T=5, N=2, doc='', function=False, recovery=None, unbind=None, loop=0):
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)
    mod = getattr(nn, kind)(**kwargs)
    root = CellLoop(prefix, mod) if loop else Holder(prefix, mod) if prefix else mod
    root.eval()
    L, D = kwargs.get('num_layers', 1), 2 if kwargs.get('bidirectional') else 1
    H, I = kwargs['hidden_size'], kwargs['input_size']
    cell = kind.endswith('Cell')
    if cell and loop:
        x = torch.randn(loop, N, I)
    elif cell:
        x = torch.randn(N, I)
    else:
        x = torch.randn(N, T, I) if kwargs.get('batch_first') else torch.randn(T, N, I)
    inputs = {'x': x}
    if state:
        shape = (N, H) if cell else (L * D, N, H)
        inputs['h0'] = torch.randn(*shape)
        if kind.startswith('LSTM'):
            inputs['c0'] = torch.randn(*shape)
    with torch.no_grad():
        if kind.startswith('LSTM'):
            args = (x, (inputs['h0'], inputs['c0'])) if state else (x,)
        else:
            args = (x, inputs['h0']) if state else (x,)
        res = root(*args)
    if cell and loop:
        outs = {'y': res[0], 'hn': res[1], 'cn': res[2]} if kind == 'LSTMCell' else {'y': res[0], 'hn': res[1]}
    elif cell:
        outs = {'hn': res[0], 'cn': res[1]} if kind == 'LSTMCell' else {'hn': res}
    else:
        y, st = res
        outs = {'y': y, 'hn': st[0], 'cn': st[1]} if kind == 'LSTM' else {'y': y, 'hn': st}
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for k, v in inputs.items():
        np.save(os.path.join(d, 'in_%s.npy' % k), v.numpy())
    for k, v in outs.items():
        np.save(os.path.join(d, 'out_%s.npy' % k), v.numpy())
    np.savez(os.path.join(d, 'state_dict.npz'), **{k: v.numpy() for k, v in root.state_dict().items()})
    meta = {'name': name, 'doc': doc or 'nn.%s(%s) at %r, torch.onnx.export(dynamo=True) form' % (
        kind, ', '.join('%s=%r' % kv for kv in kwargs.items()), prefix),
        'inputs': list(inputs), 'outputs': list(outs), 'torch': torch.__version__,
        'module': {'class': kind, 'prefix': prefix, 'kwargs': kwargs},
        'dynamo': {'dynamic': dynamic, 'function': function}}
    if unbind:
        meta['dynamo']['unbind'] = unbind
    if loop:
        meta['dynamo']['loop'] = loop
        meta['doc'] = 'a module calling nn.%s(%s) at %r once per step of x [%d, N, I], torch.onnx.export(dynamo=True) form' % (
            kind, ', '.join('%s=%r' % kv for kv in kwargs.items()), prefix, loop)
    if recovery:
        meta['recovery'] = recovery
    with open(os.path.join(d, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print('wrote', name)


def main():
    small = dict(input_size=5, hidden_size=8)
    for kind in ('LSTM', 'GRU'):
        k = kind.lower()
        # small weights: the optimizer folds the gate reorder into constants
        fixture('dyn_%s_l1' % k, kind, small)
        fixture('dyn_%s_l1_state' % k, kind, small, state=True)
        fixture('dyn_%s_l1_nobias' % k, kind, dict(small, bias=False), state=True)
        fixture('dyn_%s_l2_bi_bf' % k, kind, dict(small, num_layers=2, bidirectional=True, batch_first=True), prefix='encoder.rnn')
        fixture('dyn_%s_l2_bi_bf_state' % k, kind, dict(small, num_layers=2, bidirectional=True, batch_first=True), state=True)
        fixture('dyn_%s_l3' % k, kind, dict(small, num_layers=3), prefix='')
        fixture('dyn_%s_l3_bi_dyn' % k, kind, dict(small, num_layers=3, bidirectional=True), dynamic='both')
        fixture('dyn_%s_l2_bf_dyn_state' % k, kind, dict(small, num_layers=2, batch_first=True), state=True, dynamic='batch')
    # no ONNX recurrent node: PyTorch's decompositions (unrolled nn.RNN, decomposed cells)
    fixture('dyn_rnn_tanh_unrolled', 'RNN', dict(input_size=5, hidden_size=8), state=True, T=4)
    fixture('dyn_rnn_relu_unrolled', 'RNN', dict(input_size=5, hidden_size=8, nonlinearity='relu'), T=4)
    fixture('dyn_rnn_tanh_l2_bi_unrolled', 'RNN', dict(input_size=5, hidden_size=8, num_layers=2, bidirectional=True), state=True, T=4)
    fixture('dyn_rnn_relu_l2_bf_unrolled', 'RNN', dict(input_size=5, hidden_size=8, num_layers=2, nonlinearity='relu', batch_first=True),
            prefix='encoder.rnn', T=3)
    fixture('dyn_rnn_tanh_bi_nobias_unrolled', 'RNN', dict(input_size=5, hidden_size=8, bidirectional=True, bias=False), state=True, T=3)
    # aten_unbind as one Split + Squeezes (other onnxscript versions)
    fixture('dyn_rnn_tanh_l2_bi_split_unrolled', 'RNN', dict(input_size=4, hidden_size=6, num_layers=2, bidirectional=True), state=True, T=3,
            unbind='split')
    fixture('dyn_rnn_tanh_l3_big_unrolled', 'RNN', dict(input_size=16, hidden_size=96, num_layers=3), T=3, N=1)
    fixture('dyn_lstmcell', 'LSTMCell', dict(input_size=5, hidden_size=8), prefix='cell', state=True)
    fixture('dyn_lstmcell_nobias', 'LSTMCell', dict(input_size=5, hidden_size=8, bias=False), prefix='decoder.cell', state=True)
    fixture('dyn_lstmcell_big', 'LSTMCell', dict(input_size=16, hidden_size=48), prefix='cell', N=1)
    fixture('dyn_grucell_state', 'GRUCell', dict(input_size=5, hidden_size=8), prefix='cell', state=True)
    fixture('dyn_grucell_big_nobias', 'GRUCell', dict(input_size=16, hidden_size=56, bias=False), prefix='', N=1)
    fixture('dyn_grucell', 'GRUCell', dict(input_size=5, hidden_size=8), prefix='cell',
            recovery='none: zero initial state and small weights, so the exporter folds the recurrent product '
                     '(weight_hh, bias_hh) into a constant; the module cannot be rebuilt from the file')
    # a module calling the cell once per step (torch.export unrolls the Python loop)
    fixture('dyn_lstmcell_loop', 'LSTMCell', dict(input_size=5, hidden_size=8), prefix='cell', state=True, loop=4)
    fixture('dyn_grucell_loop', 'GRUCell', dict(input_size=5, hidden_size=8), prefix='decoder.cell', state=True, loop=3)
    fixture('dyn_rnncell', 'RNNCell', dict(input_size=5, hidden_size=8), prefix='cell', state=True)
    fixture('dyn_rnncell_relu_big', 'RNNCell', dict(input_size=16, hidden_size=96, nonlinearity='relu'), prefix='cell', N=1)
    # the cells as model-local functions (the optimizer's inlining off)
    fixture('dyn_lstmcell_fn', 'LSTMCell', dict(input_size=5, hidden_size=8), prefix='cell', state=True, function=True)
    fixture('dyn_grucell_fn', 'GRUCell', dict(input_size=6, hidden_size=7), prefix='rnn.cell', state=True, function=True)
    # real-sized weights (> 8,192 elements): the Slice/Concat/Unsqueeze chains stay in the graph
    fixture('dyn_lstm_l2_big', 'LSTM', dict(input_size=40, hidden_size=48, num_layers=2), T=3, N=1)
    fixture('dyn_lstm_l1_bi_big_dyn', 'LSTM', dict(input_size=8, hidden_size=48, bidirectional=True, batch_first=True),
            T=3, N=1, state=True, dynamic='both')
    fixture('dyn_gru_l2_big_nobias', 'GRU', dict(input_size=16, hidden_size=56, num_layers=2, bias=False), T=3, N=1, state=True)


if __name__ == '__main__':
    main()
