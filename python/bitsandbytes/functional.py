"""The stateless public API, with the original's names, signatures and defaults.

Every function is a thin typed wrapper over a ``torch.ops.bitsandbytes`` op.
"""

from __future__ import annotations

import torch

from . import _validate, cextension
from .code_maps import (  # noqa: F401  (public API)
    create_dynamic_map,
    create_fp8_map,
    create_linear_map,
    create_normal_map,
    get_4bit_type,
)
from .quant_state import QuantState
from .utils import pack_dict_to_tensor, unpack_tensor_to_dict  # noqa: F401  (public API)

#: Default 4-bit blocksize.
DEFAULT_4BIT_BLOCKSIZE = 64
#: Blocksize of the second (nested) quantization of the 4-bit absmax.
NESTED_BLOCKSIZE = 256

#: Code tables by name, created on first use per device.
name2qmap: dict[str, torch.Tensor] = {}


def _ops():
    cextension.require_native("this operation")
    return torch.ops.bitsandbytes


def _dynamic_map(device: torch.device) -> torch.Tensor:
    code = name2qmap.get("dynamic")
    if code is None:
        code = name2qmap["dynamic"] = create_dynamic_map()
    if code.device != device:
        code = code.to(device)
    return code


# ---------------------------------------------------------------------------
# 8-bit blockwise
# ---------------------------------------------------------------------------
def quantize_blockwise(
    A: torch.Tensor,
    code: torch.Tensor | None = None,
    absmax: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    blocksize: int = 4096,
    nested: bool = False,
) -> tuple[torch.Tensor, QuantState]:
    """Quantize ``A`` to uint8 codes of ``code`` (the signed dynamic map by default),
    one fp32 absmax per ``blocksize`` elements.

    Returns ``(uint8 tensor shaped like A, QuantState)``. With ``nested`` the absmax
    is itself quantized (after subtracting its mean) with the same blocksize.
    """
    if code is None:
        code = _dynamic_map(A.device)
    q, scales = _ops().quantize_blockwise.default(A, code.to(A.device), blocksize)
    if nested:
        offset = scales.mean()
        scales -= offset
        qabsmax, state2 = quantize_blockwise(scales, blocksize=blocksize, nested=False)
        state = QuantState(
            absmax=qabsmax,
            code=code.to(A.device, copy=True),
            blocksize=blocksize,
            dtype=A.dtype,
            offset=offset,
            state2=state2,
        )
    else:
        state = QuantState(absmax=scales, code=code.to(A.device, copy=True), blocksize=blocksize, dtype=A.dtype)
    if out is not None:
        q = _validate.copy_into("quantize_blockwise", "out", out, q)
    if absmax is not None:
        state.absmax = _validate.copy_into("quantize_blockwise", "absmax", absmax, state.absmax)
    return q, state


def _absmax_of(state: QuantState) -> torch.Tensor:
    """The fp32 per-block scales, undoing double quantization if needed."""
    if not state.nested:
        return state.absmax
    absmax = dequantize_blockwise(state.absmax, state.state2)
    absmax += state.offset
    return absmax if absmax.dtype == torch.float32 else absmax.float()


def dequantize_blockwise(
    A: torch.Tensor,
    quant_state: QuantState | None = None,
    absmax: torch.Tensor | None = None,
    code: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    blocksize: int = 4096,
    nested: bool = False,
) -> torch.Tensor:
    """Inverse of :func:`quantize_blockwise`: ``code[A] * absmax[block]`` in the state's dtype
    (fp32 when only ``absmax`` is given)."""
    if quant_state is None and absmax is None:
        raise ValueError("dequantize_blockwise needs either quant_state or absmax")
    if quant_state is None:
        quant_state = QuantState(
            absmax=absmax,
            code=code if code is not None else _dynamic_map(A.device),
            blocksize=blocksize,
            dtype=torch.float32,
        )
    scales = _absmax_of(quant_state)
    qcode = quant_state.code.to(A.device)
    if out is not None:
        _ops().dequantize_blockwise.out(A, scales, qcode, quant_state.blocksize, quant_state.dtype, out=out)
        return out
    return _ops().dequantize_blockwise.default(A, scales, qcode, quant_state.blocksize, quant_state.dtype)


# ---------------------------------------------------------------------------
# 4-bit
# ---------------------------------------------------------------------------
def quantize_4bit(
    A: torch.Tensor,
    absmax: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    blocksize: int | None = None,
    compress_statistics: bool = False,
    quant_type: str = "fp4",
    quant_storage: torch.dtype = torch.uint8,
) -> tuple[torch.Tensor, QuantState]:
    """Quantize ``A`` (fp16/bf16/fp32, any shape) to 4-bit NF4 or FP4 codes, two per
    byte, element 2i in the high nibble.

    Returns ``(packed, QuantState)``: ``packed`` has shape ``((n + 1) // (2 * itemsize), 1)``
    in ``quant_storage``. ``compress_statistics`` double-quantizes the absmax
    (8-bit, blocks of 256, after subtracting its mean).
    """
    if blocksize is None:
        blocksize = DEFAULT_4BIT_BLOCKSIZE
    packed, scales = _ops().quantize_4bit.default(A, blocksize, quant_type, quant_storage)
    code = get_4bit_type(quant_type, device=A.device)
    if compress_statistics:
        offset = scales.mean()
        qabsmax, state2 = quantize_blockwise(scales - offset, blocksize=NESTED_BLOCKSIZE)
        state = QuantState(
            absmax=qabsmax,
            shape=A.shape,
            dtype=A.dtype,
            blocksize=blocksize,
            code=code,
            quant_type=quant_type,
            offset=offset,
            state2=state2,
        )
    else:
        state = QuantState(
            absmax=scales, shape=A.shape, dtype=A.dtype, blocksize=blocksize, code=code, quant_type=quant_type
        )
    if out is not None:
        packed = _validate.copy_into("quantize_4bit", "out", out, packed)
    if absmax is not None:
        state.absmax = _validate.copy_into("quantize_4bit", "absmax", absmax, state.absmax)
    return packed, state


def quantize_fp4(A, absmax=None, out=None, blocksize=None, compress_statistics=False, quant_storage=torch.uint8):
    return quantize_4bit(A, absmax, out, blocksize, compress_statistics, "fp4", quant_storage)


def quantize_nf4(A, absmax=None, out=None, blocksize=None, compress_statistics=False, quant_storage=torch.uint8):
    return quantize_4bit(A, absmax, out, blocksize, compress_statistics, "nf4", quant_storage)


def dequantize_4bit(
    A: torch.Tensor,
    quant_state: QuantState | None = None,
    absmax: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    blocksize: int | None = None,
    quant_type: str = "fp4",
) -> torch.Tensor:
    """Inverse of :func:`quantize_4bit`: a tensor of ``quant_state.shape`` in ``quant_state.dtype``.

    Without a quant_state, ``absmax`` and ``out`` (which gives shape and dtype) are required.
    A packed input of shape ``[1, n]`` (a transposed weight) gives a transposed result.
    """
    if blocksize is None:
        blocksize = DEFAULT_4BIT_BLOCKSIZE
    if quant_state is None:
        if absmax is None or out is None:
            raise ValueError("dequantize_4bit needs a quant_state, or both absmax and out")
        quant_state = QuantState(
            absmax=absmax, shape=out.shape, dtype=out.dtype, blocksize=blocksize, quant_type=quant_type
        )
    if quant_state.shape is None or quant_state.dtype is None or quant_state.quant_type is None:
        raise ValueError(f"dequantize_4bit: incomplete quant_state {quant_state!r}")
    scales = _absmax_of(quant_state)
    shape = list(quant_state.shape)
    out_given = out
    if out is not None:
        _ops().dequantize_4bit.out(
            A, scales, quant_state.blocksize, quant_state.quant_type, shape, quant_state.dtype, out=out
        )
    else:
        out = _ops().dequantize_4bit.default(
            A, scales, quant_state.blocksize, quant_state.quant_type, shape, quant_state.dtype
        )
    if (
        out_given is None
        and len(shape) == 1
        and A.device.type == "cpu"
        and _cpu_row_for_1d(shape[0], quant_state.blocksize)
    ):
        out = out.view(1, -1)
    if A.shape[0] == 1:  # a transposed packed weight: transpose back
        return out.t()
    return out


_CPU_HAS_AVX512 = torch.backends.cpu.get_cpu_capability() == "AVX512"


def _cpu_row_for_1d(n: int, blocksize: int) -> bool:
    """The original's CPU dequantize_4bit returns a 1-D state as a [1, n] row whenever its
    native kernel runs: n even, unless the CPU has AVX-512 and blocksize >= 2048 (docs/differences.md)."""
    return n % 2 == 0 and not (_CPU_HAS_AVX512 and blocksize >= 2048)


def dequantize_fp4(A, quant_state=None, absmax=None, out=None, blocksize=None):
    return dequantize_4bit(A, quant_state, absmax, out, blocksize, "fp4")


def dequantize_nf4(A, quant_state=None, absmax=None, out=None, blocksize=None):
    return dequantize_4bit(A, quant_state, absmax, out, blocksize, "nf4")


# ---------------------------------------------------------------------------
# 4-bit matmul (gemv_4bit)
# ---------------------------------------------------------------------------
def gemv_4bit(
    A: torch.Tensor,
    B: torch.Tensor,
    out: torch.Tensor | None = None,
    transposed_A: bool = False,
    transposed_B: bool = False,
    state: QuantState | None = None,
) -> torch.Tensor:
    """``A @ W.T`` for a 4-bit weight ``W`` of shape ``state.shape = [N, K]`` packed in ``B``
    (the output of :func:`quantize_4bit`, any quant_storage; ``B.t()`` is accepted too).

    ``A`` is ``(..., K)`` in fp16/bf16/fp32; the result is ``(..., N)`` in A's dtype, accumulated
    in fp32. ``out``, when given, must have that shape and dtype. ``transposed_A`` and
    ``transposed_B`` are accepted for compatibility and ignored, as in the original.
    """
    if state is None:
        raise ValueError("gemv_4bit needs the QuantState returned by quantize_4bit (state=None was given)")
    if state.shape is None or len(state.shape) != 2:
        raise ValueError(f"gemv_4bit: the quant state must describe a 2-D weight [N, K], got shape {state.shape}")
    scales = _absmax_of(state)
    code = state.code if state.code is not None else get_4bit_type(state.quant_type, device=A.device)
    shape = list(state.shape)
    if out is not None:
        _ops().gemv_4bit.out(A, B, shape, scales, code.to(A.device), state.blocksize, out=out)
        return out
    return _ops().gemv_4bit.default(A, B, shape, scales, code.to(A.device), state.blocksize)


# ---------------------------------------------------------------------------
# Re-exported from their own modules (imported last: they use the helpers above)
# ---------------------------------------------------------------------------
from ._optimizer_functional import optimizer_update_8bit_blockwise, optimizer_update_32bit  # noqa: E402, F401
from .functional_compat import (  # noqa: E402, F401  (public API)
    C,
    batched_igemm,
    check_matmul,
    elementwise_func,
    fill,
    get_ptr,
    has_avx512bf16,
    igemm,
    is_on_gpu,
)
from .functional_int8 import (  # noqa: E402, F401  (public API)
    int8_double_quant,
    int8_linear_matmul,
    int8_mm_dequant,
    int8_vectorwise_dequant,
    int8_vectorwise_quant,
)
from .paging import FIRST_CUDA_DEVICE, GlobalPageManager, get_paged, prefetch_tensor  # noqa: E402, F401
