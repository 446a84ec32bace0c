/**
 * The peer libraries `dualgrad bench --peers` knows how to run. A leaf module: the report types
 * name peers by these, and the peer runners import both, so the names live below either.
 */

/** The peers we know how to run: TF.js on its cpu and wasm backends, jax-js with `jit`. */
export const PEERS = ["tfjs-cpu", "tfjs-wasm", "jax-js"] as const;
/** One of `PEERS`. */
export type PeerName = (typeof PEERS)[number];
