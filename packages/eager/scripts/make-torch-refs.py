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
Convolutional files (format_version 2, written by cnn_refs) describe a torch.nn.Sequential as the
JSON list in metadata `layers` (conv2d / max_pool2d / avg_pool2d / flatten / linear / relu / tanh /
sigmoid objects); their parameters are named by module index (params.<k>.weight is the
Sequential's `<k>.weight`), input is [B,C,H,W] and metadata input_shape, model = "cnn", dtype.
Recurrent files (format_version 2, model "rnn", see the README's check-ref section) describe
torch.nn.RNN(batch_first=True, h0 = 0) then Linear on the last step's hidden state, with tensors
params.rnn.weight_ih_l0 / weight_hh_l0 / bias_ih_l0 / bias_hh_l0, params.head.weight / bias, and
the same result tensors (grad.<name>, after1.<name>, after5.<name>, ...); `make-torch-refs.py OUTDIR rnn`
writes only those.
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


def sgd_record(model, named, x, y, loss_fn, lr, dtype, out):
    """Five plain SGD steps on one batch, recording into `out` the output, loss and gradients
    (grad.<name>) at the start, the parameters after 1 and 5 steps (after1.<name>, after5.<name>),
    the loss before each step (losses) and after the last (loss_after5). `named` lists
    (name, parameter) pairs."""
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
            out.update({f"grad.{k}": p.grad.detach().clone() for k, p in named})
        losses.append(l.item())
        opt.step()
        if step in (0, 4):
            tag = "after1" if step == 0 else "after5"
            out.update({f"{tag}.{k}": p.detach().clone() for k, p in named})
    out["losses"] = torch.tensor(losses, dtype=dtype)
    with torch.no_grad():
        out["loss_after5"] = loss_fn(model(x), y).detach().clone()


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
    named = [(f"{i}.{k}", getattr(lin, k)) for i, lin in enumerate(linears) for k in ("weight", "bias")]
    sgd_record(model, named, x, y, loss_fn, lr, dtype, out)
    meta = {"hidden_activations": act and ",".join([act] * (len(sizes) - 2)) or "none", "loss": loss, "lr": repr(lr),
            "workload": name, "torch_version": torch.__version__}
    return out, meta


class RNNHead(torch.nn.Module):
    """torch.nn.RNN then Linear on the last step's hidden state (the check-ref recurrent model)."""

    def __init__(self, f, h, o, nonlinearity, cell="rnn"):
        super().__init__()
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(f, h, batch_first=True)
        else:
            self.rnn = torch.nn.RNN(f, h, nonlinearity=nonlinearity, batch_first=True)
        self.head = torch.nn.Linear(h, o)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


def rnn_workload(dtype, loss, nonlinearity, b=6, t=5, f=3, h=4, o=3, lr=0.1, seed=4321, cell="rnn"):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, t, f, generator=g, dtype=dtype) * 2 - 1
    if loss == "mse":
        y = torch.sin(x.sum(dim=(1, 2)))[:, None].repeat(1, o)
    else:
        y = torch.randint(0, o, (b,), generator=g)
    torch.manual_seed(seed)
    model = RNNHead(f, h, o, nonlinearity, cell).to(dtype)
    loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()
    named = list(model.named_parameters())
    out = {f"params.{n}": p.detach().clone() for n, p in named}
    out["input"] = x
    out["target"] = y
    sgd_record(model, named, x, y, loss_fn, lr, dtype, out)
    meta = {"format_version": "2", "model": cell, "dtype": DTYPES[dtype], "input_size": str(f), "hidden_size": str(h),
            "output_size": str(o), "seq_len": str(t), "batch": str(b), "nonlinearity": nonlinearity, "num_layers": "1",
            "batch_first": "true", "loss": "mse" if loss == "mse" else "softmax_cross_entropy", "lr": repr(lr),
            "torch_version": torch.__version__}
    return out, meta


def rnn_refs(outdir):
    runs = [(torch.float64, "mse", "tanh"), (torch.float32, "mse", "tanh"), (torch.float64, "ce", "relu"), (torch.float32, "ce", "relu")]
    for dtype, loss, nl in runs:
        tensors, meta = rnn_workload(dtype, loss, nl)
        path = f"{outdir}/torch-rnn-{loss}-{'f64' if dtype == torch.float64 else 'f32'}.safetensors"
        save_safetensors(path, tensors, meta)
        print(path, f"loss={tensors['loss'].item():.6g}", f"loss_after5={tensors['loss_after5'].item():.6g}")
    # LSTM (model "lstm", same layout with [4H, .] gate-stacked weights; the nonlinearity is unused).
    tensors, meta = rnn_workload(torch.float64, "mse", "tanh", cell="lstm")
    save_safetensors(f"{outdir}/torch-lstm-mse-f64.safetensors", tensors, meta)
    print(f"{outdir}/torch-lstm-mse-f64.safetensors", f"loss={tensors['loss'].item():.6g}")


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


def conv_module(d):
    t = d["type"]
    if t == "conv2d":
        return torch.nn.Conv2d(d["in_channels"], d["out_channels"], tuple(d["kernel_size"]), stride=tuple(d["stride"]),
                               padding=tuple(d["padding"]))
    if t == "max_pool2d":
        return torch.nn.MaxPool2d(tuple(d["kernel_size"]), stride=tuple(d["stride"]))
    if t == "avg_pool2d":
        return torch.nn.AvgPool2d(tuple(d["kernel_size"]), stride=tuple(d["stride"]))
    if t == "flatten":
        return torch.nn.Flatten()
    if t == "linear":
        return torch.nn.Linear(d["in_features"], d["out_features"])
    return ACTS[t]()


def conv(cin, cout, k, s=(1, 1), p=(0, 0)):
    return {"type": "conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": list(k), "stride": list(s), "padding": list(p)}


def pool(kind, k, s):
    return {"type": kind, "kernel_size": list(k), "stride": list(s)}


CNN_REFS = {
    # The `cnn` workload's architecture on a small batch of 28x28 images.
    "cnn": ([conv(1, 8, (3, 3), p=(1, 1)), {"type": "relu"}, pool("max_pool2d", (2, 2), (2, 2)),
             conv(8, 16, (3, 3), p=(1, 1)), {"type": "relu"}, pool("max_pool2d", (2, 2), (2, 2)),
             {"type": "flatten"}, {"type": "linear", "in_features": 784, "out_features": 10}],
            [4, 1, 28, 28], "softmax_cross_entropy", 0.05),
    # Uneven kernels, strides and padding, tanh, average pooling, cross-entropy.
    "cnn-mixed": ([conv(1, 3, (3, 3), p=(1, 1)), {"type": "relu"}, pool("max_pool2d", (2, 2), (2, 2)),
                   conv(3, 4, (2, 3), s=(1, 2), p=(1, 0)), {"type": "tanh"}, pool("avg_pool2d", (2, 1), (1, 1)),
                   {"type": "flatten"}, {"type": "linear", "in_features": 12, "out_features": 3}],
                  [2, 1, 6, 6], "softmax_cross_entropy", 0.1),
    # Two input channels, sigmoid, MSE.
    "cnn-mse": ([conv(2, 3, (3, 3), p=(1, 1)), {"type": "sigmoid"}, pool("max_pool2d", (2, 2), (2, 2)),
                 {"type": "flatten"}, {"type": "linear", "in_features": 12, "out_features": 2}],
                [3, 2, 5, 5], "mse", 0.1),
}


def cnn_refs(name, dtype, seed=4321):
    layers, input_shape, loss, lr = CNN_REFS[name]
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*[conv_module(d) for d in layers]).to(dtype)
    x = torch.rand(*input_shape, generator=g, dtype=dtype)
    outputs = model(x).shape[1]
    if loss == "mse":
        y = torch.rand(input_shape[0], outputs, generator=g, dtype=dtype)
        loss_fn = torch.nn.MSELoss()
    else:
        y = torch.randint(0, outputs, (input_shape[0],), generator=g)
        loss_fn = torch.nn.CrossEntropyLoss()
    out = {f"params.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    out["input"] = x
    out["target"] = y
    sgd_record(model, list(model.named_parameters()), x, y, loss_fn, lr, dtype, out)
    meta = {"format_version": "2", "model": "cnn", "dtype": "float64" if dtype == torch.float64 else "float32",
            "input_shape": json.dumps(input_shape), "loss": loss, "lr": repr(lr), "layers": json.dumps(layers),
            "workload": name, "torch_version": torch.__version__}
    return out, meta


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "."
    rnn_refs(outdir)
    if sys.argv[2:] == ["rnn"]:
        return
    runs = [("linreg", torch.float64), ("linreg", torch.float32), ("mlp-small", torch.float64),
            ("mlp-small", torch.float32), ("mlp", torch.float64)]
    for name, dtype in runs:
        tensors, meta = workload(name, dtype)
        suffix = "f64" if dtype == torch.float64 else "f32"
        path = f"{outdir}/torch-{name}-{suffix}.safetensors"
        save_safetensors(path, tensors, meta)
        print(path, f"loss={tensors['loss'].item():.6g}", f"loss_after5={tensors['loss_after5'].item():.6g}")
    optimizer_refs(f"{outdir}/torch-optimizers-f64.safetensors")
    for name, dtype in [("cnn", torch.float32), ("cnn-mixed", torch.float64), ("cnn-mse", torch.float64), ("cnn-mse", torch.float32)]:
        tensors, meta = cnn_refs(name, dtype)
        path = f"{outdir}/torch-{name}-{'f64' if dtype == torch.float64 else 'f32'}.safetensors"
        save_safetensors(path, tensors, meta)
        print(path, f"loss={tensors['loss'].item():.6g}", f"loss_after5={tensors['loss_after5'].item():.6g}")


if __name__ == "__main__":
    main()
