import { afterEach } from "vitest";
import { tensor, type HostTensor } from "../src/index.js";

/** Small helpers the graph frontend's op tests share. */

const made: { dispose(): void }[] = [];
afterEach(() => made.splice(0).forEach((d) => d.dispose()));

/** Registers a compiled function or Variable for disposal after the current test. */
export function keep<T extends { dispose(): void }>(x: T): T {
  made.push(x);
  return x;
}

/** A host tensor's elements as a plain array. */
export const values = (t: HostTensor): number[] => Array.from(t.data);

/** An int32 host tensor (indices). */
export const i32 = (v: number[], shape = [v.length]): HostTensor => tensor(new Int32Array(v), shape, "int32");
