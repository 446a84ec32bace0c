"""PyTorch peer of `dualgrad bench --peers torch`: trains one model with the exact batch and
initial parameters dualgrad used (a safetensors file written by src/peers/torch.ts), with the
timing protocol of src/runners/timing.ts, and prints one JSON line with every step's time and
loss, so the Node side computes the same statistics it computes for every other run.

Usage: python3 torch_peer.py '<json job>'   (see TorchJob in src/peers/torch.ts)
"""
import json
import os
import re
import resource
import struct
import sys
import time

import torch


def read_safetensors(path):
    """The tensors of a safetensors file (F32 and I32 only: what torch.ts writes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    dtypes = {"F32": torch.float32, "I32": torch.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        buf = bytearray(raw[base + start : base + end])
        t = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]) if end > start else torch.empty(0, dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def blas_library():
    """The BLAS shared library actually mapped into this process (Debian's torch says only BLAS_INFO=generic)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.basename(line.split()[-1]) for line in f if re.search(r"blas|mkl_rt|libmkl", line)}
        return ", ".join(sorted(libs)) or None
    except OSError:
        return None


def main():
    job = json.loads(sys.argv[1])
    spec = job["spec"]
    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    data = read_safetensors(job["data"])

    layers = spec["layers"]
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        act = spec["hiddenActivations"][i] if i < len(layers) - 2 else None
        if act:
            mods.append(acts[act]())
    model = torch.nn.Sequential(*mods)
    # The same initial parameters as dualgrad's frontends, PyTorch names and layout.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(data["param." + name])

    x = data["x"]
    if spec["loss"] == "ce":
        y = data["y"].long()
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        y = data["y"]
        loss_fn = torch.nn.MSELoss()
    if job["mode"] == "jit":
        model = torch.jit.trace(model, x)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    # The protocol of timeSteps: warm-up, then each step timed until at least `steps` steps and
    # `minSeconds` have passed (at most `maxSteps`).
    for _ in range(job["warmup"]):
        step()
    times, losses = [], []
    start = time.perf_counter()
    while len(times) < job["maxSteps"] and (len(times) < job["steps"] or time.perf_counter() - start < job["minSeconds"]):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1000)
        losses.append(loss)

    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    print(json.dumps({
        "times": times,
        "losses": [v if v == v and abs(v) != float("inf") else None for v in losses],
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "blasInfo": blas.group(1) if blas else None,
        "blasLibrary": blas_library(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mkl": torch.backends.mkl.is_available(),
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
