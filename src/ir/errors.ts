/** Every error rnnx throws on bad input is an RnnxError with a message a user can act on. */
export class RnnxError extends Error {
  override name = 'RnnxError';
}

/** Names the node and op in the message: `Node lstm_3 (LSTM): attribute 'clip': expected > 0, got -1`. */
export class NodeError extends RnnxError {
  constructor(
    readonly nodeName: string,
    readonly opType: string,
    detail: string,
  ) {
    super(`Node ${nodeName || '<unnamed>'} (${opType}): ${detail}`);
  }
}

export interface NodeRef {
  readonly name: string;
  readonly opType: string;
}

export function nodeError(node: NodeRef, detail: string): NodeError {
  return new NodeError(node.name, node.opType, detail);
}
