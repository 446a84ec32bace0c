/**
 * Errors raised by dualgrad. Every message names the op (or API) and the offending
 * shapes, dtypes or values, so the user can find the call without a debugger.
 */
export class DualgradError extends Error {
  override name = "DualgradError";
}

/** Inputs that do not fit an op; the message starts with the op's name. */
export class OpError extends DualgradError {
  override name = "OpError";
  /** The op whose inputs did not fit. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.op = op;
  }
}

/** Shapes or attributes that do not fit an op, raised by abstract evaluation (dtypes: DTypeError). */
export class ShapeError extends OpError {
  override name = "ShapeError";
}

/** A file that is not what it claims to be (safetensors and other readers). */
export class FormatError extends DualgradError {
  override name = "FormatError";
}

/**
 * Dtypes that do not fit an op and that no promotion reconciles: a float-only op given int32, int32
 * indices expected, or matmul of float32 by float64 (which PyTorch refuses too). Raised by abstract
 * evaluation and by the frontends; the message names the op and the dtypes.
 */
export class DTypeError extends OpError {
  override name = "DTypeError";
}
