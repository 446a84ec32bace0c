/**
 * Kernels generated per shape: the sizes become constants in the code (loops unroll, offsets fold
 * into memory immediates), so each shape gets a module of its own, compiled on first use against
 * the heap's memory and cached. A training loop uses a handful of shapes; the cache is never trimmed.
 */
import { wasmApi, type FunctionBuilder, type Local } from "./emitter.js";
import { wasmMemory } from "./heap.js";

const cache = new Map<string, unknown>();

/**
 * Export `name` of the module `build()` makes, instantiated against the heap's memory once per
 * `key` (which must determine the bytes `build` returns). Needs the heap ({@link wasmMemory}).
 */
export function cachedExport(name: string, key: string, build: () => Uint8Array): unknown {
  const full = `${name} ${key}`;
  let fn = cache.get(full);
  if (!fn) {
    const api = wasmApi()!;
    fn = new api.Instance(new api.Module(build()), { env: { memory: wasmMemory()! } }).exports[name];
    cache.set(full, fn);
  }
  return fn;
}

/** Emits `for (i = from; i < to; i++) body()` over i32 locals (unsigned compare; no trips when from >= to). */
export function upTo(f: FunctionBuilder, i: Local, from: Local, to: Local, body: () => void): void {
  f.get(from).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(to).op("i32.ge_u").brIf(1);
      body();
      f.get(i).i32(1).op("i32.add").set(i);
      f.br(0);
    }),
  );
}

/** Emits `vector(4)` at byte offsets v = 0, 16, ... for the whole vectors of a row of `OW` columns, then `vector(OW % 4)` for a partial one. */
export function acrossRow(f: FunctionBuilder, v: Local, OW: number, vector: (lanes: number) => void): void {
  f.i32(0).set(v);
  const full = Math.floor(OW / 4);
  if (full > 0) {
    f.loop(() => {
      vector(4);
      f.get(v).i32(16).op("i32.add").tee(v).i32(full * 16).op("i32.lt_u").brIf(0);
    });
  }
  if (OW % 4 !== 0) vector(OW % 4);
}
