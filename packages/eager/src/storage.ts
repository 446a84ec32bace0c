import { cancelReleaseOnCollect, releaseOnCollect, releaseValue, type Value } from "@dualgrad/core";

/**
 * The memory behind one or more tensors. Reference-counted: each live tensor handle that views
 * it and each autograd node that saved it holds one reference; the buffer goes back to core's
 * allocator the moment the count reaches zero. The version counter is shared by every tensor on
 * this storage, so an in-place change is seen by the nodes that saved it.
 *
 * Handles that are dropped without `dispose()` never bring the count to zero; for them the
 * storage is registered with core's garbage-collection backstop, which frees the buffer once
 * nothing (no handle, no autograd node) can reach the storage any more.
 */
export class Storage {
  refs = 1;
  version = 0;
  constructor(readonly value: Value) {
    releaseOnCollect(this, value.buffer);
  }

  /** True while the buffer is allocated. */
  get alive(): boolean {
    return this.refs > 0;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      cancelReleaseOnCollect(this);
      releaseValue(this.value);
    }
  }
}
