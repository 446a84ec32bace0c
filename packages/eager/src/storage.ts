import { cancelReleaseOnCollect, releaseOnCollect, releaseValue, type Value } from "@dualgrad/core";

/**
 * The memory behind one or more tensors. Reference-counted: each live tensor handle that views
 * it and each autograd node that saved it holds one reference; the buffer goes back to core's
 * allocator the moment the count reaches zero. The version counter is shared by every tensor on
 * this storage, so an in-place change is seen by the nodes that saved it.
 *
 * Handles that are dropped without `dispose()` never bring the count to zero; for them the
 * storage is registered with core's garbage-collection backstop ({@link Storage.guard}), which
 * frees the buffer once nothing (no handle, no autograd node) can reach the storage any more.
 * Only storages that can outlive every deterministic release are registered: one made inside a
 * `tidy` and freed at its end (the hot path of a training step) never pays for registration.
 * Autograd nodes collected this way never give back the references they held, so a storage
 * they reached (a parameter used in a forward pass that was dropped before backward) is freed
 * by the collector too, once its handles are gone, rather than at its `dispose()`.
 */
export class Storage {
  refs = 1;
  version = 0;
  private guarded = false;
  constructor(readonly value: Value) {}

  /**
   * Puts the buffer under the garbage-collection backstop (once; nothing if already freed).
   * Called where the storage may escape deterministic release: a tensor made outside any
   * `tidy`, one kept or returned out of the outermost scope, or one a scope disposed while an
   * autograd node (or another handle) still holds its storage.
   */
  guard(): void {
    if (this.guarded || this.refs <= 0) return;
    this.guarded = true;
    releaseOnCollect(this, this.value.buffer);
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
      if (this.guarded) cancelReleaseOnCollect(this);
      releaseValue(this.value);
    }
  }
}
