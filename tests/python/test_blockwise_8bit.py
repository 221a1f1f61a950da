"""8-bit blockwise quantization: the ops against the pure-PyTorch reference, the
original's golden bytes, every SIMD path, quality floors and bad input."""

import pytest
import torch

import bitsandbytes.functional as F

import reference as ref
from conftest import load_fixture

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def _input(n, dtype):
    x = torch.randn(n) * 2
    if n > 300:
        x[:64] = 0.0
        x[100] = float("nan")
        x[200] = float("inf")
        x[260:270] = 1e-40
    return x.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("blocksize", [1, 3, 64, 100, 256, 4096])
def test_quantize_matches_reference(simd_level, dtype, blocksize):
    code = F.create_dynamic_map()
    for n in (1, 17, 300, 5001):
        x = _input(n, dtype)
        q, absmax = torch.ops.bitsandbytes.quantize_blockwise(x, code, blocksize)
        eq, eabsmax = ref.quantize_blockwise(x, code, blocksize)
        assert q.shape == x.shape and q.dtype == torch.uint8
        assert torch.equal(q, eq), f"n={n}"
        torch.testing.assert_close(absmax, eabsmax, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("blocksize", [1, 64, 100, 4096])
def test_dequantize_matches_reference(simd_level, dtype, blocksize):
    code = F.create_dynamic_map()
    for n in (1, 17, 5001):
        q = torch.randint(0, 256, (n,), dtype=torch.uint8)
        absmax = torch.rand(-(-n // blocksize)) * 3
        absmax[0] = float("nan")
        out = torch.ops.bitsandbytes.dequantize_blockwise(q, absmax, code, blocksize, dtype)
        expected = ref.dequantize_blockwise(q, absmax, code, blocksize, dtype)
        torch.testing.assert_close(out, expected, rtol=0, atol=0, equal_nan=True)


def test_near_nearest_code_everywhere():
    # The CPU bytes snap to a 65536-point grid first: never further than half a grid step from the nearest code.
    code = F.create_dynamic_map()
    x = torch.rand(100000) * 2 - 1
    x[0] = 1.0
    q, st = F.quantize_blockwise(x, blocksize=100000)
    nq, _ = ref.quantize_blockwise_nearest(x, code, 100000)
    got = code[q.long()]
    best = code[nq.long()]
    assert ((got - x).abs() - (best - x).abs()).max() <= 1.0 / 32767.5
    assert (q != nq).float().mean() < 0.01


@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
def test_golden_bytes_from_original(dtype_name):
    fx = load_fixture("quantize_blockwise")
    for bs in (1, 3, 64, 100, 256, 1000, 4096):
        key = f"{dtype_name}_{bs}"
        q, st = F.quantize_blockwise(fx[f"{key}.input"], blocksize=bs)
        assert torch.equal(q, fx[f"{key}.q"]), key
        torch.testing.assert_close(st.absmax, fx[f"{key}.absmax"], rtol=0, atol=0, equal_nan=True)
        torch.testing.assert_close(F.dequantize_blockwise(q, st), fx[f"{key}.dequant"], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", ["unsigned", "linear"])
def test_golden_bytes_other_codes(name):
    fx = load_fixture("quantize_blockwise")
    q, st = F.quantize_blockwise(fx[f"code_{name}.input"], code=fx[f"code_{name}.code"], blocksize=256)
    assert torch.equal(q, fx[f"code_{name}.q"])
    assert torch.equal(st.absmax, fx[f"code_{name}.absmax"])


def test_golden_nested():
    fx = load_fixture("quantize_blockwise")
    q, st = F.quantize_blockwise(fx["nested.input"], blocksize=256, nested=True)
    assert torch.equal(q, fx["nested.q"])
    assert torch.equal(st.absmax, fx["nested.qabsmax"])
    assert torch.equal(st.offset, fx["nested.offset"])
    assert torch.equal(st.state2.absmax, fx["nested.nested_absmax"])
    assert torch.equal(F.dequantize_blockwise(q, st), fx["nested.dequant"])


def test_quality_floors():
    # SPEC §10: randn abs < 0.011, rel < 0.018; signed map on [-1,1] abs < 0.0036; unsigned on [0,1] abs < 0.0023
    x = torch.randn(1024, 1024)
    q, st = F.quantize_blockwise(x)
    err = (F.dequantize_blockwise(q, st) - x).abs()
    assert err.mean() < 0.011
    assert (err / (x.abs() + 1e-8)).mean() < 0.018
    x = torch.rand(1024, 1024) * 2 - 1
    q, st = F.quantize_blockwise(x)
    assert (F.dequantize_blockwise(q, st) - x).abs().mean() < 0.0036
    x = torch.rand(1024, 1024)
    code = F.create_dynamic_map(signed=False)
    q, st = F.quantize_blockwise(x, code=code)
    assert (F.dequantize_blockwise(q, st) - x).abs().mean() < 0.0023


def test_out_and_absmax_arguments():
    x = torch.randn(3, 500)
    out = torch.empty(3, 500, dtype=torch.uint8)
    absmax = torch.empty(1)
    q, st = F.quantize_blockwise(x, out=out, absmax=absmax)
    assert q.data_ptr() == out.data_ptr() and st.absmax.data_ptr() == absmax.data_ptr()
    d = torch.empty(3, 500)
    r = F.dequantize_blockwise(q, st, out=d)
    assert r.data_ptr() == d.data_ptr()
    assert torch.equal(d, F.dequantize_blockwise(q, absmax=st.absmax))


def test_empty_tensor():
    q, st = F.quantize_blockwise(torch.empty(0, 7))
    assert q.shape == (0, 7) and st.absmax.shape == (0,)
    assert F.dequantize_blockwise(q, st).shape == (0, 7)


def test_all_simd_paths_identical():
    from bitsandbytes import cextension

    from conftest import available_simd_levels

    x = _input(70001, torch.float16)
    code = F.create_dynamic_map()
    outs = []
    for level in available_simd_levels():
        cextension._C.set_simd_level(level)
        q, a = torch.ops.bitsandbytes.quantize_blockwise(x, code, 256)
        outs.append((q, a, torch.ops.bitsandbytes.dequantize_blockwise(q, a, code, 256, torch.bfloat16)))
    cextension._C.set_simd_level(cextension._C.detected_simd_level())
    for q, a, d in outs[1:]:
        assert torch.equal(q, outs[0][0])
        assert torch.equal(a, outs[0][1])
        torch.testing.assert_close(d, outs[0][2], rtol=0, atol=0, equal_nan=True)


# bad input -------------------------------------------------------------------
@pytest.mark.parametrize("bs", [0, -1])
def test_invalid_blocksize(bs):
    with pytest.raises(ValueError, match=f"blocksize must be positive, got {bs}"):
        torch.ops.bitsandbytes.quantize_blockwise(torch.randn(10), F.create_dynamic_map(), bs)


def test_invalid_code():
    with pytest.raises(ValueError, match="code must have 256 entries, got 16"):
        torch.ops.bitsandbytes.quantize_blockwise(torch.randn(10), torch.rand(16), 64)
    with pytest.raises(TypeError, match="code must be torch.float32, got torch.float64"):
        torch.ops.bitsandbytes.quantize_blockwise(torch.randn(10), torch.rand(256, dtype=torch.float64), 64)


def test_invalid_dtypes():
    code = F.create_dynamic_map()
    with pytest.raises(TypeError, match="A must be float16, bfloat16 or float32, got torch.int32"):
        torch.ops.bitsandbytes.quantize_blockwise(torch.zeros(10, dtype=torch.int32), code, 64)
    with pytest.raises(TypeError, match="A must be torch.uint8, got torch.float32"):
        torch.ops.bitsandbytes.dequantize_blockwise(torch.zeros(10), torch.ones(1), code, 64, torch.float32)
    with pytest.raises(TypeError, match="dtype must be float16, bfloat16 or float32, got torch.int8"):
        torch.ops.bitsandbytes.dequantize_blockwise(
            torch.zeros(10, dtype=torch.uint8), torch.ones(1), code, 64, torch.int8
        )


def test_absmax_too_short():
    code = F.create_dynamic_map()
    with pytest.raises(ValueError, match="absmax has 1 entries but 100 elements in blocks of 64 need 2"):
        torch.ops.bitsandbytes.dequantize_blockwise(
            torch.zeros(100, dtype=torch.uint8), torch.ones(1), code, 64, torch.float32
        )


def test_dequantize_needs_a_state():
    with pytest.raises(ValueError, match="needs either quant_state or absmax"):
        F.dequantize_blockwise(torch.zeros(10, dtype=torch.uint8))
