import { DualgradError, formatShape, type Attrs, type Prim } from "@dualgrad/core";
import type { Tensor } from "./tensor.js";

const names = new Map<string, string>();
let nextSeq = 0;

/** `log_softmax` -> `LogSoftmaxBackward`, computed once per primitive. */
function backwardName(prim: Prim): string {
  let n = names.get(prim);
  if (!n) names.set(prim, (n = `${prim.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase())}Backward`));
  return n;
}

/**
 * One recorded op: the tape is the graph of these, linked through their inputs' `gradFn`s.
 * A node saves its inputs and output (holding their storages) until backward has used them,
 * and is itself reference-counted: by the live tensor whose `gradFn` it is and by the nodes
 * that consume that tensor. When nobody can reach it any more it frees what it saved, so a
 * forward pass that is never differentiated leaks nothing.
 *
 * Its own module (not autograd.ts) because ops record nodes and autograd runs ops: keeping the
 * node apart keeps the runtime imports of the package acyclic.
 */
export class Node {
  /** PyTorch-style name, e.g. `MulBackward`. */
  readonly name: string;
  /** Storage versions at record time, to catch in-place changes of saved tensors. */
  private readonly versions: number[];
  private refs = 1;
  /** True once backward has consumed (and freed) the saved tensors. */
  savedFreed = false;
  /** Creation order (PyTorch's sequence_nr): backward runs nodes from the newest down. */
  readonly seq = nextSeq++;

  constructor(
    readonly prim: Prim,
    readonly attrs: Attrs[Prim],
    readonly inputs: readonly Tensor[],
    readonly out: Tensor,
  ) {
    this.name = backwardName(prim);
    for (const t of inputs) {
      t._storage.retain();
      t.gradFn?._retain();
    }
    out._storage.retain();
    this.versions = inputs.map((t) => t._storage.version);
    this.versions.push(out._storage.version);
  }

  /** @internal */
  _retain(): void {
    this.refs++;
  }

  /**
   * @internal Drops one reference; at zero, frees the saved tensors and drops this node's
   * references to its producers, and so on down the graph. A work stack instead of recursion:
   * dropping a chain of 100k ops must not overflow the call stack. Only nodes whose count just
   * reached zero are pushed, so each is freed once.
   */
  _release(): void {
    if (--this.refs > 0) return;
    const pending: Node[] = [this];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      node.freeSaved();
      for (const t of node.inputs) {
        const producer = t.gradFn;
        if (producer && --producer.refs === 0) pending.push(producer);
      }
    }
  }

  /** Frees the saved tensors (after backward without `retainGraph`). */
  freeSaved(): void {
    if (this.savedFreed) return;
    this.savedFreed = true;
    for (const t of this.inputs) t._storage.release();
    this.out._storage.release();
  }

  /** Throws PyTorch's error if a saved tensor was changed in place after it was recorded. */
  checkVersions(): void {
    const n = this.inputs.length;
    for (let i = 0; i <= n; i++) {
      const t = i < n ? this.inputs[i] : this.out;
      if (t._storage.version !== this.versions[i]) {
        throw new DualgradError(
          `one of the variables needed for gradient computation has been modified by an inplace operation: ` +
            `[${t.dtype} ${formatShape(t.shape)}], which is ${i < this.inputs.length ? `input ${i}` : "the output"} of ${this.name}, ` +
            `is at version ${t._storage.version}; expected version ${this.versions[i]} instead. ` +
            `Hint: do the in-place update after backward(), or use the out-of-place op.`,
        );
      }
    }
  }
}
