"""QuantState: everything needed to dequantize a blockwise-quantized tensor,
and its checkpoint serialization (``as_dict`` / ``from_dict``)."""

from __future__ import annotations

from typing import Any

import torch

from . import _validate
from .utils import pack_dict_to_tensor, unpack_tensor_to_dict


def _dtype_name(dtype: torch.dtype) -> str:
    # The checkpoint spelling: str(torch.bfloat16).strip("torch.") -> "bfloat16".
    return str(dtype).strip("torch.")


def _parameter_name(key: str) -> str:
    """The parameter a checkpoint key belongs to: the prefix before its quant-state field
    ("model.layers.0.mlp.up_proj.weight.absmax" -> "model.layers.0.mlp.up_proj.weight"),
    or the name given by Transformers' loader, or "quant_state"."""
    prefix = key[: key.index("quant_state.")].rstrip(".") if "quant_state." in key else key.rpartition(".")[0]
    return _validate.transformers_layer_name() or prefix or "quant_state"


class QuantState:
    """State of a blockwise-quantized tensor.

    For 4-bit tensors ``absmax`` holds one fp32 scale per block, or, with double
    quantization (``nested``), uint8 codes of ``absmax - offset`` whose own
    blockwise state is ``state2``.
    """

    valid_quant_types = ("fp4", "nf4")
    valid_qs_type_keys = [f"bitsandbytes__{x}" for x in valid_quant_types]
    valid_qs_keys = [
        "absmax",
        "quant_map",
        "nested_absmax",
        "nested_quant_map",
        "quant_state",
        "quant_type",
        "blocksize",
        "dtype",
        "shape",
        "nested_blocksize",
        "nested_dtype",
        "nested_offset",
    ]

    def __init__(
        self,
        absmax: torch.Tensor,
        shape: torch.Size | tuple | None = None,
        code: torch.Tensor | None = None,
        blocksize: int | None = None,
        quant_type: str | None = None,
        dtype: torch.dtype | None = None,
        offset: torch.Tensor | None = None,
        state2: QuantState | None = None,
    ):
        self.absmax = absmax
        self.shape = shape
        self.code = code
        self.dtype = dtype
        self.blocksize = blocksize
        self.quant_type = quant_type
        self.offset = offset
        self.state2 = state2
        self.nested = state2 is not None

    def __getitem__(self, idx: int) -> Any:
        """Legacy list view: [absmax, shape, dtype, blocksize, [offset, state2] | None, quant_type]."""
        nested = [self.offset, self.state2] if self.nested else None
        return [self.absmax, self.shape, self.dtype, self.blocksize, nested, self.quant_type][idx]

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails. The packed checkpoint key
        # "quant_state.bitsandbytes__<type>" resolves by getattr (FSDP's state_dict walks
        # dotted names that way), so that last part reads as the packed tensor.
        if name.startswith("bitsandbytes__"):
            packed = self.as_dict(packed=True).get("quant_state." + name)
            if packed is not None:
                return packed
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @classmethod
    def from_dict(cls, qs_dict: dict[str, Any], device: torch.device | str) -> QuantState:
        """Rebuild a state from ``as_dict()`` output (packed or not). Key prefixes such as
        ``weight.`` are ignored (and name the parameter in errors). Raises ValueError naming
        the parameter and the field for a corrupted, inconsistent or incomplete dict
        (bitsandbytes._validate.check_quant_state)."""
        qs_dict = dict(_validate.check_mapping(qs_dict, "QuantState.from_dict: qs_dict"))
        packed_keys = [k for k, v in qs_dict.items() if "quant_state" in k and isinstance(v, torch.Tensor)]
        name = _parameter_name(packed_keys[0] if packed_keys else next(iter(qs_dict), ""))
        if not packed_keys and not any(k.split(".")[-1] == "quant_type" for k in qs_dict):
            raise ValueError(
                f"bitsandbytes: quant_state of {name}: expected packed or unpacked quant_state items, found neither "
                f"(keys: {sorted(qs_dict)})"
            )
        key_quant_type = None
        if packed_keys:
            if len(packed_keys) != 1 or packed_keys[0].split(".")[-1] not in cls.valid_qs_type_keys:
                raise ValueError(
                    f"bitsandbytes: there must be exactly one `quant_state` item ending in one of "
                    f"{cls.valid_qs_type_keys} for {name}, found {packed_keys}"
                )
            key_quant_type = packed_keys[0].split("__")[-1]
            try:
                qs_dict.update(unpack_tensor_to_dict(qs_dict.pop(packed_keys[0])))
            except ValueError as err:
                raise ValueError(
                    f"bitsandbytes: quant_state of {name}: {str(err).removeprefix('bitsandbytes: ')}"
                ) from err

        qs_dict = {k.split(".")[-1]: v for k, v in qs_dict.items()}
        unknown = set(qs_dict) - set(cls.valid_qs_keys)
        if unknown:
            raise ValueError(f"bitsandbytes: unexpected quant_state keys {sorted(unknown)} for {name}")
        required = ["quant_type", "absmax", "blocksize", "quant_map", "dtype", "shape"]
        missing = [k for k in required if k not in qs_dict]
        if missing:
            raise ValueError(f"bitsandbytes: corrupted quant_state of {name}: missing {missing}")
        quant_type = qs_dict["quant_type"]
        if quant_type not in cls.valid_quant_types:
            raise ValueError(f"bitsandbytes: corrupted quant_state of {name}: unknown quant_type {quant_type!r}")
        if key_quant_type is not None and key_quant_type != quant_type:
            raise ValueError(
                f"bitsandbytes: corrupted quant_state of {name}: quant_type is {quant_type!r} in the JSON but "
                f"{key_quant_type!r} in its key (quant_state.bitsandbytes__{key_quant_type})"
            )
        for k in ("absmax", "quant_map", "nested_absmax", "nested_quant_map"):
            if k in qs_dict and not isinstance(qs_dict[k], torch.Tensor):
                raise ValueError(
                    f"bitsandbytes: corrupted quant_state of {name}: {k} must be a tensor, got {type(qs_dict[k]).__name__}"
                )

        nested_keys = ("nested_absmax", "nested_blocksize", "nested_quant_map", "nested_dtype", "nested_offset")
        present = [k for k in nested_keys if k in qs_dict]
        if present and len(present) != len(nested_keys):
            raise ValueError(
                f"bitsandbytes: corrupted quant_state of {name}: {present} present but "
                f"{[k for k in nested_keys if k not in present]} missing (a double-quantized state needs all of "
                f"{list(nested_keys)})"
            )
        if present:
            offset = _validate.json_float(qs_dict["nested_offset"], name, "nested_offset")
            state2 = cls(
                absmax=qs_dict["nested_absmax"].to(device),
                blocksize=_validate.json_int(qs_dict["nested_blocksize"], name, "nested_blocksize", minimum=1),
                code=qs_dict["nested_quant_map"].to(device),
                dtype=_validate.json_dtype(qs_dict["nested_dtype"], name, "nested_dtype"),
            )
            offset = torch.tensor(offset).to(device)
        else:
            offset, state2 = None, None

        state = cls(
            quant_type=quant_type,
            absmax=qs_dict["absmax"].to(device),
            blocksize=_validate.json_int(qs_dict["blocksize"], name, "blocksize"),
            code=qs_dict["quant_map"].to(device),
            dtype=_validate.json_dtype(qs_dict["dtype"], name, "dtype"),
            shape=_validate.json_shape(qs_dict["shape"], name),
            offset=offset,
            state2=state2,
        )
        _validate.check_quant_state(state, name)
        return state

    def validate(self, name: str = "quant_state") -> None:
        """Check that the pieces fit together (bitsandbytes._validate.check_quant_state);
        ValueError naming ``name`` and the field."""
        _validate.check_quant_state(self, name)

    def as_dict(self, packed: bool = False) -> dict[str, Any]:
        """The checkpoint form. ``packed=True`` keeps only tensors and adds
        ``quant_state.bitsandbytes__<type>``, a uint8 tensor of the JSON of the rest."""
        qs_dict: dict[str, Any] = {
            "quant_type": self.quant_type,
            "absmax": self.absmax,
            "blocksize": self.blocksize,
            "quant_map": self.code,
            "dtype": _dtype_name(self.dtype),
            "shape": tuple(self.shape),
        }
        if self.nested:
            qs_dict.update(
                {
                    "nested_absmax": self.state2.absmax,
                    "nested_blocksize": self.state2.blocksize,
                    "nested_quant_map": self.state2.code.clone(),  # never share storage between layers
                    "nested_dtype": _dtype_name(self.state2.dtype),
                    "nested_offset": self.offset.item(),
                }
            )
        if not packed:
            return qs_dict
        tensors = {k: v for k, v in qs_dict.items() if isinstance(v, torch.Tensor)}
        others = {k: v for k, v in qs_dict.items() if not isinstance(v, torch.Tensor)}
        tensors[f"quant_state.bitsandbytes__{self.quant_type}"] = pack_dict_to_tensor(others)
        return tensors

    def to(self, device: torch.device | str) -> QuantState:
        """Move the tensors to ``device`` in place (and return self)."""
        self.code = self.code.to(device) if self.code is not None else None
        self.absmax = self.absmax.to(device)
        if self.nested:
            self.offset = self.offset.to(device)
            self.state2.absmax = self.state2.absmax.to(device)
            self.state2.code = self.state2.code.to(device)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantState):
            return False

        def close(a, b):
            if a is None or b is None:
                return a is b
            return a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=1e-6)

        return (
            close(self.absmax, other.absmax)
            and self.shape == other.shape
            and close(self.code, other.code)
            and self.dtype == other.dtype
            and self.blocksize == other.blocksize
            and self.quant_type == other.quant_type
            and (
                self.offset == other.offset
                if self.offset is not None and other.offset is not None
                else self.offset is other.offset
            )
            and (
                self.state2 == other.state2
                if self.state2 is not None and other.state2 is not None
                else self.state2 is other.state2
            )
        )

    __hash__ = None  # mutable, compared by value

    def __repr__(self) -> str:
        return (
            f"QuantState(quant_type={self.quant_type!r}, shape={tuple(self.shape) if self.shape is not None else None}, "
            f"dtype={self.dtype}, blocksize={self.blocksize}, nested={self.nested})"
        )
