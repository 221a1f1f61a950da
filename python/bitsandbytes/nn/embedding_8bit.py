"""``Embedding8bit``: an embedding table stored as int8 rows with fp32 row absmax."""

from __future__ import annotations

import torch
from torch import nn

from .linear_8bit import Int8Params


class Embedding8bit(nn.Embedding):
    """Embedding whose table is quantized row-wise to int8 on ``.to(device)``; lookups return
    ``CB[idx] * SCB[idx] / 127`` in the table's original dtype. It cannot be saved."""

    def __init__(self, num_embeddings, embedding_dim, device=None, dtype=None):
        super().__init__(num_embeddings, embedding_dim, device=device, dtype=dtype)
        self.dtype = self.weight.data.dtype
        self.weight = Int8Params(self.weight.data, has_fp16_weights=False, requires_grad=False)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        raise NotImplementedError("Saving Embedding8bit module is not implemented")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        rows, stats = self.weight.data, getattr(self.weight, "SCB", None)
        if stats is None or rows.dtype != torch.int8:
            raise RuntimeError("Embedding8bit is not quantized yet: call .to(device) (e.g. .to('cpu')) first")
        if rows.shape != (self.num_embeddings, self.embedding_dim) or stats.numel() != self.num_embeddings:
            raise ValueError(
                f"Embedding8bit: int8 table {tuple(rows.shape)} / SCB {tuple(stats.shape)} do not match "
                f"({self.num_embeddings}, {self.embedding_dim})"
            )
        values = nn.functional.embedding(input, rows)
        scales = nn.functional.embedding(input, stats.view(self.num_embeddings, 1))
        return (values * (scales / 127.0)).to(self.dtype)
