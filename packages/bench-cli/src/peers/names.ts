/**
 * The peer libraries `dualgrad bench --peers` knows how to run. A leaf module: the report types
 * name peers by these, and the peer runners import both, so the names live below either.
 */

/** PyTorch (system Python), eager and TorchScript (`torch.jit.trace`), on 1 and 2 threads. */
export const TORCH_PEERS = ["torch-eager-1t", "torch-eager-2t", "torch-jit-1t", "torch-jit-2t"] as const;

/** The peers we know how to run: TF.js on its cpu and wasm backends, jax-js with `jit`, PyTorch. */
export const PEERS = ["tfjs-cpu", "tfjs-wasm", "jax-js", ...TORCH_PEERS] as const;
/** One of `PEERS`. */
export type PeerName = (typeof PEERS)[number];
/** One of `TORCH_PEERS`. */
export type TorchPeerName = (typeof TORCH_PEERS)[number];

/** True for the PyTorch peers. */
export function isTorchPeer(name: string): name is TorchPeerName {
  return (TORCH_PEERS as readonly string[]).includes(name);
}
