#!/usr/bin/python3
"""Exports PyTorch recurrent models to ONNX with PyTorch's own outputs, for rnnx's tests.

Run with Debian's torch (apt-get install -y python3-torch python3-onnx):
    /usr/bin/python3 scripts/export-fixtures.py
Writes test/fixtures/<name>/{model.onnx, meta.json, in_<k>.npy, out_<k>.npy, state_dict.npz}.
Fixed seeds: the same torch build writes the same files.
"""
import json, os, sys, zlib
from typing import List
import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


def export(name, module, inputs, input_names, output_names, opset=14, dynamic_axes=None, doc='', ctor=None):
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
    if ctor:
        meta['module'] = ctor  # how to rebuild the module: class name and constructor kwargs
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


class NoState(nn.Module):
    """Calls a recurrent module without initial states; returns (y, h_n[, c_n])."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        y, s = self.rnn(x)
        if isinstance(s, tuple):
            return y, s[0], s[1]
        return y, s


class LanguageModel(nn.Module):
    def __init__(self, vocab=50, emb=8, hidden=10, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
        self.proj = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        y, _ = self.lstm(self.embed(tokens))
        return torch.log_softmax(self.proj(y), dim=-1)


class Tagger(nn.Module):
    def __init__(self, vocab=30, emb=6, hidden=7, tags=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, bidirectional=True)
        self.out = nn.Linear(2 * hidden, tags)

    def forward(self, tokens):  # [T, N]
        y, _ = self.lstm(self.embed(tokens))
        scores = self.out(y)
        return scores, scores.argmax(dim=-1)


class GruClassifier(nn.Module):
    def __init__(self, feat=6, hidden=8, classes=3):
        super().__init__()
        self.gru = nn.GRU(feat, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        _, h = self.gru(x)
        return torch.softmax(self.head(h[-1]), dim=-1)


class ConvLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(6, 5, batch_first=True)

    def forward(self, x):  # [N, C, T]
        f = torch.relu(self.conv(x)).transpose(1, 2)
        y, (h, c) = self.lstm(f)
        return y, h


class CellLoop(nn.Module):
    """A traced Python loop over an LSTMCell / GRUCell / RNNCell."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, h):  # x [T, N, I], h [N, H]
        outs = []
        c = torch.zeros_like(h)
        for t in range(x.shape[0]):
            if isinstance(self.cell, nn.LSTMCell):
                h, c = self.cell(x[t], (h, c))
            else:
                h = self.cell(x[t], h)
            outs.append(h)
        return torch.stack(outs), h


class StepLSTMP(nn.Module):
    """LSTM with projection written step by step (the way icefall's LSTMP exports nn.LSTM(proj_size)):
    torch.onnx.export refuses proj_size, so the recurrence is spelled out with linear algebra."""

    def __init__(self, lstm):
        super().__init__()
        assert lstm.proj_size > 0 and lstm.num_layers == 1 and not lstm.bidirectional and not lstm.batch_first
        self.lstm = lstm

    def forward(self, x, h0, c0):  # x [T, N, I], h0 [1, N, P], c0 [1, N, H]
        l = self.lstm
        h, c = h0[0], c0[0]
        ys = []
        for t in range(x.shape[0]):
            gates = torch.nn.functional.linear(x[t], l.weight_ih_l0, l.bias_ih_l0) + \
                torch.nn.functional.linear(h, l.weight_hh_l0, l.bias_hh_l0)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.matmul(torch.sigmoid(o) * torch.tanh(c), l.weight_hr_l0.t())
            ys.append(h)
        return torch.stack(ys), h.unsqueeze(0), c.unsqueeze(0)


MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'torch-modules')


def write_safetensors(path, tensors):
    """The safetensors format by hand (Debian has no python3-safetensors): u64 header size, JSON, data."""
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for k in sorted(tensors):
        b = tensors[k].astype('<f4').tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(tensors[k].shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(len(h).to_bytes(8, 'little') + h + b''.join(blobs))


def save_module(name, module, hparams, with_state, T=5, N=2, doc=''):
    """A PyTorch module run by PyTorch itself (for modules torch.onnx.export refuses, like proj_size)."""
    module.eval()
    d = os.path.join(MODULES, name)
    os.makedirs(d, exist_ok=True)
    I = hparams['input_size']
    D = 2 if hparams.get('bidirectional') else 1
    L = hparams.get('num_layers', 1)
    H = hparams['hidden_size']
    S = hparams.get('proj_size', 0) or H
    x = torch.randn(N, T, I) if hparams.get('batch_first') else torch.randn(T, N, I)
    inputs = {'x': x}
    is_lstm = isinstance(module, nn.LSTM)
    if with_state:
        inputs['h0'] = torch.randn(L * D, N, S)
        if is_lstm:
            inputs['c0'] = torch.randn(L * D, N, H)
    with torch.no_grad():
        if with_state:
            y, st = module(x, (inputs['h0'], inputs['c0']) if is_lstm else inputs['h0'])
        else:
            y, st = module(x)
    outs = {'y': y, 'hn': st[0], 'cn': st[1]} if is_lstm else {'y': y, 'hn': st}
    for k, v in inputs.items():
        np.save(os.path.join(d, 'in_%s.npy' % k), v.numpy())
    for k, v in outs.items():
        np.save(os.path.join(d, 'out_%s.npy' % k), v.numpy())
    sd = {k: v.numpy() for k, v in module.state_dict().items()}
    np.savez(os.path.join(d, 'state_dict.npz'), **sd)
    write_safetensors(os.path.join(d, 'state_dict.safetensors'), sd)
    with open(os.path.join(d, 'hparams.json'), 'w') as f:
        json.dump(hparams, f, indent=1)
    with open(os.path.join(d, 'meta.json'), 'w') as f:
        json.dump({'name': name, 'class': type(module).__name__, 'doc': doc, 'inputs': list(inputs), 'outputs': list(outs),
                   'torch': torch.__version__}, f, indent=1)
    print('wrote module', name)


class ScriptedLoop(nn.Module):
    """An Elman RNN in a scripted Python loop: torch.onnx.export writes an ONNX Loop."""

    def __init__(self):
        super().__init__()
        self.ih = nn.Linear(3, 4)
        self.hh = nn.Linear(4, 4)

    def forward(self, x, h):
        acc = torch.zeros_like(h)
        for t in range(x.size(0)):
            h = torch.tanh(self.ih(x[t]) + self.hh(h))
            acc = acc + h
        return h, acc


class ScriptedListLoop(nn.Module):
    """The same RNN collecting its outputs in a Python list: exported as SequenceEmpty, a Loop with
    SequenceInsert, and ConcatFromSequence."""

    def __init__(self):
        super().__init__()
        self.ih = nn.Linear(3, 4)
        self.hh = nn.Linear(4, 4)

    def forward(self, x, h):
        outs: List[torch.Tensor] = []
        for t in range(x.size(0)):
            h = torch.tanh(self.ih(x[t]) + self.hh(h))
            outs.append(h)
        return torch.stack(outs), h


def rnn_family(kind, **kw):
    return {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn': nn.RNN}[kind](**kw)


def main():
    # The seed example: nn.LSTM(4, 5, batch_first=True), h0/c0 [1, 2, 5], input [2, 3, 4].
    torch.manual_seed(0)
    m = WithState(nn.LSTM(4, 5, batch_first=True))
    x = torch.randn(2, 3, 4)
    h0 = torch.randn(1, 2, 5)
    c0 = torch.randn(1, 2, 5)
    export('lstm_seed', m, [x, h0, c0], ['x', 'h0', 'c0'], ['y', 'hn', 'cn'],
           doc='nn.LSTM(4, 5, batch_first=True) with initial states')

    T, N, I, H = 5, 2, 3, 4
    variants = [
        ('l1', dict(num_layers=1), 14),
        ('l2', dict(num_layers=2), 14),
        ('l3_bi', dict(num_layers=3, bidirectional=True), 14),
        ('l2_bi_bf', dict(num_layers=2, bidirectional=True, batch_first=True), 13),
        ('l1_nobias', dict(num_layers=1, bias=False), 11),
        ('l2_dropout', dict(num_layers=2, dropout=0.3), 9),
        ('l1_bf', dict(num_layers=1, batch_first=True), 17),
    ]
    kinds = [('lstm', {}), ('gru', {}), ('rnn', {}), ('rnn_relu', {'nonlinearity': 'relu'})]
    for kind, extra in kinds:
        base = kind.split('_')[0]
        for tag, kw, opset in variants:
            for with_state in (False, True):
                torch.manual_seed(zlib.crc32(("%s|%s|%s" % (kind, tag, with_state)).encode()) % 1000)
                rnn = rnn_family(base, input_size=I, hidden_size=H, **kw, **extra)
                D = 2 if rnn.bidirectional else 1
                bf = rnn.batch_first
                x = torch.randn(N, T, I) if bf else torch.randn(T, N, I)
                dyn = {'x': {0: 'batch', 1: 'time'} if bf else {0: 'time', 1: 'batch'}}
                name = '%s_%s%s' % (kind, tag, '_state' if with_state else '')
                doc = 'nn.%s(%d, %d, %s)%s' % (type(rnn).__name__, I, H, ', '.join('%s=%s' % kv for kv in {**kw, **extra}.items()),
                                              ' with initial states' if with_state else '')
                outs = ['y', 'hn', 'cn'] if base == 'lstm' else ['y', 'hn']
                ctor = {'class': type(rnn).__name__, 'prefix': 'rnn',
                        'kwargs': dict(input_size=I, hidden_size=H, **kw, **extra)}
                if with_state:
                    st = [torch.randn(rnn.num_layers * D, N, H) for _ in range(2 if base == 'lstm' else 1)]
                    names = ['x', 'h0', 'c0'][:1 + len(st)]
                    for s_ in names[1:]:
                        dyn[s_] = {1: 'batch'}
                    export(name, WithState(rnn), [x] + st, names, outs, opset=opset, dynamic_axes=dyn, doc=doc, ctor=ctor)
                else:
                    export(name, NoState(rnn), [x], ['x'], outs, opset=opset, dynamic_axes=dyn, doc=doc, ctor=ctor)

    torch.manual_seed(1)
    export('lm_embed_lstm_linear', LanguageModel(), [torch.randint(0, 50, (2, 7))], ['tokens'], ['logprobs'],
           opset=14, dynamic_axes={'tokens': {0: 'batch', 1: 'time'}},
           doc='Embedding(50, 8) -> LSTM(8, 10, num_layers=2, batch_first=True) -> Linear(10, 50) -> LogSoftmax')
    torch.manual_seed(2)
    export('tagger_bilstm_argmax', Tagger(), [torch.randint(0, 30, (6, 3))], ['tokens'], ['scores', 'tags'],
           opset=13, doc='Embedding -> bidirectional LSTM -> Linear -> ArgMax')
    torch.manual_seed(3)
    export('gru_classifier', GruClassifier(), [torch.randn(3, 9, 6)], ['x'], ['probs'],
           opset=14, doc='GRU(6, 8, num_layers=2, batch_first=True) -> Linear on h_n[-1] -> Softmax')
    torch.manual_seed(4)
    export('conv1d_lstm', ConvLstm(), [torch.randn(2, 4, 8)], ['x'], ['y', 'hn'],
           opset=14, doc='Conv1d(4, 6, 3) -> ReLU -> LSTM(6, 5, batch_first=True)')
    for cell_name, cell in [('lstmcell', nn.LSTMCell(3, 4)), ('grucell', nn.GRUCell(3, 4)), ('rnncell', nn.RNNCell(3, 4))]:
        torch.manual_seed(5)
        for p_ in cell.parameters():
            nn.init.uniform_(p_, -0.5, 0.5)
        export('%s_loop' % cell_name, CellLoop(cell), [torch.randn(4, 2, 3), torch.randn(2, 4)], ['x', 'h0'], ['y', 'hn'],
               opset=14, doc='traced loop of nn.%s(3, 4) over 4 steps' % type(cell).__name__)
    torch.manual_seed(6)
    lstmp = nn.LSTM(3, 6, proj_size=4)
    export('lstmp_steps', StepLSTMP(lstmp), [torch.randn(5, 2, 3), torch.randn(1, 2, 4), torch.randn(1, 2, 6)],
           ['x', 'h0', 'c0'], ['y', 'hn', 'cn'], opset=14,
           doc='nn.LSTM(3, 6, proj_size=4) written step by step (Gemm, Split, Sigmoid, Tanh, Mul, Add, MatMul)')

    torch.manual_seed(7)
    scripted = torch.jit.script(ScriptedLoop())
    export('scripted_rnn_loop', scripted, [torch.randn(6, 2, 3), torch.randn(2, 4)], ['x', 'h0'], ['hn', 'acc'],
           opset=14, dynamic_axes={'x': {0: 'time', 1: 'batch'}, 'h0': {0: 'batch'}},
           doc='torch.jit.script loop of an Elman RNN written with Linear layers (exported as ONNX Loop)')

    torch.manual_seed(8)
    export('scripted_rnn_list_loop', torch.jit.script(ScriptedListLoop()), [torch.randn(6, 2, 3), torch.randn(2, 4)], ['x', 'h0'],
           ['y', 'hn'], opset=14, dynamic_axes={'x': {0: 'time', 1: 'batch'}, 'h0': {0: 'batch'}},
           doc='torch.jit.script RNN loop appending to a list (ONNX Loop over a sequence, ConcatFromSequence)')

    # Modules for the graph API and from-torch: nn.LSTM(proj_size) (which torch.onnx.export refuses)
    # and plain LSTM / GRU / RNN, run by PyTorch itself.
    configs = [
        ('lstmp_l1', 'LSTM', dict(input_size=3, hidden_size=6, proj_size=4)),
        ('lstmp_l2_bi', 'LSTM', dict(input_size=3, hidden_size=6, proj_size=4, num_layers=2, bidirectional=True)),
        ('lstmp_l3_bf', 'LSTM', dict(input_size=5, hidden_size=8, proj_size=3, num_layers=3, batch_first=True)),
        ('lstmp_l2_bi_bf', 'LSTM', dict(input_size=4, hidden_size=7, proj_size=5, num_layers=2, bidirectional=True, batch_first=True)),
        ('lstm_l2_bi', 'LSTM', dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True)),
        ('gru_l2_bf', 'GRU', dict(input_size=3, hidden_size=5, num_layers=2, batch_first=True)),
        ('rnn_relu_bi_nobias', 'RNN', dict(input_size=3, hidden_size=5, bidirectional=True, nonlinearity='relu', bias=False)),
    ]
    for i, (name, cls, hp) in enumerate(configs):
        for with_state in (False, True):
            torch.manual_seed(100 + 2 * i + with_state)
            save_module(name + ('_state' if with_state else ''), getattr(nn, cls)(**hp), hp, with_state,
                        doc='nn.%s(%s)' % (cls, ', '.join('%s=%r' % kv for kv in hp.items())))


if __name__ == '__main__':
    main()
