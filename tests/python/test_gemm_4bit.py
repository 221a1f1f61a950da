"""4-bit weight matmul (gemv_4bit, gemm_4bit): the ops against the pure-PyTorch
reference (dequantize, then matmul), every SIMD path, nested absmax, bias,
storage dtypes, the functional wrapper, opcheck and bad input."""

import pytest
import torch

import bitsandbytes.functional as F

import reference as ref

ops = torch.ops.bitsandbytes

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
BLOCKSIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]
QUANT_TYPES = ["nf4", "fp4"]
# relative to the natural size of each output (|y| + sqrt(sum_k (a_k w_k)^2))
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}


def _weight(n, k, blocksize, quant_type, storage=torch.uint8, compress=False):
    w = torch.randn(n, k)
    packed, state = F.quantize_4bit(
        w, blocksize=blocksize, quant_type=quant_type, quant_storage=storage, compress_statistics=compress
    )
    return packed, state


def _assert_close(y, A, packed, shapeB, absmax, blocksize, quant_type, bias=None, code=None):
    expected = ref.gemm_4bit(A, packed, shapeB, absmax, blocksize, quant_type, bias=bias, code=code)
    assert y.shape == expected.shape and y.dtype == A.dtype
    table = ref.CODES_4BIT[quant_type] if code is None else code
    w = ref.dequantize_4bit(packed, absmax, blocksize, quant_type, shapeB, torch.float64) if code is None else None
    if w is None:
        b = packed.reshape(-1).view(torch.uint8)
        n = shapeB[0] * shapeB[1]
        codes = torch.stack([b >> 4, b & 15], 1).reshape(-1)[:n].long()
        w = (table[codes].double() * absmax.double().repeat_interleave(blocksize)[:n]).reshape(shapeB)
    a2 = A.double().reshape(-1, shapeB[1]) ** 2
    scale = (a2 @ (w**2).T).sqrt().reshape(expected.shape)
    err = (y.double() - expected.double()).abs()
    bound = TOL[A.dtype] * (expected.double().abs() + scale) + 1e-30
    worst = (err / bound).max().item() if err.numel() else 0.0
    assert worst <= 1.0, f"error {worst:.3g}x the tolerance"


SHAPES = [(1, 64, 64), (1, 33, 4096), (3, 17, 128), (8, 40, 256), (64, 24, 192), (5, 7, 96), (2, 9, 100), (1, 5, 33)]


# every blocksize on the two widest paths, a few on the others (the scalar path handles all shapes alike)
LEVEL_BLOCKSIZES = [(lv, bs) for lv in ("amx", "avx512") for bs in BLOCKSIZES] + [
    (lv, bs) for lv in ("avx2", "scalar") for bs in (32, 64, 4096)
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize(("simd_level", "blocksize"), LEVEL_BLOCKSIZES, indirect=["simd_level"])
def test_gemm_matches_reference(simd_level, dtype, quant_type, blocksize):
    for m, n, k in SHAPES:
        packed, state = _weight(n, k, blocksize, quant_type)
        A = torch.randn(m, k, dtype=dtype)
        y = ops.gemm_4bit(A, packed, [n, k], state.absmax, blocksize, quant_type)
        _assert_close(y, A, packed, [n, k], state.absmax, blocksize, quant_type)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_gemv_matches_gemm_and_reference(simd_level, dtype, quant_type):
    for m, n, k in SHAPES:
        packed, state = _weight(n, k, 64, quant_type)
        A = torch.randn(m, k, dtype=dtype)
        y = ops.gemv_4bit(A, packed, [n, k], state.absmax, state.code, 64)
        assert torch.equal(y, ops.gemm_4bit(A, packed, [n, k], state.absmax, 64, quant_type))
        out = torch.full((m, n), float("nan"), dtype=dtype)
        ops.gemv_4bit.out(A, packed, [n, k], state.absmax, state.code, 64, out=out)
        assert torch.equal(out, y)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gemv_uses_the_given_code_table(simd_level, dtype):
    code = torch.randn(16)
    packed, state = _weight(24, 256, 64, "nf4")
    for m in (1, 4, 6):  # 6: a table dequantize_4bit does not know keeps the fused kernels for any batch
        A = torch.randn(m, 256, dtype=dtype)
        y = ops.gemv_4bit(A, packed, [24, 256], state.absmax, code, 64)
        _assert_close(y, A, packed, [24, 256], state.absmax, 64, "nf4", code=code)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("compress", [False, True])
def test_large_batch_tiles(dtype, compress):
    # batches over 4 dequantize 128-row tiles (K = 4096) and multiply each with torch's GEMM; 300 rows
    # end in a partial tile
    packed, state = _weight(300, 4096, 64, "nf4", compress=compress)
    scales = F._absmax_of(state)
    A = torch.randn(9, 4096, dtype=dtype)
    bias = torch.randn(300, dtype=dtype)
    if compress:
        kw = dict(absmax_8bit=state.absmax, absmax_code=state.state2.code, absmax_offset=state.offset)
        y = ops.gemm_4bit(A, packed, [300, 4096], state.state2.absmax, 64, "nf4", bias=bias, **kw)
    else:
        y = ops.gemm_4bit(A, packed, [300, 4096], state.absmax, 64, "nf4", bias=bias)
    _assert_close(y, A, packed, [300, 4096], scales, 64, "nf4", bias=bias.float())
    # each batch row gets what it gets alone, up to the fused kernels' rounding
    single = ops.gemm_4bit(A[3:4], packed, [300, 4096], scales, 64, "nf4", bias=bias)
    torch.testing.assert_close(y[3:4].float(), single.float(), rtol=4 * TOL[dtype], atol=4 * TOL[dtype] * 64)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("blocksize", [32, 64, 256, 4096])
def test_nested_absmax_equals_dequantized_absmax(simd_level, dtype, blocksize):
    for m, n, k in [(1, 300, 256), (6, 70, 1000), (33, 96, 512)]:
        packed, state = _weight(n, k, blocksize, "nf4", compress=True)
        A = torch.randn(m, k, dtype=dtype)
        y = ops.gemm_4bit(
            A,
            packed,
            [n, k],
            state.state2.absmax,
            blocksize,
            "nf4",
            absmax_8bit=state.absmax,
            absmax_code=state.state2.code,
            absmax_offset=state.offset,
        )
        scales = ref.nested_absmax(state.absmax, state.state2.absmax, state.state2.code, state.offset)
        assert torch.equal(y, ops.gemm_4bit(A, packed, [n, k], scales, blocksize, "nf4"))
        _assert_close(y, A, packed, [n, k], scales, blocksize, "nf4")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias_dtype", DTYPES, ids=str)
def test_bias(simd_level, dtype, bias_dtype):
    packed, state = _weight(40, 128, 64, "fp4")
    A = torch.randn(5, 128, dtype=dtype)
    bias = (torch.randn(40) * 4).to(bias_dtype)
    y = ops.gemm_4bit(A, packed, [40, 128], state.absmax, 64, "fp4", bias=bias)
    _assert_close(y, A, packed, [40, 128], state.absmax, 64, "fp4", bias=bias.float())
    no_bias = ops.gemm_4bit(A, packed, [40, 128], state.absmax, 64, "fp4")
    assert not torch.allclose(y, no_bias)


@pytest.mark.parametrize("storage", [torch.uint8, torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_quant_storage_and_3d_input(simd_level, storage):
    packed, state = _weight(48, 192, 64, "nf4", storage=storage)
    assert packed.dtype == storage
    bytes_ = packed.view(torch.uint8)
    A = torch.randn(2, 3, 192, dtype=torch.bfloat16)
    y = ops.gemm_4bit(A, packed, [48, 192], state.absmax, 64, "nf4")
    assert y.shape == (2, 3, 48)
    assert torch.equal(y, ops.gemm_4bit(A, bytes_, [48, 192], state.absmax, 64, "nf4"))
    assert torch.equal(y.reshape(6, 48), ops.gemm_4bit(A.reshape(6, 192), packed, [48, 192], state.absmax, 64, "nf4"))
    assert torch.equal(y, ops.gemv_4bit(A, packed.t(), [48, 192], state.absmax, state.code, 64))
    _assert_close(y, A, bytes_, [48, 192], state.absmax, 64, "nf4")


def test_non_contiguous_input():
    packed, state = _weight(16, 64, 64, "nf4")
    A = torch.randn(64, 6).t()
    assert not A.is_contiguous()
    y = ops.gemm_4bit(A, packed, [16, 64], state.absmax, 64, "nf4")
    assert torch.equal(y, ops.gemm_4bit(A.contiguous(), packed, [16, 64], state.absmax, 64, "nf4"))


def test_empty_sizes():
    packed, state = _weight(8, 64, 64, "nf4")
    y = ops.gemm_4bit(torch.randn(0, 64), packed, [8, 64], state.absmax, 64, "nf4")
    assert y.shape == (0, 8)
    empty = torch.empty(0, dtype=torch.uint8)
    y = ops.gemm_4bit(torch.randn(3, 64), empty, [0, 64], torch.empty(0), 64, "nf4")
    assert y.shape == (3, 0)
    bias = torch.randn(5)
    y = ops.gemm_4bit(torch.randn(3, 0), empty, [5, 0], torch.empty(0), 64, "nf4", bias=bias)
    assert torch.equal(y, bias.expand(3, 5))


def test_all_simd_paths_agree():
    from bitsandbytes import cextension

    from conftest import available_simd_levels

    packed, state = _weight(100, 1024, 64, "nf4")
    results = []
    for level in available_simd_levels():
        cextension._C.set_simd_level(level)
        for dtype in DTYPES:
            for m in (1, 3, 7):  # fused kernels (registers), and the tiled path
                A = torch.randn(m, 1024, dtype=dtype, generator=torch.Generator().manual_seed(m))
                y = ops.gemm_4bit(A, packed, [100, 1024], state.absmax, 64, "nf4")
                results.append((level, (dtype, m), y))
    cextension._C.set_simd_level(cextension._C.detected_simd_level())
    by_case = {}
    for level, case, y in results:
        by_case.setdefault(case, []).append((level, y))
    for (dtype, _), ys in by_case.items():
        base = ys[0][1].float()
        for level, y in ys[1:]:
            rel = ((y.float() - base).abs().max() / base.abs().max()).item()
            assert rel < 10 * TOL[dtype], f"{level} {dtype}: {rel}"


# ---------------------------------------------------------------------------
# functional.gemv_4bit
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_functional_gemv_4bit(compress):
    packed, state = _weight(32, 256, 64, "fp4", compress=compress)
    A = torch.randn(1, 256, dtype=torch.bfloat16)
    y = F.gemv_4bit(A, packed.t(), state=state)
    _assert_close(y, A, packed, [32, 256], F._absmax_of(state), 64, "fp4")
    out = torch.empty(1, 32, dtype=torch.bfloat16)
    assert F.gemv_4bit(A, packed, out=out, state=state) is out
    assert torch.equal(out, y)
    with pytest.raises(ValueError, match="QuantState"):
        F.gemv_4bit(A, packed)


# ---------------------------------------------------------------------------
# opcheck and bad input
# ---------------------------------------------------------------------------
def test_opcheck():
    packed, state = _weight(24, 128, 64, "nf4", compress=True)
    A = torch.randn(3, 128, dtype=torch.bfloat16)
    scales = F._absmax_of(state)
    torch.library.opcheck(ops.gemv_4bit.default, (A, packed, [24, 128], scales, state.code, 64))
    out = torch.empty(3, 24, dtype=torch.bfloat16)
    torch.library.opcheck(ops.gemv_4bit.out, (A, packed, [24, 128], scales, state.code, 64), {"out": out})
    torch.library.opcheck(ops.gemm_4bit.default, (A, packed, [24, 128], scales, 64, "nf4"))
    nested = dict(absmax_8bit=state.absmax, absmax_code=state.state2.code, absmax_offset=state.offset)
    torch.library.opcheck(
        ops.gemm_4bit.default, (A, packed, [24, 128], state.state2.absmax, 64, "nf4", torch.randn(24)), nested
    )


def test_compile_fullgraph():
    torch._dynamo.reset()
    packed, state = _weight(24, 128, 64, "nf4")

    def f(x):
        return ops.gemm_4bit(x, packed, [24, 128], state.absmax, 64, "nf4") * 2

    x = torch.randn(2, 128)
    assert torch.equal(torch.compile(f, fullgraph=True, backend="aot_eager")(x), f(x))


def _bad_calls():
    packed, state = _weight(16, 128, 64, "nf4", compress=True)
    scales = F._absmax_of(state)
    A = torch.randn(2, 128)
    nested = dict(absmax_8bit=state.absmax, absmax_code=state.state2.code, absmax_offset=state.offset)
    g = ops.gemm_4bit
    return [
        ("features", lambda: g(torch.randn(2, 127), packed, [16, 128], scales, 64, "nf4")),
        ("2 entries", lambda: g(A, packed, [16, 128, 1], scales, 64, "nf4")),
        ("0-dim", lambda: g(torch.tensor(1.0), packed, [16, 128], scales, 64, "nf4")),
        ("must be float16, bfloat16 or float32", lambda: g(A.to(torch.int32), packed, [16, 128], scales, 64, "nf4")),
        ("blocksize must be", lambda: g(A, packed, [16, 128], scales, 48, "nf4")),
        ("quant_type must be", lambda: g(A, packed, [16, 128], scales, 64, "int4")),
        ("packed 4-bit tensor. holds", lambda: g(A, packed[:100], [16, 128], scales, 64, "nf4")),
        ("absmax has", lambda: g(A, packed, [16, 128], scales[:-1], 64, "nf4")),
        ("absmax must be torch.float32", lambda: g(A, packed, [16, 128], scales.half(), 64, "nf4")),
        ("bias has", lambda: g(A, packed, [16, 128], scales, 64, "nf4", bias=torch.randn(15))),
        ("only used together", lambda: g(A, packed, [16, 128], scales, 64, "nf4", absmax_code=state.state2.code)),
        (
            "needs absmax_code",
            lambda: g(A, packed, [16, 128], state.state2.absmax, 64, "nf4", absmax_8bit=state.absmax),
        ),
        (
            "absmax_8bit must be torch.uint8",
            lambda: g(A, packed, [16, 128], state.state2.absmax, 64, "nf4", **{**nested, "absmax_8bit": scales}),
        ),
        (
            "absmax_8bit has",
            lambda: g(
                A, packed, [16, 128], state.state2.absmax, 64, "nf4", **{**nested, "absmax_8bit": state.absmax[:5]}
            ),
        ),
        (
            "256 entries",
            lambda: g(
                A,
                packed,
                [16, 128],
                state.state2.absmax,
                64,
                "nf4",
                **{**nested, "absmax_code": state.state2.code[:255]},
            ),
        ),
        (
            "0-dim tensor",
            lambda: g(
                A,
                packed,
                [16, 128],
                state.state2.absmax,
                64,
                "nf4",
                **{**nested, "absmax_offset": state.offset.view(1)},
            ),
        ),
        ("16 entries", lambda: ops.gemv_4bit(A, packed, [16, 128], scales, torch.randn(256), 64)),
        (
            "out has shape",
            lambda: ops.gemv_4bit.out(A, packed, [16, 128], scales, state.code, 64, out=torch.empty(2, 15)),
        ),
        (
            "out must be torch.float32",
            lambda: ops.gemv_4bit.out(A, packed, [16, 128], scales, state.code, 64, out=torch.empty(2, 16).half()),
        ),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_input_raises_clear_errors(index):
    match, call = _bad_calls()[index]
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call()


# ---------------------------------------------------------------------------
# CUDA / HIP against the CPU backend (skipped without a GPU)
# ---------------------------------------------------------------------------
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm device")


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("compress", [False, True])
def test_gpu_matches_cpu(dtype, quant_type, compress):
    # M <= 4 with K % 32 == 0: the fused kernel; K % 32 != 0: the plain kernel; M > 4: dequantize + GEMM
    for m, n, k, bs in [(1, 300, 4096, 64), (3, 77, 512, 32), (4, 40, 100, 64), (17, 64, 1024, 256), (2, 9, 96, 4096)]:
        packed, state = _weight(n, k, bs, quant_type, compress=compress)
        A = torch.randn(m, k, dtype=dtype)
        bias = torch.randn(n, dtype=dtype)
        if compress:
            kw = dict(absmax_8bit=state.absmax, absmax_code=state.state2.code, absmax_offset=state.offset)
            absmax = state.state2.absmax
        else:
            kw, absmax = {}, state.absmax
        expected = ops.gemm_4bit(A, packed, [n, k], absmax, bs, quant_type, bias=bias, **kw)
        gkw = {key: v.cuda() for key, v in kw.items()}
        y = ops.gemm_4bit(A.cuda(), packed.cuda(), [n, k], absmax.cuda(), bs, quant_type, bias=bias.cuda(), **gkw)
        scales = F._absmax_of(state)
        _assert_close(y.cpu(), A, packed, [n, k], scales, bs, quant_type, bias=bias.float())
        assert y.dtype == expected.dtype and y.shape == expected.shape
        g = ops.gemv_4bit(A.cuda(), packed.cuda(), [n, k], scales.cuda(), state.code.cuda(), bs)
        _assert_close(g.cpu(), A, packed, [n, k], scales, bs, quant_type)


# (M, N, K, blocksize) for the kernels BNB_CUDA_GEMM_4BIT_FUSED selects (docs/backends.md): the
# tensor-core kernel's four configurations (M <= 16, <= 32, <= 64, 64 x 128 tiles with 3 K-chunks), a K
# it does not take (K % 128 != 0: the SIMT tiles), and one row (GEMV, or the forced fused kernel).
FUSED_SHAPES = [(5, 300, 4096, 64), (17, 77, 1024, 32), (48, 64, 512, 256), (130, 200, 384, 64), (9, 40, 96, 64)]
FUSED_SHAPES += [(1, 300, 4096, 64)]


@needs_gpu
@pytest.mark.parametrize("mode", ["0", "1", "mma", "simt"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("quant_type", QUANT_TYPES)
def test_gpu_fused_kernels_match_cpu(monkeypatch, mode, dtype, quant_type):
    # every kernel meets the CPU tolerance: W as dequantize_4bit rounds it, fp32 accumulation
    monkeypatch.setenv("BNB_CUDA_GEMM_4BIT_FUSED", mode)
    for i, (m, n, k, bs) in enumerate(FUSED_SHAPES):
        compress = i % 2 == 1
        packed, state = _weight(n, k, bs, quant_type, compress=compress)
        A = torch.randn(m, k, dtype=dtype)
        bias = torch.randn(n, dtype=dtype)
        scales = F._absmax_of(state)
        if compress:
            kw = dict(absmax_8bit=state.absmax, absmax_code=state.state2.code, absmax_offset=state.offset)
            absmax = state.state2.absmax
        else:
            kw, absmax = {}, state.absmax
        gkw = {key: v.cuda() for key, v in kw.items()}
        y = ops.gemm_4bit(A.cuda(), packed.cuda(), [n, k], absmax.cuda(), bs, quant_type, bias=bias.cuda(), **gkw)
        assert y.dtype == dtype and y.shape == (m, n)
        _assert_close(y.cpu(), A, packed, [n, k], scales, bs, quant_type, bias=bias.float())
        code = torch.randn(16)  # gemv_4bit's own table reaches every kernel
        g = ops.gemv_4bit(A.cuda(), packed.cuda(), [n, k], scales.cuda(), code.cuda(), bs)
        _assert_close(g.cpu(), A, packed, [n, k], scales, bs, quant_type, code=code)


@needs_gpu
def test_gpu_fused_kernels_in_a_cuda_graph(monkeypatch):
    # no host synchronisation and no allocation outside torch's allocator: the call can be captured
    monkeypatch.setenv("BNB_CUDA_GEMM_4BIT_FUSED", "1")
    packed, state = _weight(256, 1024, 64, "nf4")
    A = torch.randn(24, 1024, dtype=torch.bfloat16, device="cuda")
    args = (packed.cuda(), [256, 1024], state.absmax.cuda(), 64, "nf4")
    expected = ops.gemm_4bit(A, *args)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = ops.gemm_4bit(A, *args)
    graph.replay()
    assert torch.equal(y, expected)


@pytest.mark.parametrize("quant_type", QUANT_TYPES)
@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("kind", ["plain", "nested"])
def test_matches_original_outputs(quant_type, dtype_name, kind):
    from conftest import load_fixture

    fx = load_fixture("gemm_4bit")
    key = f"{quant_type}_{dtype_name}_{kind}"
    A, bias, packed = fx[f"{key}.A"], fx[f"{key}.bias"], fx[f"{key}.packed"]
    if kind == "nested":
        nested = dict(
            absmax_8bit=fx[f"{key}.absmax"], absmax_code=fx[f"{key}.nested_code"], absmax_offset=fx[f"{key}.offset"]
        )
        y = ops.gemm_4bit(A, packed, [64, 128], fx[f"{key}.nested_absmax"], 64, quant_type, bias=bias, **nested)
        scales = ref.nested_absmax(
            fx[f"{key}.absmax"], fx[f"{key}.nested_absmax"], fx[f"{key}.nested_code"], fx[f"{key}.offset"]
        )
    else:
        y = ops.gemm_4bit(A, packed, [64, 128], fx[f"{key}.absmax"], 64, quant_type, bias=bias)
        scales = fx[f"{key}.absmax"]
    theirs = fx[f"{key}.gemm"]
    assert y.shape == theirs.shape and y.dtype == theirs.dtype
    # the original's result and ours satisfy the same bound, and agree closely
    _assert_close(theirs, A, packed, [64, 128], scales, 64, quant_type, bias=bias.float())
    _assert_close(y, A, packed, [64, 128], scales, 64, quant_type, bias=bias.float())
    diff = (y.float() - theirs.float()).abs().max().item()
    assert diff <= 4 * TOL[A.dtype] * theirs.float().abs().max().item() + 1e-6


# ---------------------------------------------------------------------------
# A tiny Transformers model whose linear layers run on gemm_4bit
# ---------------------------------------------------------------------------
class _Linear4bitProbe(torch.nn.Module):
    def __init__(self, linear, compress):
        super().__init__()
        self.packed, self.state = F.quantize_4bit(
            linear.weight.data, blocksize=64, quant_type="nf4", compress_statistics=compress
        )
        self.bias = linear.bias

    def forward(self, x):
        st = self.state
        n, k = st.shape
        if st.nested:
            nested = dict(absmax_8bit=st.absmax, absmax_code=st.state2.code, absmax_offset=st.offset)
            return ops.gemm_4bit(x, self.packed, [n, k], st.state2.absmax, 64, "nf4", bias=self.bias, **nested)
        return ops.gemm_4bit(x, self.packed, [n, k], st.absmax, 64, "nf4", bias=self.bias)


@pytest.mark.parametrize("compress", [False, True])
def test_tiny_llama_logits(compress):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = transformers.AutoModelForCausalLM.from_config(cfg).to(torch.bfloat16).eval()
    ids = torch.randint(0, 128, (2, 11))
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "lm_head" not in n]
    probes = {n: _Linear4bitProbe(model.get_submodule(n), compress) for n in names}
    with torch.no_grad():
        for n, p in probes.items():  # the dense reference: the dequantized weights in bf16
            model.get_submodule(n).weight.data = F.dequantize_4bit(p.packed, p.state).to(torch.bfloat16)
        batches = (ids, ids[:1, :1])  # prefill (batch 22: the tiled path) and one token (batch 1: fused GEMV)
        expected = [model(b).logits.float() for b in batches]
        for n, p in probes.items():
            parent, _, child = n.rpartition(".")
            setattr(model.get_submodule(parent), child, p)
        for b, e in zip(batches, expected):
            logits = model(b).logits.float()
            assert (logits - e).abs().max() < 0.05 * e.abs().max()
