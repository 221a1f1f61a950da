"""Corrupted Transformers checkpoints (4-bit and 8-bit) of a tiny Llama: loading fails,
no model is returned, and the load report names the module path and the field
(docs/differences.md, "Bad input"; the checkpoint layout is in docs/formats.md)."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil

import pytest
import torch

from bitsandbytes.utils import pack_dict_to_tensor, unpack_tensor_to_dict

import tiny_models

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402

LAYER = "model.layers.0.mlp.up_proj"  # weight [128, 64]
WEIGHT = LAYER + ".weight"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    source = tiny_models.save_tiny_llama(str(root / "fp32"))
    configs = {
        "nf4": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True),
        "int8": BitsAndBytesConfig(load_in_8bit=True),
    }
    for name, config in configs.items():
        model = AutoModelForCausalLM.from_pretrained(source, quantization_config=config, dtype=torch.float32)
        model.save_pretrained(str(root / name))
    return root


def _packed_key(sd):
    return next(k for k in sd if k.startswith(WEIGHT + ".quant_state."))


def _json(**changes):
    def spoil(sd):
        key = _packed_key(sd)
        sd[key] = pack_dict_to_tensor(unpack_tensor_to_dict(sd[key]) | changes)

    return spoil


def _swap_quant_type_in_key_and_json(sd):
    meta = unpack_tensor_to_dict(sd.pop(_packed_key(sd)))
    sd[WEIGHT + ".quant_state.bitsandbytes__fp4"] = pack_dict_to_tensor(meta | {"quant_type": "fp4"})


def _nan(key):
    def spoil(sd):
        sd[key] = sd[key].clone().fill_(float("nan"))

    return spoil


CASES_4BIT = {
    "shape swapped": (_json(shape=[64, 128]), "shape"),
    "fp4 in the JSON under an __nf4 key": (_json(quant_type="fp4"), "quant_type"),
    "fp4 in key and JSON, nf4 data": (_swap_quant_type_in_key_and_json, "quant_map"),
    "NaN nested absmax": (_nan(WEIGHT + ".nested_absmax"), "nested_absmax"),
    "NaN nested offset": (_json(nested_offset=float("nan")), "nested_offset"),
    "blocksize 0": (_json(blocksize=0), "blocksize"),
    "blocksize not an integer": (_json(blocksize="sixty-four"), "blocksize"),
    "shape of strings": (_json(shape=["128", "64"]), "shape"),
    "nested_absmax missing": (lambda sd: sd.pop(WEIGHT + ".nested_absmax"), "nested_absmax"),
    "quant_map scaled": (lambda sd: sd.__setitem__(WEIGHT + ".quant_map", sd[WEIGHT + ".quant_map"] * 2), "quant_map"),
}
CASES_8BIT = {
    "NaN SCB": (_nan(LAYER + ".SCB"), "SCB"),
    "SCB one row short": (lambda sd: sd.__setitem__(LAYER + ".SCB", sd[LAYER + ".SCB"][:-1].clone()), "SCB"),
    "weight_format 7": (
        lambda sd: sd.__setitem__(LAYER + ".weight_format", torch.tensor(7, dtype=torch.uint8)),
        "weight_format",
    ),
    "weight transposed": (
        lambda sd: sd.__setitem__(WEIGHT, sd[WEIGHT].t().contiguous()),
        "weight",
    ),
}


def _load_corrupted(checkpoints, kind, spoil, tmp_path):
    folder = str(tmp_path / "corrupted")
    shutil.copytree(str(checkpoints / kind), folder)
    path = os.path.join(folder, "model.safetensors")
    sd = load_file(path)
    spoil(sd)
    save_file(sd, path, metadata={"format": "pt"})
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        with pytest.raises(RuntimeError, match="issues during automatic conversion"):
            AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    finally:
        logger.removeHandler(handler)
    return log.getvalue()


def _our_message(report: str) -> str:
    """The line of the load report that holds this package's error."""
    lines = [ln for ln in report.splitlines() if ln.startswith(("ValueError: ", "TypeError: "))]
    assert lines, report
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES_4BIT))
def test_corrupted_4bit_checkpoint_fails_naming_module_and_field(checkpoints, case, tmp_path):
    spoil, field = CASES_4BIT[case]
    message = _our_message(_load_corrupted(checkpoints, "nf4", spoil, tmp_path))
    assert f"quant_state of {WEIGHT}:" in message and re.search(rf"(?<![\w.]){field}(?!\w)", message), message


@pytest.mark.parametrize("case", sorted(CASES_8BIT))
def test_corrupted_8bit_checkpoint_fails_naming_module_and_field(checkpoints, case, tmp_path):
    spoil, field = CASES_8BIT[case]
    message = _our_message(_load_corrupted(checkpoints, "int8", spoil, tmp_path))
    assert f"{LAYER}.{field}" in message, message


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_the_uncorrupted_checkpoints_load(checkpoints, kind):
    model = AutoModelForCausalLM.from_pretrained(str(checkpoints / kind), dtype=torch.float32)
    with torch.no_grad():
        assert torch.isfinite(model(tiny_models.PROMPT_IDS).logits).all()
