import type { Model, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

export interface ModelSummary {
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
  inputs: { name: string; type?: string; shape?: (number | string | null)[] }[];
  outputs: { name: string; type?: string; shape?: (number | string | null)[] }[];
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

/** A plain-language line for one ONNX recurrent node. */
export function describeRecurrentNode(node: Node, initializers: ReadonlyMap<string, Tensor>): string {
  const a = node.attributes;
  const get = (k: string) => a.get(k)?.value;
  const W = initializers.get(node.inputs[1] ?? '');
  const G = { LSTM: 4, GRU: 3, RNN: 1 }[node.opType as 'LSTM'] ?? 1;
  const hidden = get('hidden_size') ?? (W ? W.dims[1] / G : '?');
  const input = W ? W.dims[2] : '?';
  const parts = [`${node.opType} '${node.name}': input_size=${input}, hidden_size=${hidden}, direction=${get('direction') ?? 'forward'}`];
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
  return parts.join(', ');
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
    inputs: g.inputs.map((v) => ({ name: v.name, type: v.type, shape: v.shape ? [...v.shape] : undefined })),
    outputs: g.outputs.map((v) => ({ name: v.name, type: v.type, shape: v.shape ? [...v.shape] : undefined })),
    ops,
    nodes: g.nodes.length,
    initializers: g.initializers.size,
    initializerBytes: bytes,
    recurrent: g.nodes.filter((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType) && !n.domain).map((n) => describeRecurrentNode(n, g.initializers)),
  };
}

const fmtShape = (s?: (number | string | null)[]) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[?]');

export function formatSummary(s: ModelSummary): string {
  const lines: string[] = [];
  lines.push(`producer: ${s.producer || '(none)'}   ir_version: ${s.irVersion}   opsets: ${Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`);
  lines.push('inputs:');
  for (const v of s.inputs) lines.push(`  ${v.name}: ${v.type ?? '?'} ${fmtShape(v.shape)}`);
  lines.push('outputs:');
  for (const v of s.outputs) lines.push(`  ${v.name}: ${v.type ?? '?'} ${fmtShape(v.shape)}`);
  lines.push(`nodes: ${s.nodes}   ops: ${Object.entries(s.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  lines.push(`initializers: ${s.initializers} (${s.initializerBytes} bytes)`);
  if (s.recurrent.length) {
    lines.push('recurrent layers:');
    for (const r of s.recurrent) lines.push(`  ${r}`);
  }
  return lines.join('\n');
}
