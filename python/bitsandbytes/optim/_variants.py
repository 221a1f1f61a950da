"""Checks shared by the fixed-bit (8bit / 32bit) optimizer classes."""

from __future__ import annotations


def check_8bit_variant(
    cls_name: str, amsgrad: bool = False, optim_bits: int = 32, *, default_bits: int = 32, max_unorm: float = 1.0
) -> None:
    """The 8bit classes take amsgrad, optim_bits (and LAMB8bit max_unorm) for signature
    compatibility only: anything but the default is an error, as in the original."""
    if amsgrad:
        raise ValueError(f"{cls_name} does not support amsgrad=True")
    if optim_bits != default_bits:
        raise ValueError(f"{cls_name} only supports optim_bits={default_bits} (default value for compatibility)")
    if max_unorm != 1.0:
        raise ValueError(f"{cls_name} only supports max_unorm=1.0 (default value for compatibility)")
