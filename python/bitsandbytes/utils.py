"""Small helpers shared by the package (and part of the original public API)."""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
from collections.abc import Callable, Sequence

import torch

logger = logging.getLogger(__name__)

LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING = {"row": 0, "col32": 1, "col_turing": 2, "col_ampere": 3}
INVERSE_LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING = {v: k for k, v in LINEAR_8BIT_WEIGHTS_FORMAT_MAPPING.items()}


def pack_dict_to_tensor(source_dict: dict) -> torch.Tensor:
    """Serialize a dict of JSON values as a 1-D uint8 tensor of UTF-8 JSON (checkpoint format)."""
    data = json.dumps(source_dict).encode("utf-8")
    return torch.tensor(list(data), dtype=torch.uint8)


def unpack_tensor_to_dict(tensor_data: torch.Tensor) -> dict:
    """Inverse of :func:`pack_dict_to_tensor`; raises ValueError on a corrupted tensor."""
    if not isinstance(tensor_data, torch.Tensor) or tensor_data.dtype != torch.uint8 or tensor_data.dim() != 1:
        raise ValueError(
            "bitsandbytes: a packed quant_state must be a 1-D uint8 tensor of UTF-8 JSON, got "
            f"{getattr(tensor_data, 'dtype', type(tensor_data))} with shape {tuple(getattr(tensor_data, 'shape', ()))}"
        )
    raw = bytes(tensor_data.cpu().tolist())
    try:
        result = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"bitsandbytes: corrupted packed quant_state (not UTF-8 JSON): {err}") from err
    if not isinstance(result, dict):
        raise ValueError(
            f"bitsandbytes: corrupted packed quant_state: expected a JSON object, got {type(result).__name__}"
        )
    return result


def replace_linear(
    model: torch.nn.Module,
    linear_replacement: Callable[..., torch.nn.Module],
    skip_modules: Sequence[str] = ("lm_head",),
    copy_weights: bool = False,
    post_processing_function: str | None = None,
) -> torch.nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (recursively) by ``linear_replacement(in, out, bias)``.

    ``skip_modules`` names child modules to leave alone. With ``copy_weights`` the
    old weight and bias are carried over; ``post_processing_function`` names a
    method of the new module to call afterwards.
    """
    for name, module in model.named_children():
        if len(list(module.children())) > 0:
            replace_linear(module, linear_replacement, skip_modules, copy_weights, post_processing_function)
        if isinstance(module, torch.nn.Linear) and name not in skip_modules:
            old = module
            new = linear_replacement(old.in_features, old.out_features, old.bias is not None)
            if copy_weights:
                new.weight = old.weight
                new.bias = old.bias
            setattr(model, name, new)
            if post_processing_function is not None:
                # As in the original: the named method is looked up on the replaced module.
                func = getattr(old, post_processing_function, None)
                if func is not None:
                    func(old)
    return model


def sync_gpu(t: torch.Tensor) -> None:
    """Wait for the device of ``t`` (no-op on the CPU)."""
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    elif t.device.type == "xpu":
        torch.xpu.synchronize(t.device)


def execute_and_return(command_string: str) -> tuple[str, str]:
    """Run a command (split like a shell, no shell) and return its stripped stdout and stderr."""
    result = subprocess.run(shlex.split(command_string), capture_output=True, check=False)
    return result.stdout.decode("UTF-8").strip(), result.stderr.decode("UTF-8").strip()


# ---------------------------------------------------------------------------
# Outlier tracing (for OutlierAwareLinear)
# ---------------------------------------------------------------------------
def find_outlier_dims(weight, reduction_dim=0, zscore=4.0, topk=None, rdm=False):
    """Indices of the dimensions of ``weight`` whose standard deviation (taken along
    ``reduction_dim``) is an outlier: a z-score above ``zscore`` among all of them, or
    the ``topk`` largest. ``rdm`` returns ``topk`` random column indices instead."""
    if rdm:
        if topk is None:
            raise ValueError("find_outlier_dims: rdm=True needs topk (the number of random dimensions)")
        return torch.randint(0, weight.shape[1], size=(topk,), device=weight.device).long()
    spread = weight.std(reduction_dim)
    if topk is not None:
        return torch.topk(spread.abs(), k=topk, dim=0).indices
    z = (spread - spread.mean()) / spread.std()
    return torch.nonzero(z > zscore).flatten()


def outlier_hook(module, input):
    """Forward pre-hook that :class:`OutlierTracer` puts on every ``nn.Linear``: on a layer's
    first call it records the layer's outlier input dimensions; when a layer is called a
    second time the trace is complete and every hook is removed."""
    if not isinstance(module, torch.nn.Linear):
        raise TypeError(f"outlier_hook: expected an nn.Linear, got {type(module).__name__}")
    tracer = OutlierTracer.get_instance()
    key = tracer.get_hvalue(module.weight)
    if key in tracer.hvalue2outlier_idx:
        for hook in tracer.hooks:
            hook.remove()
        return
    from_weight = find_outlier_dims(module.weight)
    tracer.outliers.append(from_weight)
    tracer.hvalues.append(key)
    if len(tracer.outliers) > 1:
        tracer.hvalue2outlier_idx[key] = from_weight
        return
    # The first traced layer: the rows of its input whose spread is a 3-sigma outlier, and the
    # hidden dimensions holding a value above 6 in magnitude.
    x = input[0]
    rows = x.reshape(-1, x.shape[-1])
    by_spread = find_outlier_dims(rows, reduction_dim=1, zscore=3)
    by_magnitude = torch.nonzero((rows.abs() > 6).any(0)).flatten()
    tracer.hvalue2outlier_idx[key] = torch.cat([by_spread, by_magnitude]).unique()


class OutlierTracer:
    """Process-wide registry of the outlier dimensions of each linear layer's input, keyed by
    the address of the layer's weight storage. Use :meth:`get_instance`, then
    :meth:`initialize` with the model before its first forward pass."""

    _instance = None

    def __init__(self):
        raise RuntimeError("Call get_instance() instead")

    def initialize(self, model: torch.nn.Module) -> None:
        self.last_w = None
        self.current_outlier_dims = None
        self.hvalues = []
        self.outliers = []
        self.hvalue2outlier_idx = {}
        self.initialized = True
        self.hooks = [
            m.register_forward_pre_hook(outlier_hook) for m in model.modules() if isinstance(m, torch.nn.Linear)
        ]

    def is_initialized(self) -> bool:
        return getattr(self, "initialized", False)

    def get_hvalue(self, weight: torch.Tensor) -> int:
        return weight.data.untyped_storage().data_ptr()

    def get_outliers(self, weight: torch.Tensor):
        if not self.is_initialized():
            logger.warning("Outlier tracer is not initialized...")
            return None
        return self.hvalue2outlier_idx.get(self.get_hvalue(weight))

    @classmethod
    def get_instance(cls) -> OutlierTracer:
        if cls._instance is None:
            cls._instance = cls.__new__(cls)
        return cls._instance
