"""Checks of what checkpoints and callers hand to the package: 4-bit quant states,
LLM.int8() row scales and weight formats, and loaded optimizer states.

One check per kind of state, used by every loader (QuantState.from_dict,
Params4bit.from_prequantized, Linear4bit / Linear8bitLt.load_state_dict,
Int8Params as Transformers builds it, Optimizer8bit.load_state_dict). Every
failure is a ValueError that names the parameter (its module path when it comes
from a checkpoint) and the field, and is raised before anything is changed.
See docs/formats.md for the checkpoint layout these checks encode.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

import torch

from ._ops import QUANT_STORAGE_DTYPES

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
BLOCKSIZES_4BIT = (32, 64, 128, 256, 512, 1024, 2048, 4096)
QUANT_TYPES = ("nf4", "fp4")


def _fail(name: str, field: str, problem: str) -> None:
    raise ValueError(f"bitsandbytes: corrupted quant_state of {name}: {field} {problem}")


def _has_values(t: torch.Tensor) -> bool:
    return t.device.type != "meta"


def _all_finite(t: torch.Tensor) -> bool:
    return not _has_values(t) or bool(torch.isfinite(t).all())


def json_int(value: Any, name: str, field: str, minimum: int | None = None) -> int:
    """An integer checkpoint entry (JSON may hold 64 or 64.0; bools and strings are rejected)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(name, field, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(name, field, f"must be >= {minimum}, got {value}")
    return value


def json_shape(value: Any, name: str) -> torch.Size:
    """A list of non-negative integer sizes."""
    if isinstance(value, (list, tuple, torch.Size)):
        try:
            return torch.Size(json_int(d, name, "shape", minimum=0) for d in value)
        except ValueError:
            pass
    _fail(name, "shape", f"must be a list of non-negative integer sizes, got {value!r}")


def json_float(value: Any, name: str, field: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(name, field, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        _fail(name, field, f"must be finite, got {value}")
    return float(value)


def json_dtype(value: Any, name: str, field: str) -> torch.dtype:
    """A dtype by its checkpoint spelling ("bfloat16")."""
    dtype = getattr(torch, value, None) if isinstance(value, str) else None
    if not isinstance(dtype, torch.dtype):
        _fail(name, field, f"{value!r} is not a torch dtype")
    return dtype


def check_mapping(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"bitsandbytes: {what} must be a dict of quant_state entries, got {type(value).__name__}")
    return value


def _check_tensor(name: str, field: str, t: Any, dtype: torch.dtype, numel: int, why: str = "") -> None:
    if not isinstance(t, torch.Tensor):
        _fail(name, field, f"must be a tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        _fail(name, field, f"must be {dtype}, got {t.dtype}")
    if t.numel() != numel:
        _fail(name, field, f"has {t.numel()} entries (shape {tuple(t.shape)}), expected {numel}{why}")


def _check_quant_map(name: str, code: Any, quant_type: str) -> None:
    from .code_maps import get_4bit_type

    if not isinstance(code, torch.Tensor) or not code.is_floating_point() or code.numel() != 16:
        _fail(name, "quant_map", f"must be the 16-entry float table of {quant_type}, got {_describe(code)}")
    if not _has_values(code):
        return
    # The original ignores quant_map and decodes with the table of quant_type, so a
    # different table would be silently ignored: accept only that table (rounded to
    # the stored dtype, in case a tool cast it).
    table = get_4bit_type(quant_type, device="cpu").to(code.dtype)
    if not torch.equal(code.detach().reshape(-1).cpu(), table):
        _fail(name, "quant_map", f"is not the {quant_type} table (quant_type and quant_map disagree: corrupted state?)")


def _describe(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return f"{t.dtype} tensor of shape {tuple(t.shape)}"
    return type(t).__name__


def check_quant_state(
    state,
    name: str = "quant_state",
    packed: torch.Tensor | None = None,
    expected_shape: tuple[int, int] | None = None,
) -> None:
    """Check a 4-bit QuantState as a checkpoint loader must: a known quant_type and
    its own quant_map, a supported blocksize, a float dtype, absmax (and nested absmax,
    offset, nested code) of the right dtype, length and finite, ``packed`` holding
    exactly the bytes of ``shape``, and ``shape == expected_shape`` (the layer's)."""
    if state.quant_type not in QUANT_TYPES:
        _fail(name, "quant_type", f"must be 'nf4' or 'fp4', got {state.quant_type!r}")
    blocksize = json_int(state.blocksize, name, "blocksize")
    if blocksize not in BLOCKSIZES_4BIT:
        _fail(name, "blocksize", f"must be a power of two from 32 to 4096, got {blocksize}")
    if state.dtype not in FLOAT_DTYPES:
        _fail(name, "dtype", f"must be float16, bfloat16 or float32, got {state.dtype}")
    shape = json_shape(state.shape, name)
    n = math.prod(shape)
    blocks = -(-n // blocksize)
    _check_quant_map(name, state.code, state.quant_type)
    why = f" (shape {tuple(shape)} in blocks of blocksize {blocksize})"
    if state.nested:
        _check_tensor(name, "absmax", state.absmax, torch.uint8, blocks, why)
        s2 = state.state2
        nested_bs = json_int(s2.blocksize, name, "nested_blocksize", minimum=1)
        _check_tensor(
            name,
            "nested_absmax",
            s2.absmax,
            torch.float32,
            -(-blocks // nested_bs),
            f" ({blocks} absmax codes in blocks of nested_blocksize {nested_bs})",
        )
        _check_tensor(name, "nested_quant_map", s2.code, torch.float32, 256)
        if s2.dtype not in FLOAT_DTYPES:
            _fail(name, "nested_dtype", f"must be float16, bfloat16 or float32, got {s2.dtype}")
        offset = state.offset
        if not isinstance(offset, torch.Tensor) or offset.numel() != 1:
            _fail(name, "nested_offset", f"must be one number, got {_describe(offset)}")
        for field, t in (("nested_absmax", s2.absmax), ("nested_quant_map", s2.code), ("nested_offset", offset)):
            if not _all_finite(t):
                _fail(name, field, "has NaN or infinite values")
    else:
        if isinstance(state.absmax, torch.Tensor) and state.absmax.dtype == torch.uint8:
            _fail(
                name,
                "absmax",
                "holds uint8 codes of a double-quantized state, but nested_absmax, nested_quant_map, "
                "nested_blocksize, nested_dtype and nested_offset are missing",
            )
        _check_tensor(name, "absmax", state.absmax, torch.float32, blocks, why)
        if not _all_finite(state.absmax):
            _fail(name, "absmax", "has NaN or infinite values")
        if _has_values(state.absmax) and bool((state.absmax < 0).any()):
            _fail(name, "absmax", "has negative values (an absmax is a largest magnitude)")
    if packed is not None:
        if packed.dtype not in QUANT_STORAGE_DTYPES:
            _fail(name, "weight", f"has dtype {packed.dtype}, not one of the quant_storage dtypes")
        nbytes = packed.numel() * packed.element_size()
        if nbytes != (n + 1) // 2:
            _fail(
                name,
                "shape",
                f"{tuple(shape)} needs {(n + 1) // 2} packed bytes, but the weight holds {nbytes} "
                f"({packed.dtype}, shape {tuple(packed.shape)})",
            )
    if expected_shape is not None and tuple(shape) != tuple(expected_shape):
        _fail(name, "shape", f"is {tuple(shape)} but the layer's weight is {tuple(expected_shape)} (out, in)")


def layer_shape(module: Any) -> tuple[int, int] | None:
    """(out_features, in_features) of a Linear-like module, else None."""
    out_f, in_f = getattr(module, "out_features", None), getattr(module, "in_features", None)
    if isinstance(out_f, int) and isinstance(in_f, int):
        return out_f, in_f
    return None


# ---- LLM.int8() ------------------------------------------------------------------
def check_scb(scb: Any, rows: int, name: str) -> torch.Tensor:
    """The row scales of an int8 weight of ``rows`` rows, as fp32. Other float dtypes are
    accepted and converted (the original copies them into its fp32 SCB)."""
    if not isinstance(scb, torch.Tensor) or not scb.is_floating_point():
        raise ValueError(
            f"Linear8bitLt: {name} must be a float32 tensor of {rows} row scales, got {_describe(scb)} (corrupted SCB?)"
        )
    if scb.numel() != rows:
        raise ValueError(
            f"Linear8bitLt: {name} has {scb.numel()} row scales (shape {tuple(scb.shape)}) but the int8 weight has "
            f"{rows} rows (corrupted SCB, or the checkpoint of a layer of another size?)"
        )
    if _has_values(scb):
        if not bool(torch.isfinite(scb).all()):
            raise ValueError(f"Linear8bitLt: {name} has NaN or infinite row scales (corrupted SCB)")
        if bool((scb < 0).any()):
            raise ValueError(f"Linear8bitLt: {name} has negative row scales (corrupted SCB)")
    return scb.to(torch.float32).reshape(rows)


def check_weight_format(fmt: Any, name: str) -> None:
    """Only row-major int8 weights (0 / 'row') exist since bitsandbytes 0.45."""
    from .utils import INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING

    if isinstance(fmt, torch.Tensor) and fmt.numel() == 1:
        fmt = fmt.item()
    if isinstance(fmt, int) and not isinstance(fmt, bool):
        fmt = INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING.get(fmt, fmt)
    if fmt != "row":
        raise ValueError(
            f"Linear8bitLt: {name} {fmt!r} is not supported; only row-major int8 weights (0 / 'row') can be loaded"
        )


def check_int8_weight(weight: torch.Tensor, expected: tuple[int, int] | None, name: str) -> None:
    if weight.dim() != 2 or (expected is not None and tuple(weight.shape) != tuple(expected)):
        want = f"the layer's {tuple(expected)} (out, in)" if expected is not None else "2-D (out, in)"
        raise ValueError(f"Linear8bitLt: {name} has shape {tuple(weight.shape)} in the checkpoint, expected {want}")


def check_int8_checkpoint(weight: torch.Tensor, scb: Any) -> torch.Tensor:
    """An int8 weight and its SCB as Int8Params receives them (Transformers' 8-bit loader
    builds ``Int8Params(weight, SCB=...)``): weight_format, the layer's shape and SCB."""
    local = transformers_deserializer_locals() or {}
    name = local.get("full_layer_name")
    module_path = name.rpartition(".")[0] + "." if isinstance(name, str) and "." in name else ""
    entries = local.get("input_dict")
    if isinstance(entries, Mapping) and entries.get("weight_format") is not None:
        fmt = entries["weight_format"]
        check_weight_format(fmt[0] if isinstance(fmt, list) else fmt, module_path + "weight_format")
    check_int8_weight(weight, layer_shape(local.get("module")), module_path + "weight")
    return check_scb(scb, weight.shape[0], module_path + "SCB")


# ---- Transformers' loader --------------------------------------------------------
def transformers_deserializer_locals(max_depth: int = 4) -> dict | None:
    """The local variables of Transformers' bitsandbytes deserializer when it is our
    caller (up to ``max_depth`` frames up), else None.

    Transformers >= 5 hands the packed weight and its statistics to
    Params4bit.from_prequantized / Int8Params without the parameter's module path
    and drops ``weight_format``; its ``convert`` holds both (``full_layer_name``,
    ``input_dict``). Nothing is read from any other caller.
    """
    frame = sys._getframe(1)
    for _ in range(max_depth):
        frame = frame.f_back
        if frame is None:
            return None
        if frame.f_globals.get("__name__") == "transformers.integrations.bitsandbytes":
            return dict(frame.f_locals) if frame.f_code.co_name == "convert" else None
    return None


def transformers_layer_name() -> str | None:
    local = transformers_deserializer_locals(max_depth=5)
    name = None if local is None else local.get("full_layer_name")
    return name if isinstance(name, str) else None


# ---- optimizer states ------------------------------------------------------------
def check_optimizer_state(
    p: torch.Tensor, st: dict, where: str, eight_bit: bool, two_states: bool, copies: int, unorm: bool
) -> None:
    """A loaded state of parameter ``p`` (``where`` names it) against the optimizer's
    config for it: a step count, 8-bit (uint8 states, fp32 absmax per 256 elements,
    256-entry maps) or 32-bit (fp32 states), one or two states, ``copies`` (2 for
    AdEMAMix) of state1, and ``unorm_vec`` when max_unorm > 0."""
    n = p.numel()

    def fail(key, problem):
        raise ValueError(f"optimizer state {key!r} of {where} {problem}")

    def tensor(key, dtype, numel):
        t = st.get(key)
        if not isinstance(t, torch.Tensor):
            fail(key, "is missing" if t is None else f"must be a tensor, got {type(t).__name__}")
        if t.dtype != dtype:
            fail(
                key,
                f"is {t.dtype} but this optimizer's {'8' if eight_bit else '32'}-bit config for the parameter "
                f"(optim_bits, min_8bit_size, overrides) needs {dtype}: the state does not fit the optimizer",
            )
        if t.numel() != numel:
            fail(
                key,
                f"has shape {tuple(t.shape)} ({t.numel()} elements) but the parameter of shape {tuple(p.shape)} "
                f"needs {numel}: the state does not belong to this parameter",
            )
        return t

    step = st.get("step")
    if isinstance(step, torch.Tensor) and step.numel() == 1:
        step = step.item()
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step >= 0:
        fail("step", "is missing" if step is None else f"must be a count >= 0, got {step!r}")
    if unorm:
        tensor("unorm_vec", torch.float32, 1)
    names = ("state1", "state2") if two_states else ("state1",)
    for i, key in enumerate(names):
        tensor(key, torch.uint8 if eight_bit else torch.float32, copies * n if i == 0 else n)
    if eight_bit:
        blocks = -(-n // 256)
        for i, _ in enumerate(names):
            absmax = tensor(f"absmax{i + 1}", torch.float32, copies * blocks if i == 0 else blocks)
            qmap = tensor(f"qmap{i + 1}", torch.float32, 256)
            for key, t in ((f"absmax{i + 1}", absmax), (f"qmap{i + 1}", qmap)):
                if not _all_finite(t):
                    fail(key, "has NaN or infinite values")


# ---- layers ----------------------------------------------------------------------
def copy_into(func: str, arg: str, buf: Any, result: torch.Tensor) -> torch.Tensor:
    """``buf.copy_(result)`` for a caller's result buffer (``out=``, ``absmax=``), once it is
    checked to be a tensor of the result's shape, dtype and device: copy_ would otherwise
    convert the values (packed bytes into floats), broadcast them, or drop them (meta)."""
    if (
        not isinstance(buf, torch.Tensor)
        or buf.shape != result.shape
        or buf.dtype != result.dtype
        or buf.device != result.device
    ):
        got = f"a {tuple(buf.shape)} {buf.dtype} tensor on {buf.device}" if isinstance(buf, torch.Tensor) else repr(buf)
        raise ValueError(
            f"{func}: {arg} must be a {tuple(result.shape)} {result.dtype} tensor on {result.device} "
            f"(the result it receives), got {got}"
        )
    return buf.copy_(result)


def check_input_features(module: Any, x: torch.Tensor) -> None:
    """The input of a Linear-like module: floating point, its last dimension in_features."""
    if not x.is_floating_point():
        raise TypeError(
            f"{type(module).__name__}(in_features={module.in_features}, out_features={module.out_features}): "
            f"the input is {x.dtype}; expected a floating-point tensor"
        )
    if x.dim() == 0 or x.shape[-1] != module.in_features:
        raise ValueError(
            f"{type(module).__name__}(in_features={module.in_features}, out_features={module.out_features}): "
            f"the input has {x.shape[-1] if x.dim() else 0} features (last dimension of shape {tuple(x.shape)}), "
            f"expected in_features={module.in_features}"
        )
