"""Every op passes torch.library.opcheck (schema, fake kernel, autograd
registration, AOT dispatch), and quantize + dequantize compile with fullgraph."""

import pytest
import torch

import bitsandbytes.functional as F

ops = torch.ops.bitsandbytes


def _4bit_args(dtype=torch.bfloat16, n=1000, bs=64, qt="nf4"):
    x = torch.randn(n, dtype=dtype)
    q, absmax = ops.quantize_4bit(x, bs, qt, torch.uint8)
    return x, q, absmax


@pytest.mark.parametrize("storage", [torch.uint8, torch.bfloat16])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_opcheck_quantize_4bit(dtype, storage):
    torch.library.opcheck(ops.quantize_4bit.default, (torch.randn(64, 33, dtype=dtype), 64, "nf4", storage))


@pytest.mark.parametrize("qt", ["nf4", "fp4"])
def test_opcheck_dequantize_4bit(qt):
    _, q, absmax = _4bit_args(qt=qt)
    torch.library.opcheck(ops.dequantize_4bit.default, (q, absmax, 64, qt, [10, 100], torch.bfloat16))
    out = torch.empty(10, 100, dtype=torch.float16)
    torch.library.opcheck(ops.dequantize_4bit.out, (q, absmax, 64, qt, [10, 100], torch.float16), {"out": out})


def test_opcheck_blockwise():
    code = F.create_dynamic_map()
    x = torch.randn(37, 51)
    torch.library.opcheck(ops.quantize_blockwise.default, (x, code, 256))
    q, absmax = ops.quantize_blockwise(x, code, 256)
    torch.library.opcheck(ops.dequantize_blockwise.default, (q, absmax, code, 256, torch.float16))
    out = torch.empty(37, 51, dtype=torch.bfloat16)
    torch.library.opcheck(ops.dequantize_blockwise.out, (q, absmax, code, 256, torch.bfloat16), {"out": out})


def test_compile_fullgraph_quantize_dequantize():
    torch._dynamo.reset()

    def roundtrip(x, code):
        q, absmax = ops.quantize_4bit(x, 64, "nf4", torch.uint8)
        y = ops.dequantize_4bit(q, absmax, 64, "nf4", list(x.shape), x.dtype)
        q8, a8 = ops.quantize_blockwise(absmax, code, 256)
        a = ops.dequantize_blockwise(q8, a8, code, 256, torch.float32)
        return y * 2, a

    x = torch.randn(128, 64, dtype=torch.bfloat16)
    code = F.create_dynamic_map()
    compiled = torch.compile(roundtrip, fullgraph=True, backend="aot_eager")
    y, a = compiled(x, code)
    ey, ea = roundtrip(x, code)
    assert torch.equal(y, ey) and torch.equal(a, ea)


def test_compile_functional_api_fullgraph():
    torch._dynamo.reset()

    def f(x):
        q, st = F.quantize_4bit(x, quant_type="fp4", compress_statistics=True)
        return F.dequantize_4bit(q, st)

    x = torch.randn(256, 64)
    out = torch.compile(f, fullgraph=True, backend="aot_eager")(x)
    assert torch.equal(out, f(x))
