"""4-bit NF4/FP4 quantization: the ops against the pure-PyTorch reference, the
original's golden bytes, every SIMD path, and bad input."""

import itertools

import pytest
import torch

import bitsandbytes.functional as F

import reference as ref
from conftest import load_fixture

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
BLOCKSIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]
QUANT_TYPES = ["nf4", "fp4"]


def _input(n, dtype):
    x = torch.randn(n) * 3
    if n > 300:
        x[:64] = 0.0  # an all-zero block
        x[100] = float("nan")
        x[200] = float("inf")
        x[260:270] = 1e-40  # denormals
    return x.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("blocksize", BLOCKSIZES)
def test_quantize_matches_reference(simd_level, dtype, quant_type, blocksize):
    for n in (1, 2, 31, 33, 64, 4097, 12345):
        x = _input(n, dtype)
        packed, absmax = torch.ops.bitsandbytes.quantize_4bit(x, blocksize, quant_type, torch.uint8)
        exp_packed, exp_absmax = ref.quantize_4bit(x, blocksize, quant_type)
        assert packed.shape == ((n + 1) // 2, 1)
        assert torch.equal(packed.view(-1), exp_packed), f"n={n}"
        torch.testing.assert_close(absmax, exp_absmax, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("blocksize", [32, 64, 4096])
def test_dequantize_matches_reference(simd_level, dtype, quant_type, blocksize):
    for n in (1, 2, 33, 4097, 12345):
        x = _input(n, torch.float32)
        packed, absmax = ref.quantize_4bit(x, blocksize, quant_type)
        out = torch.ops.bitsandbytes.dequantize_4bit(packed, absmax, blocksize, quant_type, [n], dtype)
        expected = ref.dequantize_4bit(packed, absmax, blocksize, quant_type, [n], dtype)
        torch.testing.assert_close(out, expected, rtol=0, atol=0, equal_nan=True)


def test_all_simd_paths_identical():
    from bitsandbytes import cextension

    from conftest import available_simd_levels

    x = _input(50001, torch.bfloat16)
    results = []
    for level in available_simd_levels():
        cextension._C.set_simd_level(level)
        q, a = torch.ops.bitsandbytes.quantize_4bit(x, 64, "nf4", torch.uint8)
        d = torch.ops.bitsandbytes.dequantize_4bit(q, a, 64, "nf4", [x.numel()], torch.bfloat16)
        results.append((q, a, d))
    cextension._C.set_simd_level(cextension._C.detected_simd_level())
    for q, a, d in results[1:]:
        assert torch.equal(q, results[0][0])
        torch.testing.assert_close(a, results[0][1], rtol=0, atol=0, equal_nan=True)
        torch.testing.assert_close(d, results[0][2], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
def test_golden_bytes_from_original(quant_type, dtype_name):
    fx = load_fixture("quantize_4bit")
    for bs in BLOCKSIZES:
        key = f"{quant_type}_{dtype_name}_{bs}"
        x = fx[f"{key}.input"]
        packed, state = F.quantize_4bit(x, blocksize=bs, quant_type=quant_type)
        assert torch.equal(packed, fx[f"{key}.packed"]), key
        torch.testing.assert_close(state.absmax, fx[f"{key}.absmax"], rtol=0, atol=0, equal_nan=True)
        torch.testing.assert_close(
            F.dequantize_4bit(packed, state), fx[f"{key}.dequant"], rtol=0, atol=0, equal_nan=True
        )


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("blocksize", [32, 64, 256])
def test_golden_double_quant_from_original(quant_type, dtype_name, blocksize):
    fx = load_fixture("quantize_4bit_nested")
    key = f"{quant_type}_{dtype_name}_{blocksize}"
    packed, st = F.quantize_4bit(
        fx[f"{key}.input"], blocksize=blocksize, quant_type=quant_type, compress_statistics=True
    )
    assert torch.equal(packed, fx[f"{key}.packed"])
    assert torch.equal(st.absmax, fx[f"{key}.qabsmax"])
    assert torch.equal(st.offset, fx[f"{key}.offset"])
    assert torch.equal(st.state2.absmax, fx[f"{key}.nested_absmax"])
    assert torch.equal(st.state2.code, fx[f"{key}.nested_code"])
    assert torch.equal(F.dequantize_4bit(packed, st), fx[f"{key}.dequant"])
    ours = st.as_dict(packed=True)
    theirs = {k[len(key) + len(".as_dict.") :]: v for k, v in fx.items() if k.startswith(f"{key}.as_dict.")}
    assert list(ours) == sorted(theirs, key=list(ours).index)
    for k, v in theirs.items():
        assert ours[k].dtype == v.dtype and torch.equal(ours[k], v), k


@pytest.mark.parametrize("storage", [torch.bfloat16, torch.float16, torch.float32, torch.int8, torch.uint8], ids=str)
def test_quant_storage_is_a_view_of_the_same_bytes(storage):
    x = torch.randn(64, 96)
    packed, st = F.quantize_4bit(x, quant_type="nf4", quant_storage=storage)
    itemsize = storage.itemsize
    assert packed.dtype == storage and packed.shape == (64 * 96 // (2 * itemsize), 1)
    ref_packed, _ = F.quantize_4bit(x, quant_type="nf4")
    assert torch.equal(packed.view(torch.uint8).view(-1), ref_packed.view(-1))
    torch.testing.assert_close(F.dequantize_4bit(packed, st), F.dequantize_4bit(ref_packed, st), rtol=0, atol=0)
    if storage.is_floating_point:
        fx = load_fixture("quantize_4bit_nested")
        name = str(storage).replace("torch.", "")
        if f"storage_{name}.packed" in fx:
            theirs = fx[f"storage_{name}.packed"]
            ours, _ = F.quantize_4bit(fx[f"storage_{name}.input"], quant_type="nf4", quant_storage=storage)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            assert torch.equal(ours.view(torch.uint8), theirs.view(torch.uint8))


@pytest.mark.parametrize("quant_type,mean_abs_err", [("nf4", 0.072798), ("fp4", 0.096543)])
def test_roundtrip_error_within_published_bounds(quant_type, mean_abs_err):
    # SPEC §10: mean abs error of the original at bs 64 on randn(1024, 1024); mu + 7 sigma over seeds
    errs = []
    for seed in range(5):
        torch.manual_seed(seed)
        x = torch.randn(1024, 1024)
        q, st = F.quantize_4bit(x, blocksize=64, quant_type=quant_type)
        errs.append((F.dequantize_4bit(q, st) - x).abs().mean().item())
    assert max(errs) < mean_abs_err * 1.01
    for compress in (True,):
        q, st = F.quantize_4bit(x, blocksize=64, quant_type=quant_type, compress_statistics=compress)
        err = (F.dequantize_4bit(q, st) - x).abs()
        assert err.mean().item() < 0.11
        assert (err / (x.abs() + 1e-8)).median().item() < 0.28


@pytest.mark.parametrize("shape", [(0,), (0, 5), (1,), (3, 1), (2, 3, 5), (7, 0, 3)])
def test_shapes_and_empty_tensors(shape):
    x = torch.randn(shape)
    q, st = F.quantize_4bit(x, quant_type="nf4")
    n = x.numel()
    assert q.shape == ((n + 1) // 2, 1) and st.absmax.shape == (-(-n // 64),)
    out = torch.ops.bitsandbytes.dequantize_4bit(q, st.absmax, 64, "nf4", list(shape), torch.float32)
    assert out.shape == shape
    assert torch.equal(out, ref.dequantize_4bit(q, st.absmax, 64, "nf4", list(shape), torch.float32))


def test_dequantize_out_variant():
    x = torch.randn(300, 7, dtype=torch.bfloat16)
    q, st = F.quantize_4bit(x, quant_type="fp4")
    out = torch.empty(300, 7, dtype=torch.bfloat16)
    r = F.dequantize_4bit(q, st, out=out)
    assert r.data_ptr() == out.data_ptr()
    assert torch.equal(out, F.dequantize_4bit(q, st))


def test_transposed_packed_input_is_transposed_back():
    x = torch.randn(16, 4)
    q, st = F.quantize_4bit(x, quant_type="nf4")
    out = F.dequantize_4bit(q.t(), st)  # packed shape [1, n]: the original's transposed-weight convention
    assert out.shape == (4, 16)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bs", [0, 16, 48, 100, 8192, -64])
def test_invalid_blocksize(bs):
    with pytest.raises(ValueError, match=f"blocksize must be a power of two from 32 to 4096, got {bs}"):
        torch.ops.bitsandbytes.quantize_4bit(torch.randn(128), bs, "nf4", torch.uint8)
    with pytest.raises(ValueError, match="blocksize"):
        torch.ops.bitsandbytes.dequantize_4bit(
            torch.zeros(64, dtype=torch.uint8), torch.ones(2), bs, "nf4", [128], torch.float32
        )


@pytest.mark.parametrize("dtype", [torch.int8, torch.int32, torch.float64, torch.uint8], ids=str)
def test_invalid_input_dtype(dtype):
    with pytest.raises(TypeError, match=f"A must be float16, bfloat16 or float32, got {dtype}"):
        torch.ops.bitsandbytes.quantize_4bit(torch.zeros(64, dtype=dtype), 64, "nf4", torch.uint8)


def test_invalid_quant_type():
    with pytest.raises(ValueError, match="quant_type must be 'nf4' or 'fp4', got 'int4'"):
        torch.ops.bitsandbytes.quantize_4bit(torch.randn(64), 64, "int4", torch.uint8)


def test_quant_storage_that_does_not_divide():
    with pytest.raises(ValueError, match="not a whole number of"):
        torch.ops.bitsandbytes.quantize_4bit(torch.randn(6), 64, "nf4", torch.float32)


def test_mismatched_quant_state_is_rejected():
    x = torch.randn(1000)
    q, st = F.quantize_4bit(x, quant_type="nf4")
    with pytest.raises(ValueError, match="absmax has 8 entries but 1000 elements in blocks of 64 need 16"):
        torch.ops.bitsandbytes.dequantize_4bit(q, st.absmax[:8], 64, "nf4", [1000], torch.float32)
    with pytest.raises(
        ValueError, match=r"A \(the packed 4-bit tensor\) holds 500 bytes but the 2000 elements of shape need 1000"
    ):
        torch.ops.bitsandbytes.dequantize_4bit(q, torch.ones(40), 64, "nf4", [2000], torch.float32)
    with pytest.raises(TypeError, match="absmax must be torch.float32, got torch.float16"):
        torch.ops.bitsandbytes.dequantize_4bit(q, st.absmax.half(), 64, "nf4", [1000], torch.float32)
    with pytest.raises(ValueError, match="out has shape"):
        F.dequantize_4bit(q, st, out=torch.empty(999))


def test_meta_inputs_give_shapes_only():
    x = torch.empty(1000, 3, device="meta", dtype=torch.bfloat16)
    q, absmax = torch.ops.bitsandbytes.quantize_4bit(x, 64, "nf4", torch.bfloat16)
    assert q.device.type == "meta" and q.shape == (750, 1) and q.dtype == torch.bfloat16
    assert absmax.shape == (47,)


def test_every_combination_of_dtype_and_type_roundtrips():
    for dtype, qt in itertools.product(DTYPES, QUANT_TYPES):
        x = torch.randn(64, 64, dtype=dtype)  # (a 1-D state comes back as [1, n] on the CPU: test_api_compat.py)
        q, st = F.quantize_4bit(x, quant_type=qt)
        d = F.dequantize_4bit(q, st)
        assert d.dtype == dtype and d.shape == x.shape
        assert (d.float() - x.float()).abs().mean() < 0.12


def test_inputs_on_different_devices_are_rejected():
    # Reach the CPU kernel directly with an absmax on another device (a CPU-only
    # machine has no second real device; the meta device stands in).
    q, st = F.quantize_4bit(torch.randn(128), quant_type="nf4")
    cpu = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    with pytest.raises(RuntimeError, match="absmax is on meta but the input is on cpu"):
        torch.ops.bitsandbytes.dequantize_4bit.default.redispatch(
            cpu, q, st.absmax.to("meta"), 64, "nf4", [128], torch.float32
        )
