/**
 * Errors raised by dualgrad. Every message names the op (or API) and the offending
 * shapes, dtypes or values, so the user can find the call without a debugger.
 */
export class DualgradError extends Error {
  override name = "DualgradError";
}

/** Shapes, dtypes or attributes that do not fit an op, raised by abstract evaluation. */
export class ShapeError extends DualgradError {
  override name = "ShapeError";
  /** The op whose inputs did not fit. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.op = op;
  }
}

/** A file that is not what it claims to be (safetensors and other readers). */
export class FormatError extends DualgradError {
  override name = "FormatError";
}
