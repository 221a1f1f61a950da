"""Optimizer fixtures from the ORIGINAL bitsandbytes (used by tools/make_fixtures.py):

- optim_signatures.json: every exported optimizer class, its constructor
  parameters with defaults, and its base-class names;
- optim_adamw8bit_resume.pt: a tiny model trained 4 steps with AdamW8bit, the
  optimizer state_dict saved at that point (the original's nesting), the data of
  4 more steps and the weights the original reaches after them.
"""

from __future__ import annotations

import copy
import inspect
import json
import os

import torch

RESUME_STEPS = 4


def _classes(optim) -> dict[str, type]:
    out = {}
    for name in sorted(dir(optim)):
        obj = getattr(optim, name)
        if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer):
            out[name] = obj
    return out


def optim_signatures(fixtures: str) -> None:
    import bitsandbytes.optim as optim

    table = {}
    for name, cls in _classes(optim).items():
        params = []
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            default = None if p.default is inspect.Parameter.empty else repr(p.default)
            params.append([p.name, default])
        table[name] = {"params": params, "bases": [b.__name__ for b in cls.__mro__[1:]]}
    path = os.path.join(fixtures, "optim_signatures.json")
    with open(path, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
    print(f"wrote {path} ({len(table)} classes)")


def _model() -> torch.nn.Module:
    torch.manual_seed(1234)
    return torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Tanh(), torch.nn.Linear(96, 8))


def _data(steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(99)
    return [(torch.randn(16, 64, generator=gen), torch.randn(16, 8, generator=gen)) for _ in range(steps)]


def _train(model, opt, batches) -> None:
    for x, y in batches:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def optim_adamw8bit_resume(fixtures: str) -> None:
    import bitsandbytes as bnb

    model = _model()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    data = _data(2 * RESUME_STEPS)
    opt = bnb.optim.AdamW8bit(model.parameters(), lr=1e-2, weight_decay=0.1)
    _train(model, opt, data[:RESUME_STEPS])
    mid = {k: v.clone() for k, v in model.state_dict().items()}
    saved = copy.deepcopy(opt.state_dict())  # state_dict() returns the live state tensors
    _train(model, opt, data[RESUME_STEPS:])
    blob = {
        "version": bnb.__version__,
        "init_weights": init,
        "mid_weights": mid,
        "optimizer": saved,
        "data": data,
        "final_weights": {k: v.clone() for k, v in model.state_dict().items()},
        "kwargs": {"lr": 1e-2, "weight_decay": 0.1},
    }
    path = os.path.join(fixtures, "optim_adamw8bit_resume.pt")
    torch.save(blob, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
