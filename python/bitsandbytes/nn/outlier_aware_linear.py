"""OutlierAwareLinear: the base class for linear layers quantized with knowledge of their
input's outlier dimensions (found by :class:`bitsandbytes.utils.OutlierTracer`)."""

from __future__ import annotations

import logging

import torch

from ..utils import OutlierTracer

logger = logging.getLogger("bitsandbytes.nn.modules")  # the original's logger name


class OutlierAwareLinear(torch.nn.Linear):
    """An ``nn.Linear`` that, on its first forward pass, asks the :class:`OutlierTracer` for
    the outlier dimensions of its input, replaces its weight by
    ``quantize_weight(weight, outlier_dims)`` once, and computes
    ``forward_with_outliers(x, outlier_dims)``. Subclasses implement both methods."""

    def __init__(self, input_features, output_features, bias=True, device=None):
        super().__init__(input_features, output_features, bias, device)
        self.outlier_dim = None
        self.is_quantized = False

    def forward_with_outliers(self, x, outlier_idx):
        raise NotImplementedError("Please override the `forward_with_outliers(self, x, outlier_idx)` function")

    def quantize_weight(self, w, outlier_idx):
        raise NotImplementedError("Please override the `quantize_weights(self, w, outlier_idx)` function")

    def forward(self, x):
        if self.outlier_dim is None:
            tracer = OutlierTracer.get_instance()
            if not tracer.is_initialized():
                logger.warning("Please use OutlierTracer.initialize(model) before using the OutlierAwareLinear layer")
            self.outlier_dim = tracer.get_outliers(self.weight)
        if not self.is_quantized:
            with torch.no_grad():
                self.weight.data.copy_(self.quantize_weight(self.weight, self.outlier_dim))
            self.is_quantized = True
        return self.forward_with_outliers(x, self.outlier_dim)
