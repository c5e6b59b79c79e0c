import type { Graph, Model, Node, ValueInfo } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { FUSED_FROM, MODULE_PATH, NAMES_FROM, NOT_FUSED, torchModulePath } from '../import/fuse.js';
import { GraphIndex } from '../import/graph-index.js';
import type { RecMode } from '../ops/rec/layer.js';
import { describeStack } from '../ops/rec/stack.js';
import { describeCell } from '../ops/rec/cell.js';
import { RNNX_DOMAIN } from '../ops/registry.js';

/** A graph input or output: a tensor (type, shape), or a sequence / optional of `type` tensors. */
export interface IoSummary {
  name: string;
  type?: string;
  shape?: (number | string | null)[];
  kind?: 'sequence' | 'optional';
  optionalOf?: 'tensor' | 'sequence';
}

function ioSummary(v: ValueInfo): IoSummary {
  if (v.kind === 'sequence') return { name: v.name, type: v.type, kind: 'sequence' };
  if (v.kind === 'optional') return { name: v.name, type: v.type, kind: 'optional', optionalOf: v.optionalOf ?? 'tensor' };
  return { name: v.name, type: v.type, shape: v.shape ? [...v.shape] : undefined };
}

export interface ModelSummary {
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
  inputs: IoSummary[];
  outputs: IoSummary[];
  ops: Record<string, number>;
  nodes: number;
  initializers: number;
  initializerBytes: number;
  recurrent: string[];
}

function bytesOf(t: Tensor): number {
  const d = t.data as { byteLength?: number; length: number };
  return d.byteLength ?? d.length;
}

/**
 * A plain-language line for one ONNX recurrent node; `constant` resolves its weights (an
 * initializer map, or a lookup that also evaluates constant expressions such as the dynamo
 * exporter's gate reorder).
 */
export function describeRecurrentNode(node: Node, constant: ReadonlyMap<string, Tensor> | ((v: string) => Tensor | undefined)): string {
  const a = node.attributes;
  const get = (k: string) => a.get(k)?.value;
  const W = typeof constant === 'function' ? constant(node.inputs[1] ?? '') : constant.get(node.inputs[1] ?? '');
  const G = { LSTM: 4, GRU: 3, RNN: 1 }[node.opType as 'LSTM'] ?? 1;
  const hidden = get('hidden_size') ?? (W ? W.dims[1] / G : '?');
  const input = W ? W.dims[2] : '?';
  const parts = [`${node.name}: ONNX ${node.opType} node, input_size=${input}, hidden_size=${hidden}, direction=${get('direction') ?? 'forward'}`];
  if (get('layout') === 1) parts.push('layout=1 (batch first)');
  if (get('activations')) parts.push(`activations=[${(get('activations') as string[]).join(', ')}]`);
  if (get('clip') !== undefined) parts.push(`clip=${get('clip')}`);
  if (get('input_forget')) parts.push('input_forget');
  if (node.opType === 'GRU') parts.push(`linear_before_reset=${get('linear_before_reset') ?? 0}`);
  if (node.opType === 'LSTM' && node.inputs[7]) parts.push('peepholes');
  if (node.inputs[3]) parts.push('bias'); else parts.push('no bias');
  if (node.inputs[4]) parts.push('sequence_lens');
  if (node.inputs[5]) parts.push('initial_h');
  if (node.inputs[6] && node.opType === 'LSTM') parts.push('initial_c');
  const path = torchModulePath(node, node.opType);
  if (path !== undefined) parts.push(`module '${path}'`);
  const why = node.metadata?.get(NOT_FUSED);
  return parts.join(', ') + (why ? `; not fused: ${why}` : '');
}

/** A recovered PyTorch module: `rnn: LSTM(input_size=7, hidden_size=9, num_layers=3, …)`. */
export function describeStackNode(n: Node): string {
  const i = (k: string, d: number) => (n.attributes.get(k)?.value as number | undefined) ?? d;
  if (n.opType.endsWith('Cell')) return `${n.name}: ${describeCell(n.opType, i('input_size', 0), i('hidden_size', 0), i('bias', 1) !== 0, n.attributes.get('nonlinearity')?.value as string | undefined)}`;
  return `${n.name}: ${describeStack({
    mode: n.opType as RecMode, inputSize: i('input_size', 0), hiddenSize: i('hidden_size', 0), numLayers: i('num_layers', 1),
    bias: i('bias', 1) !== 0, batchFirst: i('batch_first', 0) !== 0, bidirectional: i('bidirectional', 0) !== 0,
    projSize: i('proj_size', 0), nonlinearity: (n.attributes.get('nonlinearity')?.value as 'tanh' | 'relu' | undefined) ?? 'tanh',
  })}`;
}

/** Where a recovered stack came from: `recovered from nodes A, B; module path 'enc.rnn'; names from …`. */
export function describeOrigin(n: Node): string | undefined {
  const from = n.metadata?.get(FUSED_FROM);
  if (!from) return undefined;
  const parts = [`recovered from ${from.includes(', ') ? 'nodes' : 'node'} ${from}`];
  const path = n.metadata?.get(MODULE_PATH);
  if (path !== undefined) parts.push(`module path '${path}'`);
  const names = n.metadata?.get(NAMES_FROM);
  if (names) parts.push(`state_dict names from ${names}`);
  return parts.join('; ');
}

/** Recurrent layers of a graph and of its subgraphs (`If_0/then_branch: …`), fused or not. */
function recurrentLines(g: Graph, opsets: ReadonlyMap<string, number>, where: string, parent?: GraphIndex): string[] {
  const ctx = new GraphIndex(g, opsets, parent);
  return g.nodes.flatMap((n) => {
    const out: string[] = [];
    if (n.domain === RNNX_DOMAIN) {
      const origin = describeOrigin(n);
      out.push(`${where}${describeStackNode(n)}${origin ? `\n      ${origin}` : ''}`);
    } else if (!n.domain && ['LSTM', 'GRU', 'RNN'].includes(n.opType)) {
      out.push(`${where}${describeRecurrentNode(n, (v) => ctx.constant(v))}`);
    } else if (n.metadata?.get(NOT_FUSED)) {
      // a decomposed module (unrolled nn.RNN, LSTMCell/GRUCell) found only in part
      const path = ['RNN', 'LSTMCell', 'GRUCell', 'RNNCell'].map((m) => torchModulePath(n, m)).find((p) => p !== undefined);
      out.push(`${where}${n.name || n.opType} (${n.opType})${path !== undefined ? `, module '${path}'` : ''}: not fused: ${n.metadata.get(NOT_FUSED)}`);
    }
    for (const [k, a] of n.attributes) {
      const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      graphs.forEach((sg, i) => out.push(...recurrentLines(sg, opsets, `${where}${n.name || n.opType}/${k}${graphs.length > 1 ? `[${i}]` : ''}: `, ctx)));
    }
    return out;
  });
}

export function summarize(model: Model): ModelSummary {
  const g = model.graph;
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.domain ? `${n.domain}.${n.opType}` : n.opType] = (ops[n.domain ? `${n.domain}.${n.opType}` : n.opType] ?? 0) + 1;
  let bytes = 0;
  for (const t of g.initializers.values()) bytes += bytesOf(t);
  return {
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsets].map(([d, v]) => [d || 'ai.onnx', v])),
    inputs: g.inputs.map(ioSummary),
    outputs: g.outputs.map(ioSummary),
    ops,
    nodes: g.nodes.length,
    initializers: g.initializers.size,
    initializerBytes: bytes,
    recurrent: recurrentLines(g, model.opsets, ''),
  };
}

const fmtShape = (s?: (number | string | null)[]) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[?]');
/** `float32 [2, 3]`, or for non-tensor values `sequence of float32`, `optional float32 [?]`, `optional sequence of int32`. */
function fmtValue(v: IoSummary): string {
  const elem = v.type ?? '?';
  if (v.kind === 'sequence') return `sequence of ${elem}`;
  if (v.kind === 'optional') return v.optionalOf === 'sequence' ? `optional sequence of ${elem}` : `optional ${elem}`;
  return `${elem} ${fmtShape(v.shape)}`;
}

export function formatSummary(s: ModelSummary): string {
  const lines: string[] = [];
  lines.push(`producer: ${s.producer || '(none)'}   ir_version: ${s.irVersion}   opsets: ${Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`);
  lines.push('inputs:');
  for (const v of s.inputs) lines.push(`  ${v.name}: ${fmtValue(v)}`);
  lines.push('outputs:');
  for (const v of s.outputs) lines.push(`  ${v.name}: ${fmtValue(v)}`);
  lines.push(`nodes: ${s.nodes}   ops: ${Object.entries(s.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  lines.push(`initializers: ${s.initializers} (${s.initializerBytes} bytes)`);
  if (s.recurrent.length) {
    lines.push('recurrent layers:');
    for (const r of s.recurrent) lines.push(`  ${r}`);
  }
  return lines.join('\n');
}
