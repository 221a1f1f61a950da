"""LLM.int8() ops on the CPU against the pure-PyTorch reference (SPEC section 6),
every SIMD path of the int8 GEMM, opcheck, and clear errors for bad input."""

import pytest
import reference_int8 as ref
import torch

import bitsandbytes.functional as F

ops = torch.ops.bitsandbytes
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def _int8(*shape):
    return torch.randint(-128, 128, shape, dtype=torch.int8)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("threshold", [0.0, 2.5])
@pytest.mark.parametrize("shape", [(1, 9), (7, 33), (64, 130), (3, 5, 16)])
def test_vectorwise_quant_matches_reference(simd_level, dtype, threshold, shape):
    A = (torch.randn(shape) * 1.5).to(dtype)
    q, stats, cols = F.int8_vectorwise_quant(A, threshold=threshold)
    rq, rstats, rcols = ref.int8_vectorwise_quant(A, threshold)
    assert q.dtype == torch.int8 and q.shape == A.shape and stats.dtype == torch.float32
    torch.testing.assert_close(stats, rstats, rtol=0, atol=0)
    assert torch.equal(q, rq)
    if threshold == 0:
        assert cols is None
    else:
        assert cols.dtype == torch.int64 and torch.equal(cols, rcols)


def test_vectorwise_quant_outlier_semantics():
    A = torch.randn(6, 10) * 0.5
    A[0, 2] = 9.0  # outlier
    A[3, 2] = 5.0  # same column, below the threshold: it still counts in its row's statistics
    q, stats, cols = F.int8_vectorwise_quant(A, threshold=6.0)
    assert cols.tolist() == [2]
    assert stats[3] == 5.0 and stats[0] == A[0].abs().masked_fill(A[0].abs() >= 6, 0).max()
    assert (q[:, 2] == 0).all()
    one_row = A[:1].clone()
    one_row[0, 5] = 0.3
    q1, _, cols1 = F.int8_vectorwise_quant(one_row, threshold=6.0)
    assert cols1.tolist() == [2] and q1[0, 2] == 0 and q1[0, 5] != 0
    _, _, none = F.int8_vectorwise_quant(torch.randn(4, 4) * 0.1, threshold=6.0)
    assert none is not None and none.numel() == 0


def test_vectorwise_quant_zero_and_nan_rows():
    A = torch.randn(4, 8)
    A[1] = 0
    A[2, 3] = float("nan")
    q, stats, _ = F.int8_vectorwise_quant(A)
    assert stats[1] == 0 and (q[1] == 0).all()
    assert torch.isnan(stats[2]) and (q[2] == 0).all()
    assert (q[0].abs().max() == 127) and (q[3].abs().max() == 127)


def test_vectorwise_dequant_matches_reference():
    q = torch.randint(-127, 128, (17, 40), dtype=torch.int8)
    q[:, 0] = 127  # a full-scale entry per row, as quantization produces
    s = torch.rand(17) * 4 + 0.1
    out = F.int8_vectorwise_dequant(q, s)
    assert out.dtype == torch.float32
    assert torch.equal(out, ref.int8_vectorwise_dequant(q, s))
    back, s2, _ = F.int8_vectorwise_quant(out)
    assert torch.equal(back, q) or (back.int() - q.int()).abs().max() <= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("threshold", [0.0, 3.0])
def test_double_quant_matches_reference(dtype, threshold):
    A = (torch.randn(33, 70) * 1.5).to(dtype)
    got = F.int8_double_quant(A, threshold=threshold)
    want = ref.int8_double_quant(A, threshold)
    for g, w in zip(got[:4], want[:4]):
        assert g.dtype == w.dtype and torch.equal(g, w)
    if threshold:
        assert torch.equal(got[4], want[4])
    with pytest.raises(ValueError, match="row_stats"):
        F.int8_double_quant(A, row_stats=torch.ones(33))


SHAPES = [(1, 1, 1), (1, 64, 4096), (3, 5, 7), (17, 33, 65), (31, 96, 128), (129, 70, 258), (260, 300, 131)]


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_int8_linear_matmul_every_path(simd_level, M, N, K):
    A, B = _int8(M, K), _int8(N, K)
    out = F.int8_linear_matmul(A, B)
    assert out.dtype == torch.int32 and out.shape == (M, N)
    assert torch.equal(out, ref.int8_linear_matmul(A, B))


def test_int8_linear_matmul_extremes_and_out(simd_level):
    # -128 * -128 everywhere: the largest products, exercises the u8/s8 correction of VNNI
    A = torch.full((9, 300), -128, dtype=torch.int8)
    B = torch.full((40, 300), -128, dtype=torch.int8)
    B[1::2] = 127
    assert torch.equal(F.int8_linear_matmul(A, B), ref.int8_linear_matmul(A, B))
    A3 = _int8(2, 3, 20)
    B3 = _int8(6, 20)
    out = torch.empty(2, 3, 6, dtype=torch.int32)
    assert F.int8_linear_matmul(A3, B3, out=out) is out
    assert torch.equal(out, ref.int8_linear_matmul(A3.view(-1, 20), B3).view(2, 3, 6))


def test_int8_linear_matmul_parallel_splits():
    # big enough to be split over threads, by columns and by rows
    for M, N in [(40, 1000), (600, 40)]:
        A, B = _int8(M, 257), _int8(N, 257)
        assert torch.equal(F.int8_linear_matmul(A, B), ref.int8_linear_matmul(A, B))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("with_bias", [False, True])
def test_mm_dequant_and_scaled_mm_match_reference(simd_level, dtype, with_bias):
    M, N, K = 37, 45, 70
    A, B = _int8(M, K), _int8(N, K)
    rs, cs = torch.rand(M) * 3, torch.rand(N) * 2
    bias = torch.randn(N, dtype=dtype) if with_bias else None
    i32 = ref.int8_linear_matmul(A, B)
    want = ref.int8_mm_dequant(i32, rs, cs, dtype, bias)
    assert torch.equal(ops.int8_mm_dequant(i32, rs, cs, dtype, bias), want)
    assert torch.equal(ops.int8_scaled_mm(A, B, rs, cs, bias, dtype), want)
    default = ops.int8_scaled_mm(A, B, rs, cs)
    assert default.dtype == torch.float16
    assert F.int8_mm_dequant(i32, rs, cs).dtype == torch.float16


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_mixed_scaled_mm_matches_reference(dtype):
    A = torch.randn(12, 64).to(dtype)
    A[:, 5] *= 20
    A[3, 40] = -30
    CA, SCA, cols = F.int8_vectorwise_quant(A.half(), threshold=6.0)
    CB, SCB, _ = F.int8_vectorwise_quant(torch.randn(24, 64).half())
    bias = torch.randn(24, dtype=dtype)
    out, subB = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, cols, bias)
    want, want_sub = ref.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, cols, bias)
    assert cols.tolist() == [5, 40]
    assert out.dtype == dtype and subB.shape == (24, 2)
    torch.testing.assert_close(out, want)
    assert torch.equal(subB, want_sub)
    out0, none = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, None, bias)
    assert none is None and torch.equal(out0, ops.int8_scaled_mm(CA, CB, SCA, SCB, bias, dtype))


@pytest.mark.parametrize("rows", [1, 12])
def test_mask_overloads_give_the_outlier_columns_as_a_mask(rows):
    """int8_vectorwise_quant.mask / int8_double_quant.mask (no host round trip on GPUs, docs/formats.md): the
    same codes and statistics as the default overloads, the outlier columns as a bool mask over A's columns."""
    A = torch.randn(rows, 64, dtype=torch.float16)
    A[:, 5] *= 20
    A[0, 40] = -30
    want = ops.int8_vectorwise_quant(A, 6.0)
    got = ops.int8_vectorwise_quant.mask(A, 6.0)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert got[2].dtype == torch.bool and got[2].shape == (64,)
    assert got[2].nonzero().view(-1).tolist() == want[2].tolist() == [5, 40]
    want_d, got_d = ops.int8_double_quant(A, 6.0), ops.int8_double_quant.mask(A, 6.0)
    for w, g in zip(want_d[:4], got_d[:4]):
        assert torch.equal(w, g)
    assert torch.equal(got_d[4].nonzero().view(-1), want_d[4])
    assert ops.int8_vectorwise_quant.mask(A, 0.0)[2] is None and ops.int8_double_quant.mask(A, 0.0)[4] is None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_mixed_scaled_mm_takes_a_column_mask(dtype):
    A = torch.randn(12, 64).to(dtype)
    A[:, 5] *= 20
    CA, SCA, mask = ops.int8_vectorwise_quant.mask(A.half(), 6.0)
    CB, SCB, _ = ops.int8_vectorwise_quant(torch.randn(24, 64).half())
    bias = torch.randn(24, dtype=dtype)
    out, none = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, mask, bias)
    want, _ = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, mask.nonzero().view(-1), bias)
    assert none is None  # the mask form has no dequantized sub-weight output
    assert torch.equal(out, want)  # the same columns through the same kernels
    no_outliers = torch.zeros_like(mask)
    out0, _ = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, no_outliers, bias)
    assert torch.equal(out0, ops.int8_scaled_mm(CA, CB, SCA, SCB, bias, dtype))
    with pytest.raises(ValueError, match="one entry per column"):
        ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, mask[:10], bias)
    with pytest.raises(TypeError, match="int64 .column indices. or bool"):
        ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, mask.float(), bias)


def test_opcheck_int8_ops():
    A = torch.randn(9, 40, dtype=torch.float16)
    torch.library.opcheck(ops.int8_vectorwise_quant.default, (A, 0.0))
    torch.library.opcheck(ops.int8_vectorwise_quant.default, (A * 4, 3.0))
    torch.library.opcheck(ops.int8_double_quant.default, (A, 0.0))
    torch.library.opcheck(ops.int8_vectorwise_quant.mask, (A * 4, 3.0))
    torch.library.opcheck(ops.int8_double_quant.mask, (A * 4, 3.0))
    CA, SCA, _ = ops.int8_vectorwise_quant(A)
    CB, SCB, _ = ops.int8_vectorwise_quant(torch.randn(12, 40, dtype=torch.float16))
    torch.library.opcheck(ops.int8_vectorwise_dequant.default, (CA, SCA))
    torch.library.opcheck(ops.int8_linear_matmul.default, (CA, CB))
    torch.library.opcheck(ops.int8_linear_matmul.out, (CA, CB), {"out": torch.empty(9, 12, dtype=torch.int32)})
    i32 = ops.int8_linear_matmul(CA, CB)
    torch.library.opcheck(ops.int8_mm_dequant.default, (i32, SCA, SCB, torch.bfloat16, None))
    torch.library.opcheck(ops.int8_scaled_mm.default, (CA, CB, SCA, SCB, torch.randn(12), torch.float32))
    cols = torch.tensor([1, 7])
    torch.library.opcheck(ops.int8_mixed_scaled_mm.default, (A, CA, CB, SCA, SCB, cols, None))
    mask = torch.zeros(40, dtype=torch.bool)
    mask[[1, 7]] = True
    torch.library.opcheck(ops.int8_mixed_scaled_mm.default, (A, CA, CB, SCA, SCB, mask, None))


def test_bad_input_errors():
    A, B = _int8(4, 16), _int8(8, 16)
    with pytest.raises(ValueError, match="16 columns.*but B has 15"):
        ops.int8_linear_matmul(A, _int8(8, 15))
    with pytest.raises(TypeError, match="B must be torch.int8, got torch.float32"):
        ops.int8_linear_matmul(A, torch.randn(8, 16))
    with pytest.raises(ValueError, match="B must be 2-D"):
        ops.int8_linear_matmul(A, _int8(2, 8, 16))
    with pytest.raises(ValueError, match="out has shape"):
        ops.int8_linear_matmul.out(A, B, out=torch.empty(4, 9, dtype=torch.int32))
    with pytest.raises(TypeError, match="out must be torch.int32"):
        ops.int8_linear_matmul.out(A, B, out=torch.empty(4, 8))
    with pytest.raises(TypeError, match="A must be float16, bfloat16 or float32, got torch.int32"):
        ops.int8_vectorwise_quant(torch.ones(3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="threshold is NaN"):
        ops.int8_vectorwise_quant(torch.ones(3, 3), float("nan"))
    with pytest.raises(TypeError, match="A must be torch.int8"):
        ops.int8_vectorwise_dequant(torch.ones(3, 3), torch.ones(3))
    # corrupted statistics (SCB) name the problem
    with pytest.raises(ValueError, match="stats has 2 entries.*3 are needed"):
        ops.int8_vectorwise_dequant(_int8(3, 3), torch.ones(2))
    with pytest.raises(TypeError, match="col_stats must be torch.float32, got torch.float16"):
        ops.int8_scaled_mm(A, B, torch.ones(4), torch.ones(8, dtype=torch.float16))
    with pytest.raises(ValueError, match="col_stats has 7 entries"):
        ops.int8_scaled_mm(A, B, torch.ones(4), torch.ones(7))
    with pytest.raises(ValueError, match="bias has 3 entries"):
        ops.int8_scaled_mm(A, B, torch.ones(4), torch.ones(8), torch.ones(3))
    with pytest.raises(TypeError, match="A must be torch.int32"):
        ops.int8_mm_dequant(torch.ones(4, 8), torch.ones(4), torch.ones(8))
    with pytest.raises(ValueError, match="outlier_cols must lie in"):
        ops.int8_mixed_scaled_mm(torch.randn(4, 16), A, B, torch.ones(4), torch.ones(8), torch.tensor([16]), None)
    with pytest.raises(NotImplementedError, match="int32"):
        F.int8_linear_matmul(A, B, dtype=torch.float32)


def test_compile_fullgraph_int8_inference():
    torch._dynamo.reset()

    def int8_linear(x, CB, SCB, bias):
        CA, SCA, _ = ops.int8_vectorwise_quant(x, 0.0)
        return ops.int8_scaled_mm(CA, CB, SCA, SCB, bias, torch.bfloat16)

    x = torch.randn(8, 64, dtype=torch.float16)
    CB, SCB, _ = ops.int8_vectorwise_quant(torch.randn(32, 64, dtype=torch.float16), 0.0)
    bias = torch.randn(32)
    compiled = torch.compile(int8_linear, fullgraph=True, backend="eager")
    assert torch.equal(compiled(x, CB, SCB, bias), int8_linear(x, CB, SCB, bias))
