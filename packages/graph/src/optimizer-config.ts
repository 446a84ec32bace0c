import { DualgradError, composites as C } from "@dualgrad/core";

/**
 * Optimizer hyper-parameters under either library's names: PyTorch's (`lr`, `betas`, `eps`,
 * `weightDecay`, ...) or Keras's (`learningRate`, `beta1`, `beta2`, `epsilon`, ...), so code
 * ported from either reads as written. The names map to core's update rules, which follow
 * PyTorch's math: defaults stay PyTorch's (Adam's eps 1e-8, where Keras's is 1e-7), Adam adds
 * epsilon after the bias correction of sqrt(v) as PyTorch does, and SGD's momentum buffer is
 * PyTorch's (the same trajectory as Keras's for a constant learning rate, up to rounding).
 */

/** {@link SGD}'s hyper-parameters, PyTorch's or Keras's names: the learning rate (`lr` or `learningRate`) is required. */
export interface SGDConfig extends Partial<C.SgdOptions> {
  /** Keras's name of `lr`. */
  learningRate?: number;
}

/** {@link Adam}'s hyper-parameters, PyTorch's or Keras's names. */
export interface AdamConfig extends C.AdamOptions {
  /** Keras's name of `lr`. */
  learningRate?: number;
  /** Keras's name of `betas[0]`. */
  beta1?: number;
  /** Keras's name of `betas[1]`. */
  beta2?: number;
  /** Keras's name of `eps`. */
  epsilon?: number;
}

/** Rejects keys outside `valid`, so a misspelt hyper-parameter is an error rather than a silent default. */
function checkKeys(api: string, config: object, valid: readonly string[]): void {
  if (typeof config !== "object" || config === null) throw new DualgradError(`${api}: expected a config object, got ${String(config)}`);
  const unknown = Object.keys(config).filter((k) => !valid.includes(k));
  if (unknown.length > 0) throw new DualgradError(`${api}: unknown option ${unknown.map((k) => `'${k}'`).join(", ")}; valid options: ${valid.join(", ")}`);
}

/** One hyper-parameter given under two names: either, or both when they agree. */
function either(api: string, torchName: string, torch: number | undefined, kerasName: string, keras: number | undefined): number | undefined {
  if (torch !== undefined && keras !== undefined && torch !== keras) {
    throw new DualgradError(`${api}: ${torchName} ${torch} and ${kerasName} ${keras} name the same hyper-parameter with different values; give one`);
  }
  return torch ?? keras;
}

/** Core's SGD options from either naming. */
export function sgdOptions(config: SGDConfig): C.SgdOptions {
  checkKeys("SGD", config, ["lr", "learningRate", "momentum", "dampening", "nesterov", "weightDecay"]);
  const lr = either("SGD", "lr", config.lr, "learningRate", config.learningRate);
  if (lr === undefined || !(lr >= 0)) throw new DualgradError(`SGD: invalid learning rate ${String(lr)} (give lr or learningRate, >= 0)`);
  return { lr, momentum: config.momentum, dampening: config.dampening, nesterov: config.nesterov, weightDecay: config.weightDecay };
}

/** Core's Adam options from either naming. */
export function adamOptions(config: AdamConfig): C.AdamOptions {
  checkKeys("Adam", config, ["lr", "learningRate", "betas", "beta1", "beta2", "eps", "epsilon", "weightDecay"]);
  const lr = either("Adam", "lr", config.lr, "learningRate", config.learningRate);
  const defaults = C.adamConfig({}, false);
  const beta1 = either("Adam", "betas[0]", config.betas?.[0], "beta1", config.beta1) ?? defaults.beta1;
  const beta2 = either("Adam", "betas[1]", config.betas?.[1], "beta2", config.beta2) ?? defaults.beta2;
  const eps = either("Adam", "eps", config.eps, "epsilon", config.epsilon);
  return { lr, betas: [beta1, beta2], eps, weightDecay: config.weightDecay };
}
