"""The optimizer classes of one algorithm, generated from one constructor.

The original has a class per (algorithm, state bits, paging) with hand-written
signatures that differ irregularly: some variants drop `optim_bits` or `is_paged`,
Adagrad8bit defaults `optim_bits` to 8, the 8-bit classes reject a non-default
`amsgrad` / `optim_bits` / `max_unorm` that they take for compatibility only. Each
algorithm here writes its constructor once, with the full signature of its main class,
and lists its variants as data (`Variant`); `define` builds the classes, each with its
own `__init__` signature (what `inspect.signature` shows and tests/fixtures records).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


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


@dataclass(frozen=True)
class Variant:
    """One class of an algorithm, as it differs from the constructor's signature."""

    bits: int | None = None  # fixed state bits; None: the optim_bits argument
    paged: bool | None = None  # fixed paging; None: the is_paged argument
    drop: tuple[str, ...] = ()  # parameters the class does not take (they keep the constructor's default)
    defaults: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))  # other defaults
    check: tuple[str, ...] = ()  # of amsgrad / optim_bits / max_unorm: must stay at their default
    base: str | None = None  # base class: a variant defined before it (default: the state class)


def _init(name: str, construct: Callable, v: Variant) -> Callable:
    full = list(inspect.signature(construct).parameters.values())
    own = [p.replace(default=v.defaults.get(p.name, p.default)) for p in full if p.name not in v.drop]
    signature = inspect.Signature(own)
    defaults = {p.name: p.default for p in full if p.default is not inspect.Parameter.empty}

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:  # named as Python names a wrong call of a written-out __init__
            raise TypeError(f"{name}.__init__() {err}") from None
        bound.apply_defaults()
        kw = {**defaults, **bound.arguments}
        del kw["self"]
        if v.check:
            bits = v.defaults.get("optim_bits", defaults["optim_bits"])
            check_8bit_variant(
                name,
                kw.get("amsgrad", False),
                kw["optim_bits"] if "optim_bits" in v.check else bits,
                default_bits=bits,
                max_unorm=kw["max_unorm"] if "max_unorm" in v.check else 1.0,
            )
        if v.bits is not None:
            kw["optim_bits"] = v.bits
        if v.paged is not None:
            kw["is_paged"] = v.paged
        construct(self, **kw)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{name}.__init__"
    return __init__


def define(module: str, state_cls: type, construct: Callable, variants: Mapping[str, Variant]) -> list[type]:
    """The classes `variants` names, in order, for the constructor `construct(self, params, ...)`,
    which initialises `state_cls` with the full set of arguments."""
    made: dict[str, type] = {}
    for name, v in variants.items():
        base = made[v.base] if v.base else state_cls
        made[name] = type(name, (base,), {"__init__": _init(name, construct, v), "__module__": module})
    return list(made.values())
