"""Loads the native library (``bitsandbytes._C`` and the op library it links).

Importing ``_C`` registers every ``bitsandbytes::`` op with torch's dispatcher.
A failed load never breaks ``import bitsandbytes``: the error is kept here,
reported by ``python -m bitsandbytes``, and raised (with a hint) by the first
call that needs a native op.
"""

from __future__ import annotations

import torch

NATIVE_LOAD_ERROR: BaseException | None = None

try:
    from . import _C  # noqa: F401  (loads libbnb_ops, registering the ops)
except (ImportError, OSError) as _err:  # pragma: no cover - exercised by the diagnostics test
    _C = None
    NATIVE_LOAD_ERROR = _err

BUILD_INFO: dict = (
    _C.build_info() if _C is not None else {"cuda": False, "hip": False, "gpu_archs": "", "gpu_toolkit": ""}
)

#: True when the library was built for ROCm (downstream test helpers import it).
HIP_ENVIRONMENT: bool = bool(BUILD_INFO.get("hip")) or getattr(torch.version, "hip", None) is not None
#: "CPU", "CUDA" or "ROCm": the GPU backend compiled in, if any.
BNB_BACKEND: str = "ROCm" if BUILD_INFO.get("hip") else ("CUDA" if BUILD_INFO.get("cuda") else "CPU")


def native_available() -> bool:
    return _C is not None


def require_native(what: str) -> None:
    """Raise a RuntimeError that carries the real loader error."""
    if _C is None:
        raise RuntimeError(
            f"bitsandbytes: {what} needs the native library, which failed to load: {NATIVE_LOAD_ERROR!r}. "
            "Rebuild it against the installed torch with `pip install --no-build-isolation --force-reinstall .` "
            "and run `python -m bitsandbytes` for details."
        )
