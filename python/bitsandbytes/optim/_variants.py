"""Checks shared by the fixed-bit (8bit / 32bit) optimizer classes."""

from __future__ import annotations


def check_8bit_variant(cls_name: str, amsgrad: bool = False, optim_bits: int = 32) -> None:
    """The 8bit classes take amsgrad and optim_bits for signature compatibility only."""
    if amsgrad:
        raise ValueError(f"{cls_name} does not support amsgrad=True")
    if optim_bits != 32:
        raise ValueError(
            f"{cls_name} only supports optim_bits=32 (the default, kept for compatibility); it always uses 8-bit states"
        )
