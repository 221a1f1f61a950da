"""The drop-in contract: distribution identity and what Transformers, PEFT and
Accelerate check before they use the package."""

import importlib.metadata
import subprocess
import sys

import torch

import bitsandbytes


def test_version_equals_metadata():
    assert bitsandbytes.__version__ == importlib.metadata.version("bitsandbytes") == "0.50.2"
    assert importlib.metadata.metadata("bitsandbytes")["Name"] == "bitsandbytes"


def test_identity_attributes():
    assert bitsandbytes.features == {"multi_backend"}
    assert isinstance(bitsandbytes.supported_torch_devices, set)
    assert "cpu" in bitsandbytes.supported_torch_devices
    assert all(isinstance(d, str) and d.isidentifier() for d in bitsandbytes.supported_torch_devices)


def test_cextension_globals():
    from bitsandbytes.cextension import BNB_BACKEND, HIP_ENVIRONMENT

    assert isinstance(HIP_ENVIRONMENT, bool)
    assert BNB_BACKEND in ("CPU", "CUDA", "ROCm")


def test_import_is_silent_and_needs_no_gpu():
    code = "import bitsandbytes, bitsandbytes.functional, bitsandbytes.utils"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""}
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_ops_are_registered():
    for name in ("quantize_4bit", "dequantize_4bit", "quantize_blockwise", "dequantize_blockwise"):
        assert hasattr(torch.ops.bitsandbytes, name)


def test_transformers_sees_bitsandbytes():
    from transformers.utils.import_utils import is_bitsandbytes_available

    is_bitsandbytes_available.cache_clear() if hasattr(is_bitsandbytes_available, "cache_clear") else None
    assert is_bitsandbytes_available()


def test_accelerate_sees_bitsandbytes():
    from accelerate.utils import imports

    assert imports.is_bnb_available()
    assert imports.is_4bit_bnb_available()
    assert imports.is_8bit_bnb_available()
    assert imports.is_bitsandbytes_multi_backend_available()


def test_peft_sees_bitsandbytes():
    from peft import import_utils

    assert import_utils.is_bnb_available()
