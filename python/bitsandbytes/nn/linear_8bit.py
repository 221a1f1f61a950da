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

from .. import _validate
from .. import functional_int8 as F8
from ..autograd.matmul_8bit import MatmulLtState, matmul


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
        if SCB is not None and data.dtype == torch.int8:
            SCB = _validate.check_int8_checkpoint(data, SCB)
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

    def _weight_scb(self) -> torch.Tensor | None:
        """The int8 weight's row scales, or None (also for a weight tied to a plain parameter)."""
        return getattr(self.weight, "SCB", None)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        scb = self._scb_target()  # None for a weight tied to another module's plain parameter
        if not self.state.has_fp16_weights and scb is not None:
            destination[prefix + "SCB"] = scb if keep_vars else scb.detach()
            destination[prefix + "weight_format"] = torch.tensor(0, dtype=torch.uint8)

    def _scb_target(self) -> torch.Tensor | None:
        """Where this layer keeps its row scales (the weight's, or the state's after a forward);
        None when the layer holds no int8 weight (never quantized, or tied to a plain parameter)."""
        if not isinstance(self.weight, Int8Params):
            return None
        scb = self._weight_scb()
        return scb if scb is not None else self.state.SCB

    def _check_checkpoint(self, state_dict, prefix) -> None:
        """Before anything of this layer is loaded: check weight_format, the weight's shape,
        SCB (present for an int8 weight, quantized layer or not yet; one finite scale per row)
        and the bias's shape; quantize a float weight for a layer that holds int8 weights."""
        wkey, skey, fkey, bkey = (prefix + k for k in ("weight", "SCB", "weight_format", "bias"))
        if fkey in state_dict:
            _validate.check_weight_format(state_dict.pop(fkey), fkey)
        weight, scb = state_dict.get(wkey), state_dict.get(skey)
        shape = (self.out_features, self.in_features)
        target = self._scb_target()
        if isinstance(weight, torch.Tensor) and weight.dtype == torch.int8 and scb is None:
            raise ValueError(
                f"Linear8bitLt: the checkpoint has the int8 weight {wkey} but not its row scales {skey}; "
                "without them the layer would keep scales that do not belong to the weight"
            )
        if isinstance(weight, torch.Tensor) and weight.is_floating_point() and scb is not None:
            raise ValueError(
                f"Linear8bitLt: the checkpoint has a {str(weight.dtype).removeprefix('torch.')} weight {wkey} with "
                f"the row scales {skey}, which belong to an int8 weight: the int8 weight was cast to float "
                "(a corrupted checkpoint?)"
            )
        if scb is not None and target is None:
            raise RuntimeError(
                "Loading a quantized checkpoint into non-quantized Linear8bitLt is not supported. Please call "
                "module.cuda() or module.to(device) before module.load_state_dict()"
            )
        if isinstance(weight, torch.Tensor) and target is not None and not self.state.has_fp16_weights:
            _validate.check_int8_weight(weight, shape, wkey)
            if weight.dtype != torch.int8:
                if not weight.is_floating_point():
                    raise ValueError(
                        f"Linear8bitLt: {wkey} must be int8 (with {skey}) or a float weight, got {weight.dtype}"
                    )
                # a full-precision weight: quantized as Int8Params does when the layer is moved
                weight, scb, _ = F8.int8_vectorwise_quant(weight.to(device=target.device, dtype=torch.float16))
                state_dict[wkey] = weight
        if scb is not None:
            state_dict[skey] = _validate.check_scb(scb, self.out_features, skey)
        bias = state_dict.get(bkey)
        if isinstance(bias, torch.Tensor) and self.bias is not None and bias.shape != self.bias.shape:
            raise ValueError(
                f"Linear8bitLt: {bkey} has shape {tuple(bias.shape)} in the checkpoint but the layer's bias is "
                f"{tuple(self.bias.shape)}"
            )

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errs):
        self._check_checkpoint(state_dict, prefix)  # raises before anything changes
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errs)
        key = prefix + "SCB"
        if key not in state_dict:
            return
        target = self._scb_target()
        target.copy_(state_dict[key].reshape(target.shape))
        if key in unexpected_keys:
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
        _validate.check_input_features(self, x)
        self.state.is_training = self.training
        if not isinstance(self.weight, Int8Params) and self.weight.dtype == torch.int8:
            raise RuntimeError(
                f"Linear8bitLt({self.in_features} -> {self.out_features}): the int8 weight is a plain "
                f"{type(self.weight).__name__}, not an Int8Params: a wrapper (FSDP) replaced it and its SCB row "
                "scales with it. FSDP cannot shard LLM.int8() weights: keep the Linear8bitLt layers out of sharding "
                "(fully_shard(..., ignored_params=...), or Accelerate's FSDP plugin ignored_modules), or use 4-bit "
                "weights with a float bnb_4bit_quant_storage."
            )
        if getattr(self.weight, "CB", None) is not None:
            self.init_8bit_state()
        if self.bias is not None and self.bias.dtype != x.dtype:
            self.bias.data = self.bias.data.to(x.dtype)
        out = matmul(x, self.weight, bias=self.bias, state=self.state)
        if not self.state.has_fp16_weights and self.state.CB is not None:
            self.weight.data = self.state.CB
        return out
