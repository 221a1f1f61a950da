"""Embedding4bit (and EmbeddingNF4 / EmbeddingFP4): an embedding table stored in 4 bits."""

from __future__ import annotations

import logging

import torch

from .. import functional as F
from .params_4bit import Params4bit, packed_weight_and_state

logger = logging.getLogger("bitsandbytes.nn.modules")  # the original's logger name


class Embedding4bit(torch.nn.Embedding):
    """``nn.Embedding`` whose table is quantized to NF4/FP4 (no double quantization)
    when the module is moved to a device. Looking up rows dequantizes only those rows
    when ``embedding_dim`` is a multiple of the blocksize. Cannot be saved."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        dtype: torch.dtype | None = None,
        quant_type: str = "fp4",
        quant_storage: torch.dtype = torch.uint8,
        device: torch.device | str | None = None,
    ):
        if quant_type not in ("fp4", "nf4"):
            raise ValueError(f"Embedding4bit: quant_type must be 'fp4' or 'nf4', got {quant_type!r}")
        super().__init__(num_embeddings, embedding_dim, device=device, dtype=dtype)
        self.dtype = self.weight.data.dtype
        self.weight = Params4bit(
            self.weight.data,
            requires_grad=False,
            compress_statistics=False,
            quant_type=quant_type,
            quant_storage=quant_storage,
            module=self,
        )
        self.quant_state = None
        if embedding_dim % self.weight.blocksize != 0:
            logger.warning(
                f"Embedding size {embedding_dim} is not divisible by block size {self.weight.blocksize}. "
                "This will lead to slow inference.",
            )

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        raise NotImplementedError("Saving Embedding4bit is not supported")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        weight, state = packed_weight_and_state(self)
        dim = self.embedding_dim
        if input.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"Embedding4bit: indices must be int32 or int64, got {input.dtype}")
        if dim % state.blocksize != 0:
            table = F.dequantize_4bit(weight.data, state)
            return torch.nn.functional.embedding(input, table)
        # gather the packed rows and their scales, dequantize only those
        rows = input.reshape(-1).long()
        # as nn.Embedding: a negative index would otherwise pick a row from the end
        outside = (rows < 0) | (rows >= self.num_embeddings)
        if rows.device.type == "cpu":
            if outside.any():
                bad = rows[outside][0].item()
                raise IndexError(f"Embedding4bit: index {bad} is out of range for {self.num_embeddings} embeddings")
        else:  # a device-side check, without waiting for the GPU
            torch._assert_async(~outside.any())
        packed = weight.data.reshape(-1).view(torch.uint8).view(self.num_embeddings, dim // 2)[rows]
        absmax = F._absmax_of(state).view(self.num_embeddings, dim // state.blocksize)[rows]
        picked = F._ops().dequantize_4bit.default(
            packed.reshape(-1), absmax.reshape(-1), state.blocksize, state.quant_type, [rows.numel(), dim], self.dtype
        )
        return picked.view(*input.shape, dim)


class EmbeddingFP4(Embedding4bit):
    """:class:`Embedding4bit` with ``quant_type="fp4"``."""

    def __init__(self, num_embeddings, embedding_dim, dtype=None, quant_storage=torch.uint8, device=None):
        super().__init__(num_embeddings, embedding_dim, dtype, "fp4", quant_storage, device)


class EmbeddingNF4(Embedding4bit):
    """:class:`Embedding4bit` with ``quant_type="nf4"``."""

    def __init__(self, num_embeddings, embedding_dim, dtype=None, quant_storage=torch.uint8, device=None):
        super().__init__(num_embeddings, embedding_dim, dtype, "nf4", quant_storage, device)
