import type { Node } from '../ir/graph.js';

/** Time spent in one node over the profiled runs. */
export interface NodeProfile {
  /** The node's name, prefixed by the enclosing nodes' names for nodes inside subgraphs (`If_0/LSTM_3`). */
  readonly name: string;
  readonly opType: string;
  /** Total milliseconds over all runs (a node with subgraphs includes its bodies' time). */
  ms: number;
  calls: number;
  /** The input shapes of the node's first profiled call (`1x64x32, 8x64x1`; `-` for an absent input). */
  readonly shapes: string;
}

export interface OpTypeProfile {
  readonly opType: string;
  /** Milliseconds of the nodes of this type, subgraph bodies' own nodes counted under their types only. */
  ms: number;
  calls: number;
  nodes: number;
}

interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X';
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args: { opType: string; run: number; shapes: string };
}

/**
 * Per-node timings collected by the executor (session option `enableProfiling`, or
 * `startProfiling()` … `endProfiling()`), as a table and as Chrome-trace JSON.
 */
export class Profiler {
  readonly nodes = new Map<Node, NodeProfile>();
  private readonly events: TraceEvent[] = [];
  private readonly t0 = now();
  runs = 0;
  runMs = 0;
  /** Trace events kept at most (the table keeps counting past it). */
  static readonly MAX_EVENTS = 200_000;

  record(node: Node, path: string, start: number, end: number, hasBodies: boolean, inputs: readonly unknown[]): void {
    let p = this.nodes.get(node) as (NodeProfile & { bodies: boolean; tid: number }) | undefined;
    if (!p) {
      p = {
        name: path ? `${path}/${node.name || node.opType}` : node.name || node.opType, opType: node.opType, ms: 0, calls: 0,
        shapes: describeShapes(inputs), bodies: hasBodies, tid: path ? path.split('/').length + 1 : 1,
      };
      this.nodes.set(node, p);
    }
    p.ms += end - start;
    p.calls++;
    if (this.events.length < Profiler.MAX_EVENTS) {
      this.events.push({
        name: p.name, cat: node.opType, ph: 'X', ts: Math.round((start - this.t0) * 1000), dur: Math.max(0, Math.round((end - start) * 1000)),
        pid: 1, tid: p.tid, args: { opType: node.opType, run: this.runs, shapes: p.shapes },
      });
    }
  }

  endRun(ms: number): void {
    this.runs++;
    this.runMs += ms;
  }

  result(): ProfileResult {
    const nodes = [...this.nodes.values()].map((n) => { const { tid: _tid, ...rest } = n as NodeProfile & { tid?: number }; return rest; }).sort((a, b) => b.ms - a.ms);
    const byType = new Map<string, OpTypeProfile>();
    for (const [, n] of this.nodes) {
      // A node that ran bodies (If/Loop/Scan) counts only its own overhead under its type.
      const own = (n as NodeProfile & { bodies?: boolean }).bodies ? 0 : n.ms;
      const t = byType.get(n.opType) ?? { opType: n.opType, ms: 0, calls: 0, nodes: 0 };
      t.ms += own;
      t.calls += n.calls;
      t.nodes++;
      byType.set(n.opType, t);
    }
    const ops = [...byType.values()].sort((a, b) => b.ms - a.ms);
    return new ProfileResult(this.runs, this.runMs, nodes, ops, this.events.slice());
  }
}

export class ProfileResult {
  constructor(
    readonly runs: number,
    /** Wall time of the profiled runs, milliseconds. */
    readonly totalMs: number,
    readonly nodes: readonly NodeProfile[],
    readonly ops: readonly OpTypeProfile[],
    private readonly events: readonly TraceEvent[],
  ) {}

  /** Chrome-trace JSON (chrome://tracing, Perfetto): one complete event per node call. */
  chromeTrace(): string {
    return JSON.stringify({ traceEvents: this.events, displayTimeUnit: 'ms' });
  }

  /** A text table: per op type, then the `top` slowest nodes, times per run. */
  table(top = 20): string {
    const runs = Math.max(1, this.runs);
    const perRun = this.totalMs / runs;
    const pct = (ms: number) => (this.totalMs > 0 ? `${((100 * ms) / this.totalMs).toFixed(1)}%` : '-');
    const fmt = (ms: number) => (ms / runs).toFixed(4);
    const lines: string[] = [];
    lines.push(`${this.runs} run${this.runs === 1 ? '' : 's'}, ${perRun.toFixed(4)} ms per run`);
    lines.push('');
    const inOps = this.ops.reduce((s, o) => s + o.ms, 0);
    lines.push(pad(['op type', 'ms/run', 'share', 'nodes', 'calls/run'], [28, 10, 7, 6, 9]));
    for (const o of this.ops) lines.push(pad([o.opType, fmt(o.ms), pct(o.ms), String(o.nodes), (o.calls / runs).toFixed(1)], [28, 10, 7, 6, 9]));
    lines.push(pad(['(between nodes)', fmt(Math.max(0, this.totalMs - inOps)), pct(Math.max(0, this.totalMs - inOps)), '', ''], [28, 10, 7, 6, 9]));
    lines.push('');
    lines.push(pad(['node', 'op type', 'ms/run', 'share', 'calls/run', '  input shapes'], [44, 20, 10, 7, 9, 0]));
    for (const n of this.nodes.slice(0, top)) lines.push(pad([n.name, n.opType, fmt(n.ms), pct(n.ms), (n.calls / runs).toFixed(1), `  ${n.shapes}`], [44, 20, 10, 7, 9, 0]));
    if (this.nodes.length > top) lines.push(`… ${this.nodes.length - top} more nodes`);
    return lines.join('\n');
  }
}

/** `1x64x32, 8x64x1`: the dims of each tensor input (`-` absent, `?` not a tensor, `scalar`). */
function describeShapes(inputs: readonly unknown[]): string {
  return inputs.map((v) => {
    if (v === undefined) return '-';
    const dims = (v as { dims?: unknown }).dims;
    if (!Array.isArray(dims)) return '?';
    return dims.length === 0 ? 'scalar' : dims.join('x');
  }).join(', ');
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => {
    const w = widths[i];
    if (w === 0) return c; // the last, free-width column
    // Long names keep their end (a subgraph node's own name), the enclosing path is shortened.
    const s = c.length > w ? `…${c.slice(c.length - w + 1)}` : c;
    return i === 0 ? s.padEnd(w) : s.padStart(w);
  }).join(' ').trimEnd();
}

export function now(): number {
  return globalThis.performance ? globalThis.performance.now() : Date.now();
}
