"""Bit-exact agreement with the original bitsandbytes 0.50 (fixtures made by
tools/make_fixtures.py in the reference environment)."""

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F

from conftest import load_fixture

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@pytest.fixture(scope="module")
def fx():
    return load_fixture("int8_ops")


@pytest.mark.parametrize("dname", list(DTYPES))
@pytest.mark.parametrize("thr", [0, 6])
def test_vectorwise_quant_bytes(fx, dname, thr):
    key = f"vq_{dname}_{thr}"
    q, s, cols = F.int8_vectorwise_quant(fx[f"{key}.input"], threshold=float(thr))
    assert torch.equal(q, fx[f"{key}.q"])
    assert torch.equal(s, fx[f"{key}.stats"])
    if thr:
        assert torch.equal(cols, fx[f"{key}.cols"])


def test_dequant_and_matmul_bytes(fx, simd_level):
    assert torch.equal(F.int8_vectorwise_dequant(fx["vq_float32_0.q"], fx["vq_float32_0.stats"]), fx["dequant.out"])
    i32 = F.int8_linear_matmul(fx["mm.CA"], fx["mm.CB"])
    assert torch.equal(i32, fx["mm.i32"])
    assert torch.equal(F.int8_mm_dequant(i32, fx["mm.SCA"], fx["mm.SCB"]), fx["mm.dequant_fp16"])
    for dname, dtype in DTYPES.items():
        got = torch.ops.bitsandbytes.int8_scaled_mm(
            fx["mm.CA"], fx["mm.CB"], fx["mm.SCA"], fx["mm.SCB"], bias=fx["mm.bias"].to(dtype), dtype=dtype
        )
        assert torch.equal(got, fx[f"mm.scaled_{dname}"]), dname


@pytest.mark.parametrize("thr", [0, 6])
def test_linear8bitlt_forward_bytes(fx, thr):
    lin = bnb.nn.Linear8bitLt(96, 24, bias=True, has_fp16_weights=False, threshold=float(thr))
    lin.weight = bnb.nn.Int8Params(fx["linear.W"].clone(), requires_grad=False, has_fp16_weights=False)
    lin.bias.data = fx["linear.bias"].clone()
    lin = lin.to("cpu")
    assert torch.equal(lin.weight.data, fx["linear.CB"]) and torch.equal(lin.weight.SCB, fx["linear.SCB"])
    x = fx["vq_float32_0.input"]
    lin.eval()
    for dname, dtype in DTYPES.items():
        want = fx[f"linear_{thr}.eval_{dname}"]
        got = lin(x.to(dtype))
        assert got.dtype == want.dtype
        if thr == 0 or dtype == torch.float32:
            assert torch.equal(got, want), dname
        else:  # the 16-bit outlier product runs through torch's addmm
            torch.testing.assert_close(got, want)
    lin.train()
    assert torch.equal(lin(x), fx[f"linear_{thr}.train_float32"])
