"""4-bit quantization of any ``nn.Parameter`` through ``torch.nn.utils.parametrize``.

``replace_parameter_4bit(module, "name")`` stores the parameter as packed NF4/FP4
bytes; reading ``module.name`` dequantizes it (e.g. the 3-D expert weights of a
mixture-of-experts layer, which ``Linear4bit`` cannot hold). While the module's
forward runs, parametrize's cache is on, so the weight is dequantized once per
forward however often it is read; the cache is emptied when the outermost
forward returns (or raises), also when activation checkpointing reruns forward.

``module.state_dict()`` holds the packed bytes under the parameter's own name and
the quant state beside it (``name.absmax``, ``name.quant_map``,
``name.quant_state.bitsandbytes__nf4``, ...), as ``Linear4bit`` saves its weight.
Load it back with ``load_state_dict`` into a module that was given the same
parametrization, or with :func:`replace_parameter_4bit_prequantized`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.utils.parametrize as P
from torch import nn

from .. import functional as F


class Bnb4bitParametrization(nn.Module):
    """Dequantizes the packed 4-bit bytes of a parameter with its ``quant_state``."""

    def __init__(self, quant_state: F.QuantState):
        super().__init__()
        self.quant_state = quant_state

    @torch.no_grad()
    def forward(self, quantized_param: torch.Tensor) -> torch.Tensor:
        return F.dequantize_4bit(quantized_param, self.quant_state)


def _parameter(module: nn.Module, param_name: str) -> nn.Parameter:
    if not hasattr(module, param_name):
        raise AttributeError(f"Module does not have parameter '{param_name}'")
    param = getattr(module, param_name)
    if not isinstance(param, nn.Parameter):
        raise TypeError(f"Parameter '{param_name}' is not an instance of nn.Parameter")
    return param


def replace_parameter_4bit(
    module: nn.Module,
    param_name: str,
    compress_statistics: bool = False,
    quant_type: Literal["nf4", "fp4"] = "nf4",
    blocksize: int | None = None,
):
    """Quantize ``module.<param_name>`` (any shape, fp16/bf16/fp32) to 4 bits in place.

    The packed bytes become a frozen parameter; reading ``module.<param_name>``
    returns the dequantized tensor in the original dtype and shape.
    """
    param = _parameter(module, param_name)
    packed, quant_state = F.quantize_4bit(
        param.data, blocksize=blocksize, compress_statistics=compress_statistics, quant_type=quant_type
    )
    setattr(module, param_name, nn.Parameter(packed, requires_grad=False))
    _parametrize(module, param_name, quant_state)


def replace_parameter_4bit_prequantized(
    module: nn.Module, param_name: str, qs_dict: dict[str, Any], device: torch.device
):
    """Parametrize ``module.<param_name>``, which already holds packed 4-bit bytes (e.g. from a
    checkpoint), with the quant state ``qs_dict`` (the ``QuantState.as_dict(packed=True)`` entries)."""
    param = _parameter(module, param_name)
    quant_state = F.QuantState.from_dict(qs_dict, device=device)
    param.requires_grad_(False)
    _parametrize(module, param_name, quant_state)


def _parametrize(module: nn.Module, param_name: str, quant_state: F.QuantState) -> None:
    P.register_parametrization(module, param_name, Bnb4bitParametrization(quant_state), unsafe=True)
    module.register_state_dict_post_hook(_StateDictHook(param_name))
    module.register_load_state_dict_pre_hook(_LoadStateDictHook(param_name))
    if not getattr(module, "_bnb_parametrize_cache_hooks", False):
        module.register_forward_pre_hook(_enable_parametrization_cache)
        module.register_forward_hook(_disable_parametrization_cache, always_call=True)
        module._bnb_parametrize_cache_hooks = True


# ---------------------------------------------------------------------------
# The dequantize cache: on for the duration of the outermost forward
# ---------------------------------------------------------------------------
def _enable_parametrization_cache(module: nn.Module, inputs: tuple[Any, ...]) -> None:
    P._cache_enabled += 1


def _disable_parametrization_cache(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
    # always_call: also runs when forward raised, possibly before the pre-hook counted
    # (an earlier pre-hook raised), hence the floor at zero.
    P._cache_enabled = max(0, P._cache_enabled - 1)
    if not P._cache_enabled:
        P._cache = {}


# ---------------------------------------------------------------------------
# Checkpoints: the packed bytes under the parameter's name, the quant state beside it
# ---------------------------------------------------------------------------
class _StateDictHook:
    def __init__(self, param_name: str):
        self.param_name = param_name

    def __call__(self, module: nn.Module, state_dict: dict, prefix: str, local_metadata: Any) -> None:
        original = state_dict.pop(f"{prefix}parametrizations.{self.param_name}.original", None)
        if original is None:
            return
        state_dict[prefix + self.param_name] = original
        quant_state = module.parametrizations[self.param_name][0].quant_state
        for key, value in quant_state.as_dict(packed=True).items():
            state_dict[f"{prefix}{self.param_name}.{key}"] = value


class _LoadStateDictHook:
    """Takes the saved form (packed bytes + quant-state keys) back into the parametrization."""

    def __init__(self, param_name: str):
        self.param_name = param_name

    def __call__(self, module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        key = prefix + self.param_name
        stats = {k[len(key) + 1 :]: v for k, v in state_dict.items() if k.startswith(key + ".")}
        if key not in state_dict or not stats:
            return
        parametrization = module.parametrizations[self.param_name]
        try:
            quant_state = F.QuantState.from_dict(stats, device=parametrization.original.device)
        except (KeyError, ValueError) as err:
            error_msgs.append(f"{key}: {err}")
            return
        parametrization[0].quant_state = quant_state
        for k in stats:
            del state_dict[f"{key}.{k}"]
        state_dict[f"{prefix}parametrizations.{self.param_name}.original"] = state_dict.pop(key)
