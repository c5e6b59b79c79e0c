import { nodeError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import type { OpDef } from './op.js';
import { ONNX_MAX_OPSET, ONNX_VERSIONS } from './onnx-versions.js';
import * as attention from './attention.js';
import * as bits from './bits.js';
import * as scan8 from './scan8.js';
import * as deform from './deform-conv.js';
import * as misc18 from './misc18.js';
import * as cum from './cumulative.js';
import * as gridSample from './grid-sample.js';
import * as nd from './nd.js';
import * as resize18 from './resize18.js';
import * as stateful from './stateful.js';
import * as strings from './strings.js';
import * as tr from './transformer.js';
import { viaFloat32 } from './float-io.js';
import * as cast from './cast.js';
import * as conv from './conv.js';
import * as ew from './elementwise.js';
import * as mm from './matmul.js';
import * as red from './reduce.js';
import * as gen from './generators.js';
import * as idx from './indexing.js';
import * as norm from './norm.js';
import * as pool from './pool.js';
import * as loss from './loss.js';
import * as control from './control.js';
import * as seq from './sequence.js';
import * as quant from './quant.js';
import * as resize from './resize.js';
import * as signal from './signal.js';
import * as einsum from './einsum.js';
import * as algebra from './algebra.js';
import * as detection from './detection.js';
import * as text from './text.js';
import * as shape from './shape.js';
import * as un from './unary.js';
import * as rec from './rec/ops.js';
import * as stack from './rec/stack.js';
import * as cell from './rec/cell.js';

/**
 * One row: ONNX op name verbatim, domain ('' = ai.onnx), the opsets it covers, the module.
 * For ai.onnx, `since`..`last` are the ONNX versions of the op the module implements (each one in
 * ONNX_VERSIONS); the row covers opsets `since` up to the opset before ONNX's next version of the
 * op (or ONNX_MAX_OPSET), so an op that never changed runs at every opset and one that changed is
 * refused at the opsets of the version rnnx does not implement.
 */
export interface OpRow {
  readonly opType: string;
  readonly domain: string;
  readonly since: number;
  readonly until: number;
  readonly def: OpDef<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The opsets up to which every row was reviewed before the version table (rows default to their newest version up to it). */
const REVIEWED = 22;
/** Domain of rnnx's recurrent-stack ops. */
export const RNNX_DOMAIN = 'ai.rnnx';

function row(opType: string, def: OpDef<any>, since = 1, last?: number): OpRow { // eslint-disable-line @typescript-eslint/no-explicit-any
  const versions = Object.keys(ONNX_VERSIONS[opType] ?? {}).map(Number);
  if (!versions.includes(since)) throw new Error(`registry: ${opType}-${since} is not an ONNX version (${versions.join(', ')})`);
  const newest = last ?? Math.max(...versions.filter((v) => v >= since && v <= REVIEWED));
  if (!versions.includes(newest) || newest < since) throw new Error(`registry: ${opType}-${newest} is not an ONNX version after ${since}`);
  const next = versions.find((v) => v > newest);
  return { opType, domain: '', since, until: next === undefined ? ONNX_MAX_OPSET : next - 1, def };
}

/**
 * Ops whose kernels take float32/float64 and that run float16/bfloat16 inputs in float32, rounding
 * each result back (numpy's and onnxruntime's rule for one op). Ops not listed either handle the
 * half types themselves (shape ops move bits; Min/Max/Sum/Mean/Mod widen on their own) or refuse them.
 */
const HALF_VIA_FLOAT32 = new Set([
  'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Erf', 'Clip', 'Reciprocal', 'Floor', 'Ceil',
  'Cos', 'Sin', 'Tan', 'Acos', 'Asin', 'Atan', 'Cosh', 'Sinh', 'Acosh', 'Asinh', 'Atanh', 'Round', 'Sign', 'Softsign', 'Softplus',
  'Elu', 'Selu', 'HardSigmoid', 'ThresholdedRelu', 'Celu', 'HardSwish', 'Shrink', 'PRelu', 'IsNaN', 'IsInf',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Softmax', 'LogSoftmax', 'Hardmax',
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp',
  'ArgMax', 'ArgMin', 'GlobalAveragePool', 'GlobalMaxPool', 'MaxPool', 'AveragePool', 'LayerNormalization', 'BatchNormalization',
  'InstanceNormalization', 'MeanVarianceNormalization', 'LRN', 'Range', 'CumSum', 'CumProd', 'Einsum', 'Resize', 'GridSample',
]);
function withHalfTypes(rows: OpRow[]): OpRow[] {
  return rows.map((r) => (r.domain === '' && HALF_VIA_FLOAT32.has(r.opType) ? { ...r, def: viaFloat32(r.def) } : r));
}

/** The explicit table: every op rnnx runs, nothing registered by side effect. */
export const OPS: readonly OpRow[] = withHalfTypes([
  row('Abs', un.Abs), row('Neg', un.Neg), row('Exp', un.Exp), row('Log', un.Log), row('Sqrt', un.Sqrt),
  row('Relu', un.Relu), row('LeakyRelu', un.LeakyRelu), row('Sigmoid', un.Sigmoid), row('Tanh', un.Tanh),
  row('Erf', un.Erf, 9), row('Not', un.Not), row('Clip', un.Clip), row('Reciprocal', un.Reciprocal),
  row('Floor', un.Floor), row('Ceil', un.Ceil), row('Cos', un.Cos, 7), row('Sin', un.Sin, 7), row('Sign', un.Sign, 9),
  row('Softsign', un.Softsign), row('Softplus', un.Softplus), row('Elu', un.Elu), row('Selu', un.Selu),
  row('HardSigmoid', un.HardSigmoid), row('ThresholdedRelu', un.ThresholdedRelu, 10),
  row('Celu', un.Celu, 12, 28), row('HardSwish', un.HardSwish, 14), row('Shrink', un.Shrink, 9), row('PRelu', ew.PRelu, 7),
  row('Tan', un.Tan, 7), row('Acos', un.Acos, 7), row('Asin', un.Asin, 7), row('Atan', un.Atan, 7), row('Cosh', un.Cosh, 9),
  row('Sinh', un.Sinh, 9), row('Acosh', un.Acosh, 9), row('Asinh', un.Asinh, 9), row('Atanh', un.Atanh, 9), row('Round', un.Round, 11),
  row('IsNaN', un.IsNaN, 9), row('IsInf', un.IsInf, 10),
  row('Add', ew.Add, 7), row('Sub', ew.Sub, 7), row('Mul', ew.Mul, 7), row('Div', ew.Div, 7), row('Pow', ew.Pow, 7),
  row('Equal', ew.Equal, 7), row('Less', ew.Less, 7), row('Greater', ew.Greater, 7),
  row('LessOrEqual', ew.LessOrEqual, 12), row('GreaterOrEqual', ew.GreaterOrEqual, 12),
  row('And', ew.And, 7), row('Or', ew.Or, 7), row('Xor', ew.Xor, 7),
  row('Mod', ew.Mod, 10), row('Mean', ew.Mean, 8), row('Min', ew.Min, 8), row('Max', ew.Max, 8), row('Sum', ew.Sum, 8), row('Where', ew.Where, 9),
  row('MatMul', mm.MatMul), row('Gemm', mm.Gemm), row('Conv', conv.Conv), row('ConvTranspose', nd.ConvTranspose),
  row('Softmax', red.Softmax), row('LogSoftmax', red.LogSoftmax),
  row('ReduceMean', red.ReduceMean), row('ReduceSum', red.ReduceSum), row('ReduceMax', red.ReduceMax),
  row('ReduceMin', red.ReduceMin), row('ReduceProd', red.ReduceProd), row('ReduceL1', red.ReduceL1), row('ReduceL2', red.ReduceL2),
  row('ReduceSumSquare', red.ReduceSumSquare), row('ReduceLogSum', red.ReduceLogSum), row('ReduceLogSumExp', red.ReduceLogSumExp),
  row('ArgMax', red.ArgMax), row('ArgMin', red.ArgMin), row('TopK', red.TopK, 1, 24),
  row('GlobalAveragePool', red.GlobalAveragePool), row('GlobalMaxPool', red.GlobalMaxPool),
  row('LayerNormalization', norm.LayerNormalization, 17), row('BatchNormalization', norm.BatchNormalization, 6),
  row('MaxPool', nd.MaxPool), row('AveragePool', nd.AveragePool), row('LpPool', nd.LpPool, 11, 22), row('Pad', idx.Pad, 1, 25), row('Hardmax', idx.Hardmax),
  row('NegativeLogLikelihoodLoss', loss.NegativeLogLikelihoodLoss, 12), row('SoftmaxCrossEntropyLoss', loss.SoftmaxCrossEntropyLoss, 12),
  row('GatherElements', idx.GatherElements, 11), row('ScatterND', idx.ScatterND, 11), row('Scatter', idx.ScatterElements, 9, 9),
  row('DepthToSpace', idx.DepthToSpace), row('SpaceToDepth', idx.SpaceToDepth), row('NonZero', idx.NonZero, 9),
  row('ReverseSequence', idx.ReverseSequence, 10),
  row('InstanceNormalization', norm.InstanceNormalization, 6), row('MeanVarianceNormalization', norm.MeanVarianceNormalization, 9),
  row('LRN', norm.LRN), row('GatherND', idx.GatherND, 11), row('ScatterElements', idx.ScatterElements, 11),
  row('OneHot', idx.OneHot, 9), row('EyeLike', idx.EyeLike, 9), row('Compress', idx.Compress, 9), row('BitShift', ew.BitShift, 11), row('CumSum', idx.CumSum, 11), row('Trilu', idx.Trilu, 14),
  row('Transpose', shape.Transpose, 1, 25), row('Reshape', shape.Reshape, 1, 25), row('Flatten', shape.Flatten, 1, 25),
  row('Squeeze', shape.Squeeze, 1, 25), row('Unsqueeze', shape.Unsqueeze, 1, 25), row('Concat', shape.Concat),
  row('Split', shape.Split), row('Slice', shape.Slice), row('Gather', shape.Gather), row('Expand', shape.Expand, 8),
  row('Tile', shape.Tile, 6), row('Shape', gen.Shape, 1, 25), row('Size', gen.Size, 1, 25),
  row('ConstantOfShape', gen.ConstantOfShape, 9, 25), row('Constant', gen.Constant, 1, 25), row('Identity', gen.Identity, 1, 25),
  row('Dropout', gen.Dropout), row('Range', gen.Range, 11, 27),
  row('LSTM', rec.LSTM, 7), row('GRU', rec.GRU, 7), row('RNN', rec.RNN, 7),
  row('Resize', resize.Resize, 10, 13), row('Resize', resize18.Resize, 18, 19), row('Upsample', resize.Upsample, 7, 9), row('GridSample', resize.GridSample, 16, 16), row('GridSample', gridSample.GridSample, 20, 22), row('Einsum', einsum.Einsum, 12),
  row('Det', algebra.Det, 11), row('Unique', algebra.Unique, 11), row('NonMaxSuppression', detection.NonMaxSuppression, 10),
  row('StringNormalizer', text.StringNormalizer, 10), row('RoiAlign', detection.RoiAlign, 10), row('TfIdfVectorizer', text.TfIdfVectorizer, 9), row('MaxUnpool', pool.MaxUnpool, 9),
  row('ConvInteger', quant.ConvInteger, 10), row('QLinearConv', quant.QLinearConv, 10),
  row('MatMulInteger', einsum.MatMulInteger, 10), row('QLinearMatMul', einsum.QLinearMatMul, 10, 21),
  row('HannWindow', signal.HannWindow, 17), row('HammingWindow', signal.HammingWindow, 17), row('BlackmanWindow', signal.BlackmanWindow, 17),
  row('DFT', signal.DFT, 17, 20), row('STFT', signal.STFT, 17), row('MelWeightMatrix', signal.MelWeightMatrix, 17),
  row('QuantizeLinear', quant.QuantizeLinear, 10, 25), row('DequantizeLinear', quant.DequantizeLinear, 10, 25),
  row('DynamicQuantizeLinear', quant.DynamicQuantizeLinear, 11),
  row('SequenceEmpty', seq.SequenceEmpty, 11), row('SequenceConstruct', seq.SequenceConstruct, 11),
  row('SequenceInsert', seq.SequenceInsert, 11), row('SequenceAt', seq.SequenceAt, 11), row('SequenceErase', seq.SequenceErase, 11),
  row('SequenceLength', seq.SequenceLength, 11), row('ConcatFromSequence', seq.ConcatFromSequence, 11),
  row('SplitToSequence', seq.SplitToSequence, 11, 24), row('SequenceMap', seq.SequenceMap, 17),
  row('Optional', seq.Optional, 15), row('OptionalHasElement', seq.OptionalHasElement, 15), row('OptionalGetElement', seq.OptionalGetElement, 15),
  row('If', control.If, 1, 25), row('Loop', control.Loop, 1, 25), row('Scan', scan8.Scan8, 8, 8), row('Scan', control.Scan, 9, 25),
  row('Attention', attention.Attention, 23, 24),
  row('RMSNormalization', tr.RMSNormalization, 23, 23), row('RotaryEmbedding', tr.RotaryEmbedding, 23, 23),
  row('Gelu', tr.Gelu, 20), row('Swish', tr.Swish, 24, 24), row('SwiGLU', tr.SwiGLU, 28, 28), row('Mish', tr.Mish, 18, 22),
  row('BitwiseAnd', bits.BitwiseAnd, 18), row('BitwiseOr', bits.BitwiseOr, 18), row('BitwiseXor', bits.BitwiseXor, 18),
  row('BitwiseNot', bits.BitwiseNot, 18), row('BitCast', bits.BitCast, 26, 26), row('CumProd', cum.CumProd, 26, 26),
  row('TensorScatter', stateful.TensorScatter, 24, 24), row('CausalConvWithState', stateful.CausalConvWithState, 27, 27),
  row('LinearAttention', stateful.LinearAttention, 27, 27),
  row('LpNormalization', misc18.LpNormalization, 1, 22), row('GroupNormalization', misc18.GroupNormalization, 18, 21),
  row('CenterCropPad', misc18.CenterCropPad, 18), row('AffineGrid', misc18.AffineGrid, 20), row('Col2Im', misc18.Col2Im, 18), row('DeformConv', deform.DeformConv, 19, 22),
  row('StringConcat', strings.StringConcat, 20), row('StringSplit', strings.StringSplit, 20), row('RegexFullMatch', strings.RegexFullMatch, 20),
  row('Cast', cast.Cast, 6, 25), row('CastLike', cast.CastLike, 15, 25),
  // rnnx's own domain: whole PyTorch recurrent modules, made by the importer's fusion or the graph API.
  { opType: 'LSTM', domain: RNNX_DOMAIN, since: 1, until: 1, def: stack.LSTMStack },
  { opType: 'GRU', domain: RNNX_DOMAIN, since: 1, until: 1, def: stack.GRUStack },
  { opType: 'RNN', domain: RNNX_DOMAIN, since: 1, until: 1, def: stack.RNNStack },
  { opType: 'LSTMCell', domain: RNNX_DOMAIN, since: 1, until: 1, def: cell.LSTMCell },
  { opType: 'GRUCell', domain: RNNX_DOMAIN, since: 1, until: 1, def: cell.GRUCell },
  { opType: 'RNNCell', domain: RNNX_DOMAIN, since: 1, until: 1, def: cell.RNNCell },
]);

const byKey = new Map<string, OpRow[]>();
for (const r of OPS) {
  const k = `${r.domain}::${r.opType}`;
  byKey.set(k, [...(byKey.get(k) ?? []), r]);
}

export function lookupOp(domain: string, opType: string, opset: number): OpRow | undefined {
  return byKey.get(`${domain}::${opType}`)?.find((r) => opset >= r.since && opset <= r.until);
}

export function knownOp(domain: string, opType: string): readonly OpRow[] | undefined {
  return byKey.get(`${domain}::${opType}`);
}

/** The ONNX version of an ai.onnx op in effect at `opset` (the newest one not after it). */
export function onnxVersion(opType: string, opset: number): number | undefined {
  const versions = Object.keys(ONNX_VERSIONS[opType] ?? {}).map(Number).filter((v) => v <= opset);
  return versions.length > 0 ? Math.max(...versions) : undefined;
}

/**
 * Refuses an ai.onnx node with more inputs or outputs than its ONNX version defines: an input a
 * newer version added would otherwise be silently ignored by a module written for the older one.
 */
export function checkArity(node: Node, opset: number): void {
  if (node.domain !== '') return;
  const v = onnxVersion(node.opType, opset);
  const arity = v === undefined ? undefined : ONNX_VERSIONS[node.opType][v];
  if (!arity) return;
  const used = (names: readonly string[]) => names.reduce((n, name, i) => (name ? i + 1 : n), 0);
  const [maxIn, maxOut] = arity;
  const nIn = used(node.inputs), nOut = used(node.outputs);
  if (maxIn >= 0 && nIn > maxIn) throw nodeError(node, `${node.opType}-${v} (opset ${opset}) takes at most ${maxIn} input${maxIn === 1 ? '' : 's'}, the node has ${nIn}`);
  if (maxOut >= 0 && nOut > maxOut) throw nodeError(node, `${node.opType}-${v} (opset ${opset}) has at most ${maxOut} output${maxOut === 1 ? '' : 's'}, the node has ${nOut}`);
}
