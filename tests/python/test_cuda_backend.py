"""The CUDA/HIP kernels against the CPU backend (the reference backend): 4-bit
packing and absmax bit-exact, 8-bit blockwise within the CPU grid rule."""

import pytest
import torch

import bitsandbytes.functional as F

import reference as ref

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm device")

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("blocksize", [32, 64, 256, 4096])
def test_quantize_4bit_matches_cpu(dtype, quant_type, blocksize):
    x = torch.randn(12345, dtype=dtype)
    x[:64] = 0
    x[100] = float("nan")
    qc, ac = torch.ops.bitsandbytes.quantize_4bit(x, blocksize, quant_type, torch.uint8)
    qg, ag = torch.ops.bitsandbytes.quantize_4bit(x.cuda(), blocksize, quant_type, torch.uint8)
    assert torch.equal(qg.cpu(), qc)
    torch.testing.assert_close(ag.cpu(), ac, rtol=0, atol=0, equal_nan=True)
    for out_dtype in DTYPES:
        dc = torch.ops.bitsandbytes.dequantize_4bit(qc, ac, blocksize, quant_type, [12345], out_dtype)
        dg = torch.ops.bitsandbytes.dequantize_4bit(qg, ag, blocksize, quant_type, [12345], out_dtype)
        torch.testing.assert_close(dg.cpu(), dc, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("blocksize", [64, 256, 4096])
def test_blockwise_matches_cpu_rule(dtype, blocksize):
    code = F.create_dynamic_map()
    x = torch.randn(50000, dtype=dtype)
    qg, ag = torch.ops.bitsandbytes.quantize_blockwise(x.cuda(), code.cuda(), blocksize)
    nearest, absmax = ref.quantize_blockwise_nearest(x, code, blocksize)
    assert torch.equal(ag.cpu(), absmax)
    assert torch.equal(qg.cpu(), nearest)  # the GPU takes the exact nearest code
    qc, _ = torch.ops.bitsandbytes.quantize_blockwise(x, code, blocksize)
    assert (qc != qg.cpu()).float().mean() < 0.01  # the CPU grid rule differs only next to midpoints
    dg = torch.ops.bitsandbytes.dequantize_blockwise(qg, ag, code.cuda(), blocksize, dtype)
    dc = torch.ops.bitsandbytes.dequantize_blockwise(qg.cpu(), ag.cpu(), code, blocksize, dtype)
    assert torch.equal(dg.cpu(), dc)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unaligned_views_take_the_elementwise_paths(dtype):
    """A view one element past an aligned address (the kernels' scalar paths) gives the same bytes."""
    x = torch.randn(20001, dtype=dtype).cuda()[1:]
    assert x.data_ptr() % 16 != 0
    for blocksize in (64, 4096):
        q, a = torch.ops.bitsandbytes.quantize_4bit(x, blocksize, "nf4", torch.uint8)
        qa, aa = torch.ops.bitsandbytes.quantize_4bit(x.clone(), blocksize, "nf4", torch.uint8)
        assert torch.equal(q, qa) and torch.equal(a, aa)
        out = torch.empty(20001, dtype=dtype, device="cuda")[1:]
        torch.ops.bitsandbytes.dequantize_4bit.out(q, a, blocksize, "nf4", [20000], dtype, out=out)
        assert torch.equal(out, torch.ops.bitsandbytes.dequantize_4bit(q, a, blocksize, "nf4", [20000], dtype))
    code = F.create_dynamic_map().cuda()
    q, a = torch.ops.bitsandbytes.quantize_blockwise(x, code, 256)
    qa, aa = torch.ops.bitsandbytes.quantize_blockwise(x.clone(), code, 256)
    assert torch.equal(q, qa) and torch.equal(a, aa)


@pytest.mark.parametrize("blocksize", [1, 32, 100, 5000])
def test_blockwise_other_blocksizes_take_the_exact_nearest_code(blocksize):
    """Blocksizes outside the vector kernels' powers of two (the op takes any) run the strided kernel."""
    code = F.create_dynamic_map()
    x = torch.randn(3 * blocksize + 7)
    qg, ag = torch.ops.bitsandbytes.quantize_blockwise(x.cuda(), code.cuda(), blocksize)
    nearest, absmax = ref.quantize_blockwise_nearest(x, code, blocksize)
    assert torch.equal(ag.cpu(), absmax) and torch.equal(qg.cpu(), nearest)
    dg = torch.ops.bitsandbytes.dequantize_blockwise(qg, ag, code.cuda(), blocksize, torch.float32)
    assert torch.equal(
        dg.cpu(), torch.ops.bitsandbytes.dequantize_blockwise(qg.cpu(), ag.cpu(), code, blocksize, torch.float32)
    )


def test_mixed_devices_are_rejected():
    q, st = F.quantize_4bit(torch.randn(128, device="cuda"), quant_type="nf4")
    with pytest.raises(RuntimeError, match="absmax is on cpu but the input is on cuda"):
        torch.ops.bitsandbytes.dequantize_4bit(q, st.absmax.cpu(), 64, "nf4", [128], torch.float32)
