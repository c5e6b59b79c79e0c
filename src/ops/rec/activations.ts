import { sigmoid } from '../math.js';

/** A recurrent activation with its alpha/beta resolved. */
export interface Activation {
  readonly name: string;
  readonly alpha?: number;
  readonly beta?: number;
}

interface ActivationSpec {
  /** Canonical spelling. */
  readonly name: string;
  readonly alpha?: number;
  readonly beta?: number;
  readonly make: (alpha: number, beta: number) => (x: number) => number;
}

/**
 * The 11 activation functions of the ONNX recurrent ops. Defaults for a missing alpha/beta follow
 * onnxruntime (LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1.0, every other parameter 0), so models
 * agree with it; note ThresholdedRelu and Affine then differ from their standalone ops' 1.0.
 */
const SPECS: readonly ActivationSpec[] = [
  { name: 'Relu', make: () => (x) => (x > 0 || x !== x ? x : 0) }, // NaN stays NaN, as max(0, NaN)
  { name: 'Tanh', make: () => Math.tanh },
  { name: 'Sigmoid', make: () => sigmoid },
  { name: 'Affine', alpha: 0, beta: 0, make: (a, b) => (x) => a * x + b },
  { name: 'LeakyRelu', alpha: 0.01, make: (a) => (x) => (x >= 0 ? x : a * x) },
  { name: 'ThresholdedRelu', alpha: 0, make: (a) => (x) => (x > a ? x : 0) },
  { name: 'ScaledTanh', alpha: 0, beta: 0, make: (a, b) => (x) => a * Math.tanh(b * x) },
  { name: 'HardSigmoid', alpha: 0.2, beta: 0.5, make: (a, b) => (x) => Math.min(Math.max(a * x + b, 0), 1) },
  { name: 'Elu', alpha: 1, make: (a) => (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)) },
  { name: 'Softsign', make: () => (x) => x / (1 + Math.abs(x)) },
  { name: 'Softplus', make: () => (x) => (x > 30 ? x : Math.log1p(Math.exp(x))) },
];

const BY_NAME = new Map(SPECS.map((s) => [s.name.toLowerCase(), s]));

export const ACTIVATION_NAMES: readonly string[] = SPECS.map((s) => s.name);

export function findActivation(name: string): ActivationSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/**
 * Resolves names plus the flat alpha/beta lists: each list is consumed in order by the
 * activations that take that parameter; a missing value takes the op's default.
 */
export function resolveActivations(
  names: readonly string[], alphas: readonly number[], betas: readonly number[],
  onError: (detail: string) => Error,
): Activation[] {
  let ai = 0, bi = 0;
  const out = names.map((n) => {
    const spec = findActivation(n);
    if (!spec) throw onError(`unknown activation '${n}' (expected one of ${ACTIVATION_NAMES.join(', ')})`);
    const act: { name: string; alpha?: number; beta?: number } = { name: spec.name };
    if (spec.alpha !== undefined) act.alpha = ai < alphas.length ? alphas[ai++] : spec.alpha;
    if (spec.beta !== undefined) act.beta = bi < betas.length ? betas[bi++] : spec.beta;
    return act;
  });
  if (ai < alphas.length) throw onError(`activation_alpha has ${alphas.length} values but the activations [${names}] take ${ai}`);
  if (bi < betas.length) throw onError(`activation_beta has ${betas.length} values but the activations [${names}] take ${bi}`);
  return out;
}

export function activationFn(a: Activation): (x: number) => number {
  const spec = findActivation(a.name)!;
  return spec.make(a.alpha ?? spec.alpha ?? 0, a.beta ?? spec.beta ?? 0);
}
