"""LLM.int8() layers: ``Int8Params`` and ``Linear8bitLt`` (bitsandbytes 0.50 names,
signatures and checkpoint keys).

Checkpoint form of a ``Linear8bitLt`` with int8 weights: ``weight`` (int8
``[out, in]``), ``bias``, ``SCB`` (fp32 row absmax ``[out]``) and
``weight_format`` (``tensor(0, uint8)``, the row-major layout).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import functional_int8 as F8
from ..autograd.matmul_8bit import MatmulLtState, matmul
from ..utils import INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING, LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING


class Int8Params(torch.nn.Parameter):
    """A weight that quantizes itself to int8 rows (``CB``) with fp32 row absmax (``SCB``)
    when moved with ``.to(device)`` from the CPU (unless ``has_fp16_weights``).
    Unknown keyword arguments (e.g. from ``**param.__dict__``) are accepted and ignored."""

    def __new__(
        cls,
        data: torch.Tensor | None = None,
        requires_grad=True,
        has_fp16_weights=False,
        CB: torch.Tensor | None = None,
        SCB: torch.Tensor | None = None,
        **kwargs,
    ):
        if data is None:
            data = torch.empty(0)
        requires_grad = bool(requires_grad) and (data.is_floating_point() or data.is_complex())
        obj = torch.Tensor._make_subclass(cls, data, requires_grad)
        obj.CB = CB
        obj.SCB = SCB
        obj.has_fp16_weights = has_fp16_weights
        return obj

    def _quantize(self, device):
        if self.data.numel() == 0:
            raise ValueError("Int8Params: cannot quantize an empty weight")
        B = self.data.contiguous().to(device=device, dtype=torch.float16)
        CB, SCB, _ = F8.int8_vectorwise_quant(B)
        self.data = CB
        self.CB = CB
        self.SCB = SCB
        return self

    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, device=None, non_blocking: bool = False):
        return self.to(device="cuda" if device is None else device, non_blocking=non_blocking)

    def xpu(self, device=None, non_blocking: bool = False):
        return self.to(device="xpu" if device is None else device, non_blocking=non_blocking)

    def to(self, *args, **kwargs):
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
        if (
            device is not None
            and device.type != "meta"
            and self.data.device.type == "cpu"
            and self.data.dtype != torch.int8
            and not self.has_fp16_weights
        ):
            return self._quantize(device)
        if self.data.dtype == torch.int8:
            dtype = None  # an int8 weight keeps its bytes; only its device changes
        data = self.data.to(device=device, dtype=dtype, non_blocking=non_blocking)
        new = Int8Params(data, requires_grad=self.requires_grad, has_fp16_weights=self.has_fp16_weights)
        if data.dtype == torch.int8:
            new.CB = data if self.CB is not None or self.SCB is not None else None
        elif self.CB is not None:
            new.CB = self.CB.to(device=device, non_blocking=non_blocking)
        if self.SCB is not None:
            new.SCB = self.SCB.to(device=device, non_blocking=non_blocking)
        return new

    def __deepcopy__(self, memo):
        data = copy.deepcopy(self.data, memo)
        same_cb = self.CB is not None and self.CB.data_ptr() == self.data.data_ptr()
        new = type(self)(
            data,
            requires_grad=self.requires_grad,
            has_fp16_weights=self.has_fp16_weights,
            CB=data if same_cb else copy.deepcopy(self.CB, memo),
            SCB=copy.deepcopy(self.SCB, memo),
        )
        for k, v in self.__dict__.items():
            if k not in ("CB", "SCB", "has_fp16_weights"):
                setattr(new, k, copy.deepcopy(v, memo))
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, proto):
        return (_rebuild_int8_params, (self.data, self.requires_grad, dict(self.__dict__)))


def _rebuild_int8_params(data, requires_grad, state):
    p = Int8Params(data, requires_grad=requires_grad)
    p.__dict__.update(state)
    return p


def _check_weight_format(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
    key = prefix + "weight_format"
    if key not in state_dict:
        return
    fmt = state_dict.pop(key)
    if isinstance(fmt, torch.Tensor):
        fmt = fmt.item()
    if isinstance(fmt, int):
        fmt = INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING.get(fmt, fmt)
    if fmt != "row":
        raise ValueError(
            f"Linear8bitLt: weight_format {fmt!r} is not supported; only row-major int8 weights "
            f"({LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING['row']} / 'row') can be loaded"
        )


class Linear8bitLt(nn.Linear):
    """LLM.int8() linear layer: int8 weights with fp32 row scales; with ``threshold > 0`` the
    input's outlier columns are multiplied in 16-bit (mixed-precision decomposition)."""

    def __init__(
        self,
        input_features: int,
        output_features: int,
        bias=True,
        has_fp16_weights=True,
        threshold=0.0,
        index=None,
        device=None,
    ):
        super().__init__(input_features, output_features, bias, device)
        self.state = MatmulLtState()
        self.index = index
        self.state.threshold = threshold
        self.state.has_fp16_weights = has_fp16_weights
        if threshold > 0.0 and not has_fp16_weights:
            self.state.use_pool = True
        self.weight = Int8Params(self.weight.data, has_fp16_weights=has_fp16_weights, requires_grad=has_fp16_weights)
        self._register_load_state_dict_pre_hook(_check_weight_format, with_module=False)

    def _weight_scb(self) -> torch.Tensor | None:
        """The int8 weight's row scales, or None (also for a weight tied to a plain parameter)."""
        return getattr(self.weight, "SCB", None)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if not isinstance(self.weight, Int8Params):
            return  # a weight tied to another module's plain parameter has no row scales
        scb = self._weight_scb() if self._weight_scb() is not None else self.state.SCB
        if not self.state.has_fp16_weights and scb is not None:
            destination[prefix + "SCB"] = scb if keep_vars else scb.detach()
            destination[prefix + "weight_format"] = torch.tensor(0, dtype=torch.uint8)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errs)
        key = prefix + "SCB"
        if key not in unexpected_keys:
            return
        target = self._weight_scb() if self._weight_scb() is not None else self.state.SCB
        if target is None or not isinstance(self.weight, Int8Params):
            raise RuntimeError(
                "Loading a quantized checkpoint into non-quantized Linear8bitLt is not supported. Please call "
                "module.cuda() or module.to(device) before module.load_state_dict()"
            )
        scb = state_dict[key]
        if not isinstance(scb, torch.Tensor) or scb.dtype != torch.float32 or scb.numel() != target.numel():
            raise ValueError(
                f"Linear8bitLt: {key} must be a float32 tensor of {target.numel()} row scales, got "
                f"{getattr(scb, 'dtype', type(scb))} with shape {tuple(getattr(scb, 'shape', ()))} (corrupted SCB?)"
            )
        target.copy_(scb.reshape(target.shape))
        unexpected_keys.remove(key)

    def init_8bit_state(self):
        self.state.CB = self.weight.CB
        self.state.SCB = self.weight.SCB
        self.weight.CB = None
        self.weight.SCB = None

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        dev = self.weight.device
        w = self.weight
        if isinstance(w, Int8Params):
            if w.SCB is not None and w.SCB.device != dev:
                w.SCB = w.SCB.to(dev)
            if w.CB is not None and w.CB.device != dev:
                w.CB = w.data if w.data.dtype == torch.int8 else w.CB.to(dev)
        if self.state.CB is not None and self.state.CB.device != dev:
            self.state.CB = w.data if w.data.dtype == torch.int8 else self.state.CB.to(dev)
        if self.state.SCB is not None and self.state.SCB.device != dev:
            self.state.SCB = self.state.SCB.to(dev)
        return result

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.state.is_training = self.training
        if getattr(self.weight, "CB", None) is not None:
            self.init_8bit_state()
        if self.bias is not None and self.bias.dtype != x.dtype:
            self.bias.data = self.bias.data.to(x.dtype)
        out = matmul(x, self.weight, bias=self.bias, state=self.state)
        if not self.state.has_fp16_weights and self.state.CB is not None:
            self.weight.data = self.state.CB
        return out
