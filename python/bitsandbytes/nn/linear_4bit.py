"""Linear4bit (and LinearNF4 / LinearFP4): an ``nn.Linear`` with a frozen 4-bit weight."""

from __future__ import annotations

import logging

import torch

from .._validate import check_input_features
from ..autograd.matmul_4bit import matmul_4bit
from .params_4bit import Params4bit, packed_weight_and_state

logger = logging.getLogger("bitsandbytes.nn.modules")  # the original's logger name


class Linear4bit(torch.nn.Linear):
    """``y = x @ W.T + b`` with ``W`` quantized to NF4 or FP4 when the layer is moved
    to a device (``.to()``, ``.cpu()``, ``.cuda()``).

    ``compute_dtype`` is the dtype of the matmul (the first fp32/bf16 input sets it
    when None); the output has the input's dtype. ``compress_statistics`` enables
    double quantization of the absmax; ``quant_storage`` is the dtype the packed
    bytes are viewed as (uint8, or a float dtype for FSDP).
    """

    def __init__(
        self,
        input_features: int,
        output_features: int,
        bias: bool = True,
        compute_dtype: torch.dtype | None = None,
        compress_statistics: bool = True,
        quant_type: str = "fp4",
        quant_storage: torch.dtype = torch.uint8,
        device: torch.device | str | None = None,
    ):
        if quant_type not in ("fp4", "nf4"):
            raise ValueError(f"Linear4bit: quant_type must be 'fp4' or 'nf4', got {quant_type!r}")
        super().__init__(input_features, output_features, bias, device)
        self.weight = Params4bit(
            self.weight.data,
            requires_grad=False,
            compress_statistics=compress_statistics,
            quant_type=quant_type,
            quant_storage=quant_storage,
            module=self,
        )
        self.compute_dtype = compute_dtype
        self.compute_type_is_set = compute_dtype is not None
        self.quant_state = None
        self.quant_storage = quant_storage

    def set_compute_type(self, x: torch.Tensor) -> None:
        if x.dtype in (torch.float32, torch.bfloat16):
            # the input dtype is the fastest choice that loses nothing
            self.compute_dtype = x.dtype
        elif x.dtype == torch.float16 and self.compute_dtype in (None, torch.float32):
            # float16 input computed in float32 (compute_dtype None keeps the input's float16)
            what = "inference" if x.numel() == x.shape[-1] else "inference or training speed"
            logger.warning(
                "Input type into Linear4bit is torch.float16, but bnb_4bit_compute_dtype=torch.float32 (default). "
                f"This will lead to slow {what}.",
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_features(self, x)
        # under FSDP the weight is the all-gathered plain parameter: the module keeps its state
        weight, state = packed_weight_and_state(self)
        if not self.compute_type_is_set:
            self.set_compute_type(x)
            self.compute_type_is_set = True
        input_dtype = x.dtype
        if self.compute_dtype is not None:
            x = x.to(self.compute_dtype)
        bias = self.bias
        if bias is not None and bias.dtype != x.dtype:
            # as the original: the bias parameter itself moves to the compute dtype
            bias.data = bias.data.to(x.dtype)
        out = matmul_4bit(x, weight.t(), quant_state=state, bias=bias)
        return out.to(input_dtype)

    # ---- checkpoints --------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        state = getattr(self.weight, "quant_state", None)
        if state is not None:
            for key, value in state.as_dict(packed=True).items():
                destination[prefix + "weight." + key] = value if keep_vars else value.detach()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        stats_prefix = prefix + "weight."
        stats = {k: v for k, v in state_dict.items() if k.startswith(stats_prefix)}
        weight = state_dict.get(prefix + "weight")
        is_float = weight is not None and weight.dtype in (torch.float16, torch.bfloat16, torch.float32)
        if stats or (is_float and self.weight.bnb_quantized):
            if weight is None:
                error_msgs.append(f"{prefix}weight: quant-state keys {sorted(stats)} present but the weight is missing")
                return
            bias = state_dict.get(prefix + "bias")
            if bias is not None and self.bias is not None and bias.shape != self.bias.shape:
                error_msgs.append(
                    f"{prefix}bias: has shape {tuple(bias.shape)} in the checkpoint but the layer's bias is "
                    f"{tuple(self.bias.shape)}"
                )
                return
            try:
                new_weight = self._weight_from_checkpoint(weight, stats, prefix)
            except ValueError as err:
                error_msgs.append(str(err))
                return
            self.weight = new_weight
            consumed = {prefix + "weight"} | set(stats)
            rest = {k: v for k, v in state_dict.items() if k not in consumed}
            # the weight is in place: nn.Module loads the bias and reports the rest
            saved_weight = self._parameters.pop("weight")
            try:
                super()._load_from_state_dict(
                    rest, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
                )
            finally:
                self._parameters["weight"] = saved_weight
            return
        if weight is not None and not is_float:
            error_msgs.append(
                f"{prefix}weight: packed 4-bit data ({weight.dtype}, shape {tuple(weight.shape)}) without its "
                f"quant-state keys ({prefix}weight.absmax, {prefix}weight.quant_map, "
                f"{prefix}weight.quant_state.bitsandbytes__*)"
            )
            return
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _weight_from_checkpoint(self, weight: torch.Tensor, stats: dict, prefix: str) -> Params4bit:
        """A pre-quantized weight with its quant-state entries (full keys), or a float
        weight quantized again with this layer's settings; ValueError naming the key."""
        device = self.weight.device
        if stats:
            return Params4bit.from_prequantized(weight, stats, requires_grad=False, device=device, module=self)
        if tuple(weight.shape) != (self.out_features, self.in_features):
            raise ValueError(
                f"{prefix}weight: has shape {tuple(weight.shape)} in the checkpoint but the layer's weight is "
                f"{(self.out_features, self.in_features)} (out, in)"
            )
        old = self.weight
        return Params4bit(
            weight.detach().clone(),
            requires_grad=False,
            blocksize=old.blocksize,
            compress_statistics=old.compress_statistics,
            quant_type=old.quant_type,
            quant_storage=old.quant_storage,
            module=self,
        ).to(device)


class LinearFP4(Linear4bit):
    """:class:`Linear4bit` with ``quant_type="fp4"``."""

    def __init__(
        self,
        input_features: int,
        output_features: int,
        bias: bool = True,
        compute_dtype: torch.dtype | None = None,
        compress_statistics: bool = True,
        quant_storage: torch.dtype = torch.uint8,
        device: torch.device | str | None = None,
    ):
        super().__init__(
            input_features, output_features, bias, compute_dtype, compress_statistics, "fp4", quant_storage, device
        )


class LinearNF4(Linear4bit):
    """:class:`Linear4bit` with ``quant_type="nf4"``."""

    def __init__(
        self,
        input_features: int,
        output_features: int,
        bias: bool = True,
        compute_dtype: torch.dtype | None = None,
        compress_statistics: bool = True,
        quant_storage: torch.dtype = torch.uint8,
        device: torch.device | str | None = None,
    ):
        super().__init__(
            input_features, output_features, bias, compute_dtype, compress_statistics, "nf4", quant_storage, device
        )
