import os

import pytest
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def load_fixture(name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(os.path.join(FIXTURES, f"{name}.safetensors"))


def available_simd_levels() -> list[str]:
    from bitsandbytes import cextension

    best = cextension._C.detected_simd_level()
    order = ["scalar", "avx2", "avx512", "amx"]
    return order[: order.index(best) + 1]


@pytest.fixture(params=["scalar", "avx2", "avx512", "amx"])
def simd_level(request):
    """Runs the test once per CPU SIMD path this machine has (others are skipped)."""
    from bitsandbytes import cextension

    if request.param not in available_simd_levels():
        pytest.skip(f"this CPU has no {request.param} path")
    previous = cextension._C.simd_level()
    cextension._C.set_simd_level(request.param)
    yield request.param
    cextension._C.set_simd_level(previous)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
