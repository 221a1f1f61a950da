"""Code tables (quantization maps) with the original's builders and signatures.

The 4-bit tables and the dynamic map come from the native library
(``csrc/common/format.h`` is their single definition).
"""

from __future__ import annotations

import itertools

import torch

from . import cextension


def _native_table(name: str) -> list[float]:
    cextension.require_native(f"the {name} table")
    return list(getattr(cextension._C, name))


# Tables read from the native library once, as plain lists: building tensors from
# them stays traceable by torch.compile.
_DYNAMIC_MAPS: dict[tuple[bool, int, int], list[float]] = {}
if cextension.native_available():
    for _signed in (True, False):
        _DYNAMIC_MAPS[(_signed, 7, 8)] = list(cextension._C.dynamic_map(_signed, 7, 8))
    _4BIT_TABLES = {name: _native_table(f"{name.upper()}_CODE") for name in ("nf4", "fp4", "int4", "af4")}
else:  # pragma: no cover
    _4BIT_TABLES = {}


def create_dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> torch.Tensor:
    """Dynamic (log-scaled) map: per decade, evenly spaced values from 1e-(meb-1) to 1.

    The signed map has 1, 2, ..., 64 magnitudes per decade and no -1; the unsigned
    map 2, 4, ..., 128 per decade. Returns 256 sorted fp32 values (maps of fewer
    than 8 bits are padded with zeros).
    """
    key = (bool(signed), int(max_exponent_bits), int(total_bits))
    values = _DYNAMIC_MAPS.get(key)
    if values is None:
        cextension.require_native("create_dynamic_map")
        values = _DYNAMIC_MAPS.setdefault(key, list(cextension._C.dynamic_map(*key)))
    if not values:
        raise ValueError(
            f"create_dynamic_map: signed={signed}, max_exponent_bits={max_exponent_bits}, total_bits={total_bits} "
            f"do not describe exactly {2**total_bits} values"
        )
    return torch.tensor(values, dtype=torch.float32)


def create_linear_map(signed: bool = True, total_bits: int = 8, add_zero: bool = True) -> torch.Tensor:
    """Evenly spaced map over [-1, 1] (or [0, 1]) padded with zeros in the middle to 256 entries."""
    start = -1.0 if signed else 0.0
    count = 2**total_bits
    if add_zero or total_bits < 8:
        # An odd number of signed values keeps 0 exactly representable.
        count = 2**total_bits - 1 if signed else 2**total_bits
    values = torch.linspace(start, 1.0, count)
    gap = 256 - values.numel()
    if gap == 0:
        return values
    half = values.numel() // 2
    return torch.tensor(values[:half].tolist() + [0.0] * gap + values[half:].tolist())


def create_normal_map(offset: float = 0.9677083, use_extra_value: bool = True) -> torch.Tensor:
    """The NormalFloat map: quantiles of N(0, 1) normalised to [-1, 1], padded to 256 entries.

    ``create_normal_map()`` sorted has NF4's 16 values at its ends. Needs scipy.
    """
    try:
        from scipy.stats import norm
    except ImportError as err:  # pragma: no cover
        raise ImportError("create_normal_map needs scipy: pip install scipy") from err
    positives = 9 if use_extra_value else 8
    v_pos = norm.ppf(torch.linspace(offset, 0.5, positives)[:-1]).tolist()
    v_neg = (-norm.ppf(torch.linspace(offset, 0.5, 8)[:-1])).tolist()
    v_zero = [0.0] * (256 - len(v_pos) - len(v_neg))
    values = torch.tensor(v_pos + v_zero + v_neg).sort().values
    values /= values.max()
    return values


def create_fp8_map(
    signed: bool = True, exponent_bits: int = 5, precision_bits: int = 2, total_bits: int = 8
) -> torch.Tensor:
    """Every value of a small float format (sign, exponent_bits, precision_bits, with
    subnormals), normalised by its maximum and padded with zeros to 256 entries."""
    has_sign = 1 if signed else 0
    if exponent_bits + precision_bits != total_bits - has_sign:
        raise ValueError(
            f"exponent_bits + precision_bits must be {total_bits - has_sign}, got {exponent_bits} + {precision_bits}"
        )
    bias = 2 ** (exponent_bits - 1)
    values: list[float] = []
    for exponent in range(2**exponent_bits):
        for bits in itertools.product([0, 1], repeat=precision_bits):
            mantissa = (1.0 if exponent != 0 else 0.0) + sum(b * 2.0 ** -(i + 1) for i, b in enumerate(bits))
            scale = 2.0**-bias if exponent == 0 else 2.0 ** -(exponent - bias - 1)
            values.append(mantissa * scale)
            if signed:
                values.append(-mantissa * scale)
    values.sort()
    values += [0.0] * (256 - len(values))
    values.sort()
    code = torch.tensor(values)
    code /= code.max()
    return code


def get_4bit_type(typename: str, device: torch.device | str | None = None, blocksize: int = 64) -> torch.Tensor:
    """The 16 values of a 4-bit data type ("nf4", "fp4", "int4", "af4"), fp32, max |v| = 1.

    Unlike the original (which defaults to "cuda") the default device is the CPU.
    """
    if device is None:
        device = "cpu"
    if typename not in ("nf4", "fp4", "int4", "af4"):
        raise NotImplementedError(f"Typename {typename} not supported")
    if typename == "af4" and blocksize != 64:
        raise NotImplementedError("4-bit AbnormalFloats currently only support blocksize 64.")
    cextension.require_native("get_4bit_type")
    data = torch.tensor(_4BIT_TABLES[typename], dtype=torch.float32, device=device)
    # + 0.0 turns FP4's -0 (index 8) into +0: the original writes that entry as the
    # integer -0, so its checkpoints' quant_map holds +0.0 there, byte for byte.
    return data / data.abs().max() + 0.0
