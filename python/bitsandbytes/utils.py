"""Small helpers shared by the package (and part of the original public API)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import torch

LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING = {"row": 0, "col32": 1, "col_turing": 2, "col_ampere": 3}
INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING = {v: k for k, v in LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING.items()}


def pack_dict_to_tensor(source_dict: dict) -> torch.Tensor:
    """Serialize a dict of JSON values as a 1-D uint8 tensor of UTF-8 JSON (checkpoint format)."""
    data = json.dumps(source_dict).encode("utf-8")
    return torch.tensor(list(data), dtype=torch.uint8)


def unpack_tensor_to_dict(tensor_data: torch.Tensor) -> dict:
    """Inverse of :func:`pack_dict_to_tensor`; raises ValueError on a corrupted tensor."""
    if not isinstance(tensor_data, torch.Tensor) or tensor_data.dtype != torch.uint8 or tensor_data.dim() != 1:
        raise ValueError(
            "bitsandbytes: a packed quant_state must be a 1-D uint8 tensor of UTF-8 JSON, got "
            f"{getattr(tensor_data, 'dtype', type(tensor_data))} with shape {tuple(getattr(tensor_data, 'shape', ()))}"
        )
    raw = bytes(tensor_data.cpu().tolist())
    try:
        result = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"bitsandbytes: corrupted packed quant_state (not UTF-8 JSON): {err}") from err
    if not isinstance(result, dict):
        raise ValueError(
            f"bitsandbytes: corrupted packed quant_state: expected a JSON object, got {type(result).__name__}"
        )
    return result


def replace_linear(
    model: torch.nn.Module,
    linear_replacement: Callable[..., torch.nn.Module],
    skip_modules: Sequence[str] = ("lm_head",),
    copy_weights: bool = False,
    post_processing_function: str | None = None,
) -> torch.nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (recursively) by ``linear_replacement(in, out, bias)``.

    ``skip_modules`` names child modules to leave alone. With ``copy_weights`` the
    old weight and bias are carried over; ``post_processing_function`` names a
    method of the new module to call afterwards.
    """
    for name, module in model.named_children():
        if len(list(module.children())) > 0:
            replace_linear(module, linear_replacement, skip_modules, copy_weights, post_processing_function)
        if isinstance(module, torch.nn.Linear) and name not in skip_modules:
            old = module
            new = linear_replacement(old.in_features, old.out_features, old.bias is not None)
            if copy_weights:
                new.weight = old.weight
                new.bias = old.bias
            setattr(model, name, new)
            if post_processing_function is not None:
                # As in the original: the named method is looked up on the replaced module.
                func = getattr(old, post_processing_function, None)
                if func is not None:
                    func(old)
    return model


def sync_gpu(t: torch.Tensor) -> None:
    """Wait for the device of ``t`` (no-op on the CPU)."""
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    elif t.device.type == "xpu":
        torch.xpu.synchronize(t.device)
