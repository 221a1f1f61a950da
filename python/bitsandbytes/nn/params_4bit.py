"""Params4bit: a frozen weight that quantizes itself to NF4/FP4 when it is moved.

Downstream code (Transformers, PEFT, Accelerate) rebuilds it with
``Params4bit(data, requires_grad=False, **old.__dict__)``, compares the class
*name*, and relies on ``.to(device)`` quantizing whenever ``bnb_quantized`` is
False (even when the data already is on that device).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from .. import _validate
from .. import functional as F
from ..quant_state import QuantState, _parameter_name

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


#: Torch functions that return pieces or views of the packed storage: what FSDP applies
#: when it shards a parameter (chunk/split of dim 0, narrow/view of the flat data) and
#: moves it (``to``). Their results stay Params4bit with the same quant state.
_KEEPS_QUANT_STATE = frozenset(
    {
        torch.chunk,
        torch.split,
        torch.narrow,
        torch.Tensor.chunk,
        torch.Tensor.split,
        torch.Tensor.narrow,
        torch.Tensor.view,
        torch.Tensor.to,
    }
)


def _rebuild_params4bit(cls, data, requires_grad, state):
    param = cls(data, requires_grad=requires_grad)
    param.__dict__.update(state)
    return param


class Params4bit(torch.nn.Parameter):
    """A weight stored as packed 4-bit codes plus its :class:`QuantState`.

    Before quantization ``data`` is the float weight ``[out, in]``; afterwards it
    holds ``(n + 1) // (2 * itemsize)`` rows of packed bytes viewed as
    ``quant_storage`` (one column), and ``quant_state.shape`` the logical shape.
    Unknown keyword arguments are accepted and ignored.
    """

    def __new__(
        cls,
        data: torch.Tensor | None = None,
        requires_grad: bool = False,
        quant_state: QuantState | None = None,
        blocksize: int | None = None,
        compress_statistics: bool = True,
        quant_type: str = "fp4",
        quant_storage: torch.dtype = torch.uint8,
        module: torch.nn.Module | None = None,
        bnb_quantized: bool = False,
        **kwargs: Any,
    ) -> Params4bit:
        if data is None:
            data = torch.empty(0)
        self = torch.Tensor._make_subclass(cls, data, requires_grad)
        self.blocksize = F.DEFAULT_4BIT_BLOCKSIZE if blocksize is None else blocksize
        self.compress_statistics = compress_statistics
        self.quant_type = quant_type
        self.quant_state = quant_state
        self.quant_storage = quant_storage
        self.bnb_quantized = bnb_quantized
        self.module = module
        return self

    # ---- torch functions: pieces and views keep the quant state -------------
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with torch._C.DisableTorchFunctionSubclass():  # what nn.Parameter does, traceable by dynamo
            out = func(*args, **(kwargs or {}))
        src = args[0] if args else None
        if func not in _KEEPS_QUANT_STATE or not isinstance(src, Params4bit):
            return out
        if isinstance(out, (tuple, list)):
            return type(out)(src._piece(t) for t in out)
        return src._piece(out)

    def _piece(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (a view or copy of this parameter's data) as a Params4bit with the same
        quant state. A piece or a reshaped view is not the module's weight, so only a
        tensor of the same shape keeps the back-reference to the module."""
        if not isinstance(t, torch.Tensor) or isinstance(t, Params4bit):
            return t
        attributes = self._attributes()
        if t.shape != self.shape:
            attributes["module"] = None
        if self.bnb_quantized:
            attributes["quant_storage"] = t.dtype  # a .view(dtype) of the packed bytes
        piece = Params4bit(t.detach() if t.requires_grad else t, requires_grad=self.requires_grad)
        piece.__dict__.update(attributes)
        return piece

    # ---- copying and pickling keep every attribute ------------------------
    def _attributes(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __getstate__(self) -> dict[str, Any]:
        state = self._attributes()
        state["data"] = self.data
        state["requires_grad"] = self.requires_grad
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.requires_grad = state.pop("requires_grad")
        self.data = state.pop("data")
        self.__dict__.update(state)

    def __reduce_ex__(self, protocol):
        return (_rebuild_params4bit, (type(self), self.data, self.requires_grad, self._attributes()))

    def __copy__(self) -> Params4bit:
        new = type(self).__new__(type(self), self.data, self.requires_grad)
        new.__dict__.update(self._attributes())
        return new

    def __deepcopy__(self, memo: dict) -> Params4bit:
        new = type(self).__new__(type(self), self.data.clone(), self.requires_grad)
        memo[id(self)] = new
        attributes = self._attributes()
        module = attributes.pop("module", None)
        new.__dict__.update(copy.deepcopy(attributes, memo))
        # The owning module is copied by whoever copies the module; a lone
        # parameter copy keeps pointing at the original owner.
        new.module = memo.get(id(module), module)
        return new

    # ---- quantization on move ---------------------------------------------
    def _quantize(self, device: torch.device) -> Params4bit:
        if self.data.dtype not in _FLOAT_DTYPES:
            raise ValueError(
                f"Params4bit: cannot quantize data of dtype {self.data.dtype} and shape {tuple(self.data.shape)}: "
                "expected a float16/bfloat16/float32 weight. Already-packed 4-bit data needs its quant state "
                "(Params4bit.from_prequantized, or the checkpoint's weight.absmax / weight.quant_map / "
                "weight.quant_state.* keys)."
            )
        w = self.data.contiguous().to(device)
        packed, state = F.quantize_4bit(
            w,
            blocksize=self.blocksize,
            compress_statistics=self.compress_statistics,
            quant_type=self.quant_type,
            quant_storage=self.quant_storage,
        )
        self.data = packed
        self.quant_state = state
        self._bind_module(self.module)
        self.bnb_quantized = True
        return self

    def _bind_module(self, module: torch.nn.Module | None) -> None:
        """Record the quant state and storage dtype on the owning module: a wrapper that
        replaces the parameter (FSDP) leaves the module with what it needs to use it."""
        if module is not None:
            module.quant_state = self.quant_state
            module.quant_storage = self.data.dtype

    def to(self, *args, **kwargs):
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
        if device is not None and device.type != "meta" and not self.bnb_quantized:
            return self._quantize(device)
        if self.quant_state is not None and device is not None:
            self.quant_state.to(device)
        # Packed bytes never change dtype; an unquantized weight may.
        data = super().to(device=device, dtype=None if self.bnb_quantized else dtype, non_blocking=non_blocking)
        return Params4bit(
            data,
            requires_grad=self.requires_grad,
            quant_state=self.quant_state,
            blocksize=self.blocksize,
            compress_statistics=self.compress_statistics,
            quant_type=self.quant_type,
            quant_storage=self.quant_storage,
            bnb_quantized=self.bnb_quantized,
        )

    def cuda(self, device: int | str | torch.device | None = None, non_blocking: bool = False) -> Params4bit:
        return self.to(device="cuda" if device is None else device, non_blocking=non_blocking)

    def cpu(self) -> Params4bit:
        return self.to(device="cpu")

    def xpu(self, device: int | str | torch.device | None = None, non_blocking: bool = False) -> Params4bit:
        return self.to(device="xpu" if device is None else device, non_blocking=non_blocking)

    # ---- loading a checkpoint ---------------------------------------------
    @classmethod
    def from_prequantized(
        cls,
        data: torch.Tensor,
        quantized_stats: dict[str, Any],
        requires_grad: bool = False,
        device: torch.device | str = "cuda",
        module: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> Params4bit:
        """Wrap packed bytes ``data`` and their checkpoint quant-state entries
        (any key prefix, packed or not) without re-quantizing. The state is checked
        against ``data`` and, for a Linear-like ``module``, against its
        ``(out_features, in_features)`` (bitsandbytes._validate.check_quant_state)."""
        state = QuantState.from_dict(qs_dict=quantized_stats, device=device)
        name = _parameter_name(next(iter(quantized_stats), ""))
        _validate.check_quant_state(state, name, packed=data, expected_shape=_validate.layer_shape(module))
        self = cls(
            data.to(device),
            requires_grad=requires_grad,
            quant_state=state,
            blocksize=state.blocksize,
            compress_statistics=state.nested,
            quant_type=state.quant_type,
            quant_storage=data.dtype,
            module=module,
            bnb_quantized=True,
        )
        self._bind_module(module)
        return self

    # ---- FSDP-style views of the quant state --------------------------------
    def _qs(self) -> QuantState:
        if self.quant_state is None:
            raise AttributeError("Params4bit: not quantized yet (no quant_state)")
        return self.quant_state

    @property
    def absmax(self):
        return self._qs().absmax

    @property
    def code(self):
        return self._qs().code

    quant_map = code

    @property
    def offset(self):
        return self._qs().offset

    @property
    def state2(self):
        return self._qs().state2

    @property
    def nested_absmax(self):
        return self._qs().state2.absmax if self._qs().nested else None

    @property
    def nested_blocksize(self):
        return self._qs().state2.blocksize if self._qs().nested else None

    @property
    def nested_quant_map(self):
        return self._qs().state2.code if self._qs().nested else None

    @property
    def nested_dtype(self):
        return self._qs().state2.dtype if self._qs().nested else None

    @property
    def nested_offset(self):
        return self._qs().offset if self._qs().nested else None


def _layer_name(module: torch.nn.Module) -> str:
    shape = f"{getattr(module, 'in_features', '?')} -> {getattr(module, 'out_features', '?')}"
    return f"{type(module).__name__}({shape})"


def packed_weight_and_state(module: torch.nn.Module) -> tuple[torch.Tensor, QuantState]:
    """The packed weight of a 4-bit layer and its :class:`QuantState`.

    When a wrapper replaced the Params4bit by a plain parameter (FSDP all-gathers the
    shards into one), the state comes from ``module.quant_state``, after checking that
    the parameter still holds the packed bytes: FSDP's mixed precision casts a float
    ``quant_storage`` to its ``param_dtype``, which would decode garbage.
    """
    weight = module.weight
    state = getattr(weight, "quant_state", None)
    if state is not None:
        return weight, state
    state = getattr(module, "quant_state", None)
    if state is None:
        raise RuntimeError(
            f"{_layer_name(module)}: the weight is not quantized (dtype {weight.dtype}, shape "
            f"{tuple(weight.shape)}). Move the layer with .to(device) / .cpu() / .cuda() to quantize it, or load a "
            "checkpoint that has its quant-state keys (weight.absmax, weight.quant_map, "
            "weight.quant_state.bitsandbytes__*)."
        )
    storage = getattr(module, "quant_storage", None)
    if storage is not None and weight.dtype != storage:
        raise RuntimeError(
            f"{_layer_name(module)}: the packed 4-bit weight was stored as {storage} but arrives as {weight.dtype}: "
            "a wrapper cast the packed bytes. FSDP's MixedPrecisionPolicy casts floating-point parameters to its "
            f"param_dtype: use bnb_4bit_quant_storage={weight.dtype} (the param_dtype), or no param_dtype."
        )
    n = 1
    for d in state.shape:
        n *= int(d)
    nbytes = weight.numel() * weight.element_size()
    if weight.dim() != 2 or weight.shape[-1] != 1 or nbytes != (n + 1) // 2:
        raise RuntimeError(
            f"{_layer_name(module)}: the weight has shape {tuple(weight.shape)} ({nbytes} bytes of {weight.dtype}), "
            f"expected packed 4-bit data of shape (n, 1) holding the {(n + 1) // 2} bytes of a "
            f"{tuple(state.shape)} weight"
        )
    return weight, state


def fix_4bit_weight_quant_state_from_module(module: torch.nn.Module) -> None:
    """Put ``module.quant_state`` back on ``module.weight`` (rebuilt as a Params4bit) when a
    wrapper (FSDP) replaced the parameter; raise if the layer was never quantized."""
    weight, state = packed_weight_and_state(module)
    if not isinstance(weight, Params4bit):
        weight = Params4bit(weight.data, requires_grad=False, quant_storage=weight.dtype, bnb_quantized=True)
        module.weight = weight
    weight.quant_state = state
    weight.bnb_quantized = True
