"""Behaviour a user of the original 0.50.2 relies on outside Transformers/PEFT, checked
against the original's outputs (tests/fixtures/api_behaviour.safetensors, made by
tools/api_fixtures.py) where the output is data, and against its observed warnings,
errors and shapes otherwise. Formats: docs/formats.md; deliberate differences:
docs/differences.md.
"""

import ctypes
import json
import logging
import pathlib
import warnings

import pytest
import torch
from safetensors import safe_open

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.utils import OutlierTracer, execute_and_return, find_outlier_dims

from conftest import load_fixture

FIXTURE = pathlib.Path(__file__).parent.parent / "fixtures" / "api_behaviour.safetensors"


@pytest.fixture(scope="module")
def ref():
    with safe_open(str(FIXTURE), "pt") as f:
        meta = json.loads(f.metadata()["meta"])
    return load_fixture("api_behaviour"), meta


def test_version_is_0_50_2():
    assert bnb.__version__ == "0.50.2"


# ---------------------------------------------------------------------------
# Quantization bytes (docs/formats.md)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(5))
def test_partial_last_block_bytes_equal_the_original(ref, case):
    # the last block divides by its absmax; x * (1/absmax) flips a code now and then
    tensors, meta = ref
    quant_type, blocksize = meta[f"partial{case}"]
    x = tensors[f"partial{case}.x"]
    packed, state = F.quantize_4bit(x, blocksize=blocksize, quant_type=quant_type)
    assert torch.equal(packed, tensors[f"partial{case}.packed"])
    assert torch.equal(state.absmax, tensors[f"partial{case}.absmax"])


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("kind", ["dynamic", "fp8"])
def test_few_bit_maps_and_their_blockwise_bytes_equal_the_original(ref, kind, bits):
    tensors, _ = ref
    ebits = -(-bits // 2)
    if kind == "dynamic":
        code = F.create_dynamic_map(True, bits, bits)  # max_exponent_bits >= total_bits - 1
    else:
        code = F.create_fp8_map(True, ebits, bits - ebits - 1, bits)
    prefix = f"fewbit.{kind}{bits}"
    assert torch.equal(code, tensors[f"{prefix}.code"])
    # 256 entries, 2^bits distinct values padded with zeros; repeated zeros must not
    # capture values that a nonzero code is nearer to
    q, state = F.quantize_blockwise(tensors["fewbit.values"], code=code, blocksize=256)
    assert torch.equal(q, tensors[f"{prefix}.q"])
    assert torch.equal(state.absmax, tensors[f"{prefix}.absmax"])


@pytest.mark.parametrize("args", [(True, 0, 1), (True, 1, 1), (False, 0, 1), (True, 5, 3), (True, 8, 8)])
def test_dynamic_map_edge_parameters_equal_the_original(ref, args):
    signed, meb, tb = args
    assert torch.equal(F.create_dynamic_map(*args), ref[0][f"dynmap.{int(signed)}_{meb}_{tb}"])


def test_dynamic_map_rejects_parameters_that_describe_no_map():
    with pytest.raises(ValueError, match="do not describe exactly 16 values"):
        F.create_dynamic_map(False, 2, 4)  # the unsigned map needs max_exponent_bits == total_bits - 1
    with pytest.raises(ValueError):
        F.create_dynamic_map(True, 0, 4)


# ---------------------------------------------------------------------------
# dequantize_4bit of a 1-D state: [1, n] on the CPU as in the original, [n] on CUDA
# ---------------------------------------------------------------------------
def test_dequantize_4bit_1d_shapes_on_the_cpu_equal_the_original(ref):
    _, meta = ref
    for key, shape in meta["dequantize_1d_shapes"].items():
        n, bs = map(int, key.split("_"))
        packed, state = F.quantize_4bit(torch.randn(n), blocksize=bs, quant_type="nf4")
        assert list(F.dequantize_4bit(packed, state).shape) == shape, key


def test_dequantize_4bit_1d_values_are_those_of_the_state_shape():
    x = torch.randn(100)
    packed, state = F.quantize_4bit(x, quant_type="nf4")
    row = F.dequantize_4bit(packed, state)
    flat = torch.ops.bitsandbytes.dequantize_4bit(packed, state.absmax, 64, "nf4", [100], torch.float32)
    assert row.shape == (1, 100) and torch.equal(row.reshape(-1), flat)
    out = torch.empty(100)
    assert F.dequantize_4bit(packed, state, out=out) is out  # a given out keeps its shape


def test_dequantize_4bit_of_rows_that_are_not_whole_blocks_differs_from_the_original(ref):
    # docs/differences.md: the original's CPU kernel scales such rows with the wrong block's absmax;
    # here every element takes the absmax of its flat block (docs/formats.md), as on CUDA
    tensors, _ = ref
    x = tensors["rows.x"]
    packed, state = F.quantize_4bit(x, blocksize=64, quant_type="fp4")
    ours = F.dequantize_4bit(packed, state)
    flat = torch.ops.bitsandbytes.dequantize_4bit(packed, state.absmax, 64, "fp4", [x.numel()], torch.float32)
    assert torch.equal(ours.reshape(-1), flat)
    assert not torch.equal(ours, tensors["rows.dequantized"])
    assert (ours - x).abs().max() <= state.absmax.max() / 6  # within half the widest FP4 step (1/3 of absmax)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dequantize_4bit_1d_shape_on_cuda_is_the_state_shape():
    packed, state = F.quantize_4bit(torch.randn(100, device="cuda"), quant_type="nf4")
    assert F.dequantize_4bit(packed, state).shape == (100,)


# ---------------------------------------------------------------------------
# LLM.int8() matmul argument layouts (docs/int8.md)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [16, 0])
@pytest.mark.parametrize("threshold", [0.0, 6.0])
@pytest.mark.parametrize("dname", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("has_bias", [True, False])
def test_matmul_with_the_weight_as_a_transposed_view_equals_the_original(ref, rows, threshold, dname, has_bias):
    tensors, _ = ref
    key = f"int8mm.{rows}_{threshold}_{dname}_{int(has_bias)}"
    A = tensors[f"{key}.A"].clone().requires_grad_(True)
    state = bnb.MatmulLtState()
    state.threshold = threshold
    state.has_fp16_weights = False
    state.CB, state.SCB, _ = F.int8_vectorwise_quant(tensors[f"int8mm.{dname}.W"].to(torch.float16))
    bias = tensors.get(f"{key}.bias")
    out = bnb.matmul(A, state.CB.t(), state=state, bias=bias)  # B given as [in, out]: a view of CB
    out.backward(torch.ones_like(out))
    # On the CPU both we and the original run torch's own GEMM over the same dequantized weight
    # (docs/int8.md, MatMul8bitFp), and that GEMM's summation order depends on the CPU: the
    # fixture's machine and this one may differ by the fp32 sum's reordering error and one
    # rounding to the output dtype, nothing more.
    W = state.CB.float() * (state.SCB.float()[:, None] / 127)
    assert_within_gemm_rounding(
        out.detach(),
        tensors[f"{key}.out"],
        A.detach().float().abs() @ W.abs().t() + (0 if bias is None else bias.float().abs()),
        K=W.shape[1] + 1,
    )
    assert_within_gemm_rounding(A.grad, tensors[f"{key}.grad_A"], W.abs().sum(0).expand_as(A), K=W.shape[0])


def assert_within_gemm_rounding(got, ref, abs_products, K):
    """|got - ref| <= one unit in the last place of the output dtype (two roundings of half a unit)
    + 2K * 2^-24 * sum_k |a_k w_k| (two fp32 sums of K terms in different orders)"""
    assert got.dtype == ref.dtype and got.shape == ref.shape
    if got.numel() == 0:
        return
    ulp = torch.finfo(ref.dtype).eps * torch.exp2(torch.floor(torch.log2(ref.float().abs().clamp_min(1e-30))))
    tol = ulp + 2 * K * 2.0**-24 * abs_products
    diff = (got.float() - ref.float()).abs()
    assert (diff <= tol).all(), f"max excess {(diff - tol).max().item():.3g}"


def test_matmul_shape_error_names_each_dimension():
    with pytest.raises(ValueError, match=r"A's last dimension \(32\) must equal the weight's in_features \(48\)"):
        bnb.matmul(torch.randn(4, 32, dtype=torch.float16), torch.randn(32, 48, dtype=torch.float16))


# ---------------------------------------------------------------------------
# The remaining functional names
# ---------------------------------------------------------------------------
def test_igemm_batched_igemm_and_check_matmul_work_and_warn_as_deprecated():
    A = torch.randint(-128, 128, (5, 7), dtype=torch.int8)
    B = torch.randint(-128, 128, (7, 3), dtype=torch.int8)
    exact = A.long() @ B.long()  # int8 products sum exactly in int32 here
    with pytest.warns(FutureWarning, match="deprecated"):
        out = F.igemm(A, B)
    assert out.dtype == torch.int32 and torch.equal(out.long(), exact)
    with pytest.warns(FutureWarning):
        assert torch.equal(F.igemm(A, B.t().contiguous(), transposed_B=True).long(), exact)
    A3, B3 = (
        torch.randint(-128, 128, (2, 5, 7), dtype=torch.int8),
        torch.randint(-128, 128, (2, 7, 3), dtype=torch.int8),
    )
    with pytest.warns(FutureWarning):
        assert torch.equal(F.batched_igemm(A3, B3).long(), torch.bmm(A3.long(), B3.long()))
    with pytest.warns(FutureWarning):
        assert F.check_matmul(A, B, None, False, False) == (5, 3)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="Tensor dimensions incorrect"):
        F.check_matmul(A, A, None, False, False)
    with pytest.warns(FutureWarning), pytest.raises(TypeError, match="Expected torch.int8"):
        F.check_matmul(A.float(), B.float(), None, False, False)


def test_fill_elementwise_func_get_ptr_is_on_gpu():
    x = torch.zeros(6)
    F.fill(x, 2.5)
    assert torch.equal(x, torch.full((6,), 2.5))
    F.elementwise_func("arange", x, None, 0)
    assert torch.equal(x, torch.arange(6.0))
    F.elementwise_func("_mul", x, torch.full((6,), 2.0), 0)
    assert torch.equal(x, torch.arange(6.0) * 2)
    with pytest.raises(NotImplementedError, match="Function not implemented"):
        F.elementwise_func("fill", torch.zeros(3, dtype=torch.float16), None, 1.0)
    ptr = F.get_ptr(x)
    assert isinstance(ptr, ctypes.c_void_p) and ptr.value == x.data_ptr()
    assert F.get_ptr(None) is None
    assert F.is_on_gpu([x, None]) is True
    assert F.C == 127.0
    assert torch.device("cuda", 0) == F.FIRST_CUDA_DEVICE


def test_has_avx512bf16_reports_the_cpu():
    flags = bnb.cextension._C.cpu_features()
    assert F.has_avx512bf16() == bool(flags["avx512_bf16"])


def test_gemm_4bit_converts_a_16_or_64_bit_absmax_offset():
    torch.manual_seed(0)
    packed, st = F.quantize_4bit(torch.randn(64, 128), blocksize=64, quant_type="nf4", compress_statistics=True)
    A = torch.randn(3, 128)

    def run(offset):
        return torch.ops.bitsandbytes.gemm_4bit(
            A, packed, [64, 128], st.state2.absmax, 64, "nf4",
            absmax_8bit=st.absmax, absmax_code=st.state2.code, absmax_offset=offset,
        )  # fmt: skip

    for dtype in (torch.bfloat16, torch.float16, torch.float64):
        offset = st.offset.to(dtype)
        assert torch.equal(run(offset), run(offset.float()))  # converted to fp32, as the original does
    with pytest.raises(TypeError, match="absmax_offset must be a floating-point tensor"):
        run(torch.tensor(0, dtype=torch.int32))


def test_quant_state_resolves_its_packed_checkpoint_key_by_getattr():
    # FSDP's state_dict walks "weight.quant_state.bitsandbytes__nf4" with getattr
    layer = bnb.nn.Linear4bit(64, 32, quant_type="nf4").to("cpu")
    sd = layer.state_dict()
    state = layer.weight.quant_state
    assert torch.equal(state.bitsandbytes__nf4, sd["weight.quant_state.bitsandbytes__nf4"])
    assert not hasattr(state, "bitsandbytes__fp4") and not hasattr(state, "quant_map")


# ---------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------
class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(32, 64)
        self.lin = bnb.nn.Linear8bitLt(64, 32, bias=False, has_fp16_weights=False)
        self.lin.weight = self.emb.weight


def test_linear8bitlt_with_a_tied_weight_saves_and_loads_without_scb():
    model = _Tied()
    sd = model.state_dict()
    assert set(sd) == {"emb.weight", "lin.weight"}
    fresh = _Tied()
    fresh.load_state_dict(sd)
    assert torch.equal(fresh.lin.weight, sd["emb.weight"])


def test_linear8bitlt_with_a_tied_weight_rejects_an_int8_checkpoint():
    sd = bnb.nn.Linear8bitLt(64, 32, bias=False, has_fp16_weights=False).to("cpu").state_dict()
    with pytest.raises(RuntimeError, match="Loading a quantized checkpoint into non-quantized Linear8bitLt"):
        _Tied().lin.load_state_dict(sd)


@pytest.mark.parametrize(("rows", "message"), [(8, "inference or training speed."), (1, "inference.")])
def test_linear4bit_float16_input_without_compute_dtype_logs_the_originals_warning(caplog, rows, message):
    layer = bnb.nn.Linear4bit(64, 32).to("cpu")  # compute_dtype None: float16 input stays float16
    with caplog.at_level(logging.WARNING, logger="bitsandbytes.nn.modules"):
        layer(torch.randn(rows, 64, dtype=torch.float16))
    assert f"bnb_4bit_compute_dtype=torch.float32 (default). This will lead to slow {message}" in caplog.text
    assert layer.compute_dtype is None
    caplog.clear()
    explicit = bnb.nn.Linear4bit(64, 32, compute_dtype=torch.float32).to("cpu")  # a chosen dtype: no warning
    with caplog.at_level(logging.WARNING, logger="bitsandbytes.nn.modules"):
        explicit(torch.randn(rows, 64, dtype=torch.float16))
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("compute_dtype", "x_dtype", "bias_dtype"),
    [
        (torch.bfloat16, torch.bfloat16, torch.bfloat16),
        (torch.float16, torch.float16, torch.float16),
        (torch.float16, torch.bfloat16, torch.float16),  # x is cast to the compute dtype first
        (torch.float32, torch.bfloat16, torch.float32),
        (None, torch.float16, torch.float16),
    ],
)
def test_linear4bit_casts_its_bias_parameter_to_the_compute_dtype(compute_dtype, x_dtype, bias_dtype):
    layer = bnb.nn.Linear4bit(64, 32, compute_dtype=compute_dtype).to("cpu")
    assert layer.bias.dtype == torch.float32
    y = layer(torch.randn(4, 64, dtype=x_dtype))
    assert layer.bias.dtype == bias_dtype and y.dtype == x_dtype


def test_embedding4bit_warns_when_the_dimension_is_not_a_multiple_of_the_blocksize(caplog):
    with caplog.at_level(logging.WARNING, logger="bitsandbytes.nn.modules"):
        bnb.nn.EmbeddingNF4(10, 64)
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="bitsandbytes.nn.modules"):
        bnb.nn.EmbeddingNF4(10, 100)
    assert "Embedding size 100 is not divisible by block size 64. This will lead to slow inference." in caplog.text


def test_matmul_4bit_with_a_k_by_n_weight_warns_and_computes_a_at_w():
    torch.manual_seed(0)
    W = torch.randn(64, 32)  # [K, N]: quantized in the wrong orientation
    packed, state = F.quantize_4bit(W, quant_type="nf4")
    A = torch.randn(8, 64)
    with pytest.warns(DeprecationWarning, match=r"Re-quantize from the weight in \[N, K\]"):
        out = bnb.matmul_4bit(A, packed, state)
    assert torch.equal(out, A @ F.dequantize_4bit(packed, state))
    buf = torch.empty(8, 32)
    with pytest.warns(DeprecationWarning):
        assert bnb.matmul_4bit(A, packed, state, out=buf) is buf
    assert torch.equal(buf, out)


# ---------------------------------------------------------------------------
# Outlier tools
# ---------------------------------------------------------------------------
def test_find_outlier_dims():
    torch.manual_seed(0)
    W = torch.randn(64, 32)
    W[:, 3] *= 20
    W[:, 17] *= 15
    assert find_outlier_dims(W).tolist() == [3]  # z-score of the column spread above 4
    assert find_outlier_dims(W, zscore=2.0).tolist() == [3, 17]
    assert find_outlier_dims(W, topk=2).tolist() == [3, 17]
    assert find_outlier_dims(W, reduction_dim=1).tolist() == []
    rnd = find_outlier_dims(W, topk=5, rdm=True)
    assert rnd.dtype == torch.int64 and rnd.shape == (5,) and int(rnd.max()) < 32


def test_outlier_tracer_and_outlier_aware_linear():
    class Quantizing(bnb.nn.OutlierAwareLinear):
        def quantize_weight(self, w, outlier_idx):
            self.seen = outlier_idx
            return w * 2

        def forward_with_outliers(self, x, outlier_idx):
            return torch.nn.functional.linear(x, self.weight, self.bias)

    with pytest.raises(RuntimeError, match="get_instance"):
        OutlierTracer()
    first, second = torch.nn.Linear(32, 64), Quantizing(64, 8)
    with torch.no_grad():
        second.weight[:, 5] *= 50
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    tracer = OutlierTracer.get_instance()
    tracer.initialize(model)
    x = torch.randn(4, 32)
    x[:, 7] = 50.0  # a hidden dimension above 6: an outlier of the first layer's input
    w0 = second.weight.detach().clone()
    model(x)
    assert 7 in tracer.get_outliers(first.weight).tolist()
    assert 5 in second.seen.tolist()
    assert torch.equal(second.weight, w0 * 2) and second.is_quantized
    model(x)  # a layer seen twice: the trace is complete, the hooks are gone
    assert all(not m._forward_pre_hooks for m in (first, second))


def test_execute_and_return():
    assert execute_and_return("echo hello") == ("hello", "")


def test_deprecated_helpers_do_not_warn_on_import():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import bitsandbytes.functional  # noqa: F401


@pytest.mark.parametrize("grad", [False, True])
def test_matmul_4bit_takes_float64_input_as_the_original_does(grad):
    # the original multiplies by the weight dequantized to A's dtype; the fused op has no
    # float64 kernel, so float64 takes that dense path here too (exact in float64)
    weight = bnb.nn.Params4bit(torch.randn(32, 64), quant_type="nf4").to("cpu")
    x = torch.randn(3, 64, dtype=torch.float64, requires_grad=grad)
    bias = torch.randn(32)
    y = bnb.matmul_4bit(x, weight.t(), weight.quant_state, bias=bias)
    W = F.dequantize_4bit(weight.data, weight.quant_state).double()
    assert y.dtype == torch.float64
    assert torch.equal(y, torch.nn.functional.linear(x, W, bias.double()))
