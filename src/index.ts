export { Tensor, type DataType, type TensorData } from './ir/tensor.js';
export { RnnxError, NodeError } from './ir/errors.js';
export type { Graph, Model, Node, ValueInfo, Attribute, Dim } from './ir/graph.js';
export { validateGraph } from './ir/graph.js';
export { loadModel, decodeModel } from './import/model.js';
export { InferenceSession, ExecutionPlan, type Feeds } from './runtime/session.js';
export { OPS, lookupOp } from './ops/registry.js';
