"""API fixtures from the ORIGINAL bitsandbytes (run in the reference environment):

    .venv-reference/bin/python tools/api_fixtures.py [--only NAME ...]

- public_api.json: every public name of the original's bitsandbytes, bitsandbytes.functional,
  bitsandbytes.nn, bitsandbytes.optim, bitsandbytes.utils and bitsandbytes.nn.parametrize
  (names not starting with "_", without what those modules merely import from Python,
  typing or torch), each with its kind and, for callables, its signature (parameter names,
  kinds and default reprs); for classes also the public methods they define.
- api_behaviour.safetensors: outputs of the original for the API behaviours tests/python/
  test_api_compat.py checks (partial-block 4-bit bytes, few-bit code maps and their 8-bit
  blockwise bytes, 1-D dequantize shapes, LLM.int8() matmul argument layouts, a Lion
  trajectory with weight decay, a clipped LAMB step, the state_dict of a parametrized
  3-D parameter, a dequantize_4bit of rows that are not whole blocks).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import itertools
import json
import os
import types

import torch

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures")
MODULES = (
    "bitsandbytes",
    "bitsandbytes.functional",
    "bitsandbytes.nn",
    "bitsandbytes.optim",
    "bitsandbytes.utils",
    "bitsandbytes.nn.parametrize",
)


def _signature(obj) -> str | None:
    """The signature without annotations: names, kinds (the / and * markers) and default reprs.
    tests/python/test_api_compat.py builds the same string for this package."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _own_methods(cls: type) -> dict:
    """Public methods (and properties) the class or its bitsandbytes bases define."""
    out = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("bitsandbytes"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in out:
                continue
            if isinstance(value, property):
                out[name] = {"kind": "property"}
            elif isinstance(value, (staticmethod, classmethod)):
                out[name] = {"kind": type(value).__name__, "signature": _signature(value.__func__)}
            elif inspect.isfunction(value):
                out[name] = {"kind": "method", "signature": _signature(value)}
    return out


def _entry(obj) -> dict | None:
    if isinstance(obj, types.ModuleType):
        return {"kind": "module", "module": obj.__name__} if obj.__name__.startswith("bitsandbytes") else None
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
        if not (getattr(obj, "__module__", None) or "").startswith("bitsandbytes"):
            return None  # imported from Python, typing, torch, numpy, ...
        if inspect.isclass(obj):
            return {"kind": "class", "signature": _signature(obj), "methods": _own_methods(obj)}
        return {"kind": "function", "signature": _signature(obj)}
    if type(obj).__module__ in ("typing", "typing_extensions"):
        return None  # Optional, Literal, ... imported for annotations
    return {"kind": "value", "type": type(obj).__name__}


def public_api() -> None:
    table = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        entries = {}
        for attr in sorted(dir(mod)):
            if attr.startswith("_"):
                continue
            entry = _entry(getattr(mod, attr))
            if entry is not None:
                entries[attr] = entry
        table[name] = entries
    import bitsandbytes

    path = os.path.join(FIXTURES, "public_api.json")
    with open(path, "w") as f:  # one line per name, so a diff shows which name changed
        f.write(f'{{"version": {json.dumps(bitsandbytes.__version__)}, "modules": {{\n')
        for i, (mod, entries) in enumerate(table.items()):
            f.write(f" {json.dumps(mod)}: {{\n")
            lines = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in entries.items()]
            f.write(",\n".join(lines) + "\n }" + ("," if i + 1 < len(table) else "") + "\n")
        f.write("}}\n")
    print(f"wrote {path} ({sum(len(v) for v in table.values())} names)")


def api_behaviour() -> None:
    from safetensors.torch import save_file

    import bitsandbytes as bnb
    import bitsandbytes.functional as F

    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, object] = {}
    # 4-bit bytes of inputs whose last block is partial (the x / absmax rule)
    torch.manual_seed(11)
    for i, (dtype, qt, bs, n) in enumerate(
        [
            (torch.bfloat16, "fp4", 2048, 4160),
            (torch.bfloat16, "fp4", 4096, 5000),
            (torch.float16, "fp4", 128, 1000),
            (torch.float32, "nf4", 64, 100),
            (torch.bfloat16, "nf4", 256, 1111),
        ]
    ):
        x = torch.randn(n, dtype=dtype) * 3.7
        packed, state = F.quantize_4bit(x, blocksize=bs, quant_type=qt)
        tensors[f"partial{i}.x"] = x
        tensors[f"partial{i}.packed"] = packed
        tensors[f"partial{i}.absmax"] = state.absmax
        meta[f"partial{i}"] = [qt, bs]
    # few-bit code maps and the 8-bit blockwise bytes they give (signed maps, sorted)
    values = torch.randn(2, 500)
    tensors["fewbit.values"] = values
    for bits in range(2, 9):
        ebits = -(-bits // 2)
        maps = {
            "dynamic": F.create_dynamic_map(True, bits, bits),
            "fp8": F.create_fp8_map(True, ebits, bits - ebits - 1, bits),
        }
        for name, code in maps.items():
            q, state = F.quantize_blockwise(values, code=code, blocksize=256)
            tensors[f"fewbit.{name}{bits}.code"] = code
            tensors[f"fewbit.{name}{bits}.q"] = q
            tensors[f"fewbit.{name}{bits}.absmax"] = state.absmax
    for signed, meb, tb in [(True, 0, 1), (True, 1, 1), (False, 0, 1), (True, 5, 3), (True, 8, 8)]:
        tensors[f"dynmap.{int(signed)}_{meb}_{tb}"] = F.create_dynamic_map(signed, meb, tb)
    # dequantize_4bit of 1-D states (blocksizes below 2048: the shape does not depend on the CPU)
    shapes = {}
    for n, bs in [(2, 64), (8, 64), (100, 64), (101, 64), (4096, 1024), (1, 64)]:
        packed, state = F.quantize_4bit(torch.randn(n), blocksize=bs, quant_type="nf4")
        shapes[f"{n}_{bs}"] = list(F.dequantize_4bit(packed, state).shape)
    meta["dequantize_1d_shapes"] = shapes
    # LLM.int8() matmul: B as the transposed view of state.CB, empty batches, both thresholds
    for case in itertools.product([16, 0], [0.0, 6.0], ["float16", "bfloat16", "float32"], [True, False]):
        rows, threshold, dname, has_bias = case
        dtype = getattr(torch, dname)
        key = f"int8mm.{rows}_{threshold}_{dname}_{int(has_bias)}"
        torch.manual_seed(5)
        W = torch.nn.init.xavier_uniform_(torch.empty(48, 32, dtype=dtype))
        A = torch.randn(rows, 32, dtype=dtype)
        if threshold:
            A[:, [3, 17]] = 6.0
        bias = torch.randn(48, dtype=dtype) if has_bias else None
        state = bnb.MatmulLtState()
        state.threshold = threshold
        state.has_fp16_weights = False
        state.CB, state.SCB, _ = F.int8_vectorwise_quant(W.to(torch.float16))
        A.requires_grad_(True)
        out = bnb.matmul(A, state.CB.t(), state=state, bias=bias)
        out.backward(torch.ones_like(out))
        tensors[f"{key}.A"] = A.detach()
        tensors[f"int8mm.{dname}.W"] = W  # the same weight for every case of a dtype
        if has_bias:
            tensors[f"{key}.bias"] = bias
        tensors[f"{key}.out"] = out.detach()
        tensors[f"{key}.grad_A"] = A.grad
    # optimizers: Lion's decoupled weight decay (3 steps) and one clipped LAMB step
    for name, make in (
        ("lion", lambda ps: bnb.optim.Lion(ps, lr=1e-2, weight_decay=0.5)),
        ("lamb", lambda ps: bnb.optim.LAMB(ps, lr=1e-2, max_unorm=1.0)),
    ):
        torch.manual_seed(7)
        p = torch.nn.Parameter(torch.randn(32, 40) * 0.1)
        tensors[f"{name}.p0"] = p.detach().clone()
        opt = make([p])
        for step in range(3 if name == "lion" else 1):
            p.grad = torch.randn(32, 40)
            tensors[f"{name}.grad{step}"] = p.grad.clone()
            opt.step()
        tensors[f"{name}.p_final"] = p.detach().clone()
    # nn.parametrize: the state_dict of a 3-D (MoE expert) parameter quantized in place
    from bitsandbytes.nn.parametrize import replace_parameter_4bit

    for qt, compress in (("nf4", True), ("fp4", False)):
        torch.manual_seed(9)
        module = torch.nn.Module()
        module.experts = torch.nn.Parameter(torch.randn(4, 16, 32, dtype=torch.bfloat16))
        tensors[f"parametrize.{qt}.input"] = module.experts.detach().clone()
        replace_parameter_4bit(module, "experts", compress_statistics=compress, quant_type=qt, blocksize=32)
        for key, value in module.state_dict().items():
            tensors[f"parametrize.{qt}.sd.{key}"] = value
        tensors[f"parametrize.{qt}.dequantized"] = module.experts.detach().clone()
    # the original's CPU dequantize_4bit of rows that are not whole blocks (docs/differences.md)
    torch.manual_seed(10)
    x = torch.randn(8, 32)
    packed, state = F.quantize_4bit(x, blocksize=64, quant_type="fp4")
    tensors["rows.x"] = x
    tensors["rows.dequantized"] = F.dequantize_4bit(packed, state)
    path = os.path.join(FIXTURES, "api_behaviour.safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    save_file(tensors, path, metadata={"bitsandbytes": bnb.__version__, "meta": json.dumps(meta)})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


MAKERS = {"public_api": public_api, "api_behaviour": api_behaviour}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(MAKERS), help="fixtures to (re)make; default all")
    for name in parser.parse_args().only or sorted(MAKERS):
        MAKERS[name]()


if __name__ == "__main__":
    main()
