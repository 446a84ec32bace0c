#!/usr/bin/env python3
"""Writes PyTorch reference results for the WORKLOADS.md models as safetensors files.

Run with Debian's PyTorch (apt install python3-torch): /usr/bin/python3 make-torch-refs.py OUTDIR
Each file describes a Linear/activation stack and what PyTorch computed for it (the layout the
`dualgrad check-ref` command reads):
  params.<i>.weight [out,in], params.<i>.bias      initial parameters, layer i from the input side
  input [B,in], target ([B,out] float for MSE, [B] int64 class indices for cross-entropy)
  output, loss (0-d), grad.<i>.weight|bias         forward and gradients at the initial parameters
  after1.<i>.*, after5.<i>.*                       parameters after 1 and 5 plain SGD steps (same batch)
  losses [5] (loss before each step), loss_after5
  __metadata__: hidden_activations (comma list or "none"), loss ("mse" | "softmax_cross_entropy"), lr
The safetensors container is written by hand (8-byte header length, JSON, data) so that only
torch is needed.
"""
import json
import math
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}


def workload(name, dtype, seed=1234):
    g = torch.Generator().manual_seed(seed)
    if name == "linreg":
        sizes, act, loss, lr, batch = [1, 1], None, "mse", 0.01, 64
        x = torch.rand(batch, 1, generator=g, dtype=dtype) * 2 - 1
        y = 3 * x + 2 + 0.1 * torch.randn(batch, 1, generator=g, dtype=dtype)
    elif name == "linreg-wide":
        sizes, act, loss, lr, batch = [256, 1], None, "mse", 0.01, 1024
        x = torch.rand(batch, 256, generator=g, dtype=dtype) * 2 - 1
        w = torch.randn(256, 1, generator=g, dtype=dtype)
        y = x @ w + 0.5 + 0.1 * torch.randn(batch, 1, generator=g, dtype=dtype)
    elif name == "mlp-small":
        sizes, act, loss, lr, batch = [8, 64, 64, 1], "tanh", "mse", 0.01, 32
        x = torch.rand(batch, 8, generator=g, dtype=dtype) * 2 - 1
        y = torch.sin(x.sum(dim=1, keepdim=True))
    elif name == "mlp":
        sizes, act, loss, lr, batch = [784, 256, 256, 10], "relu", "softmax_cross_entropy", 0.1, 128
        x = torch.rand(batch, 784, generator=g, dtype=dtype)
        y = torch.randint(0, 10, (batch,), generator=g)
    else:
        raise SystemExit(f"unknown workload {name}")
    layers = []
    torch.manual_seed(seed)
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]).to(dtype))
        if act and i < len(sizes) - 2:
            layers.append(ACTS[act]())
    model = torch.nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()
    out = {}
    for i, lin in enumerate(linears):
        out[f"params.{i}.weight"] = lin.weight.detach().clone()
        out[f"params.{i}.bias"] = lin.bias.detach().clone()
    out["input"] = x
    out["target"] = y
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(5):
        opt.zero_grad()
        pred = model(x)
        l = loss_fn(pred, y)
        l.backward()
        if step == 0:
            out["output"] = pred.detach().clone()
            out["loss"] = l.detach().clone()
            for i, lin in enumerate(linears):
                out[f"grad.{i}.weight"] = lin.weight.grad.detach().clone()
                out[f"grad.{i}.bias"] = lin.bias.grad.detach().clone()
        losses.append(l.item())
        opt.step()
        if step in (0, 4):
            tag = "after1" if step == 0 else "after5"
            for i, lin in enumerate(linears):
                out[f"{tag}.{i}.weight"] = lin.weight.detach().clone()
                out[f"{tag}.{i}.bias"] = lin.bias.detach().clone()
    out["losses"] = torch.tensor(losses, dtype=dtype)
    with torch.no_grad():
        out["loss_after5"] = loss_fn(model(x), y).detach().clone()
    meta = {"hidden_activations": act and ",".join([act] * (len(sizes) - 2)) or "none", "loss": loss, "lr": repr(lr),
            "workload": name, "torch_version": torch.__version__}
    return out, meta


OPTIMIZERS = {
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
    "sgd_nesterov_wd": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_dampening": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.5, dampening=0.3),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
    "adam_wd": lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
}


def optimizer_refs(path, steps=3):
    """mlp-small in float64: parameters after `steps` steps of each optimizer configuration."""
    base, meta = workload("mlp-small", torch.float64)
    out = {k: v for k, v in base.items() if k.startswith("params.") or k in ("input", "target")}
    for name, make in OPTIMIZERS.items():
        layers = []
        for i in range(3):
            lin = torch.nn.Linear(1, 1).double()
            lin.weight = torch.nn.Parameter(base[f"params.{i}.weight"].clone())
            lin.bias = torch.nn.Parameter(base[f"params.{i}.bias"].clone())
            layers += [lin] + ([torch.nn.Tanh()] if i < 2 else [])
        model = torch.nn.Sequential(*layers)
        opt = make(model.parameters())
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.MSELoss()(model(base["input"]), base["target"]).backward()
            opt.step()
        for i, lin in enumerate(m for m in model if isinstance(m, torch.nn.Linear)):
            out[f"{name}.{i}.weight"] = lin.weight.detach().clone()
            out[f"{name}.{i}.bias"] = lin.bias.detach().clone()
    meta = dict(meta, steps=str(steps), optimizers=",".join(OPTIMIZERS))
    save_safetensors(path, out, meta)
    print(path)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "."
    runs = [("linreg", torch.float64), ("linreg", torch.float32), ("mlp-small", torch.float64),
            ("mlp-small", torch.float32), ("mlp", torch.float64)]
    for name, dtype in runs:
        tensors, meta = workload(name, dtype)
        suffix = "f64" if dtype == torch.float64 else "f32"
        path = f"{outdir}/torch-{name}-{suffix}.safetensors"
        save_safetensors(path, tensors, meta)
        print(path, f"loss={tensors['loss'].item():.6g}", f"loss_after5={tensors['loss_after5'].item():.6g}")
    optimizer_refs(f"{outdir}/torch-optimizers-f64.safetensors")


if __name__ == "__main__":
    main()
