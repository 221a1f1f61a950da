"""LLM.int8() on CUDA/ROCm against the CPU backend (the reference backend);
skipped without a GPU."""

import pytest
import torch

import bitsandbytes as bnb

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm device")
ops = torch.ops.bitsandbytes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("threshold", [0.0, 3.0])
def test_quant_ops_match_cpu(dtype, threshold):
    A = (torch.randn(67, 300) * 1.5).to(dtype)
    for op in (ops.int8_vectorwise_quant, ops.int8_double_quant):
        cpu, gpu = op(A, threshold), op(A.cuda(), threshold)
        for c, g in zip(cpu, gpu):
            assert (c is None) == (g is None)
            if c is not None:
                assert torch.equal(c, g.cpu())
    for op in (ops.int8_vectorwise_quant.mask, ops.int8_double_quant.mask):  # the outlier columns as a mask
        cpu, gpu = op(A, threshold), op(A.cuda(), threshold)
        for c, g in zip(cpu, gpu):
            assert (c is None) == (g is None)
            if c is not None:
                assert torch.equal(c, g.cpu())
    q, s, _ = ops.int8_vectorwise_quant(A)
    assert torch.equal(ops.int8_vectorwise_dequant(q, s), ops.int8_vectorwise_dequant(q.cuda(), s.cuda()).cpu())


# the vendor int8 GEMM (cuBLASLt / hipBLASLt via _int_mm: M > 16, K and N multiples of 8) unless
# BNB_CUDA_INT8_VENDOR=0; this package's kernels otherwise: the GEMV (M <= 8, K % 16 == 0) and the tiles
@pytest.mark.parametrize(
    "M,N,K", [(1, 64, 4096), (8, 264, 512), (5, 7, 9), (16, 96, 4096), (17, 64, 4096), (130, 200, 67), (256, 512, 1024)]
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("vendor", ["1", "0"])
def test_matmul_ops_match_cpu(monkeypatch, M, N, K, dtype, vendor):
    monkeypatch.setenv("BNB_CUDA_INT8_VENDOR", vendor)
    A = torch.randint(-128, 128, (M, K), dtype=torch.int8)
    B = torch.randint(-128, 128, (N, K), dtype=torch.int8)
    rs, cs, bias = torch.rand(M), torch.rand(N), torch.randn(N, dtype=dtype)
    i32 = ops.int8_linear_matmul(A, B)
    assert torch.equal(i32, ops.int8_linear_matmul(A.cuda(), B.cuda()).cpu())
    want = ops.int8_scaled_mm(A, B, rs, cs, bias, dtype)
    got = ops.int8_scaled_mm(A.cuda(), B.cuda(), rs.cuda(), cs.cuda(), bias.cuda(), dtype)
    assert torch.equal(want, got.cpu())
    assert torch.equal(
        ops.int8_mm_dequant(i32, rs, cs, dtype, bias),
        ops.int8_mm_dequant(i32.cuda(), rs.cuda(), cs.cuda(), dtype, bias.cuda()).cpu(),
    )


@pytest.mark.parametrize("M", [4, 64])
def test_scaled_mm_in_a_cuda_graph(M):
    # the vendor GEMM (64 rows) and the GEMV kernel (4 rows) run without host synchronisation
    A = torch.randint(-128, 128, (M, 512), dtype=torch.int8, device="cuda")
    B = torch.randint(-128, 128, (256, 512), dtype=torch.int8, device="cuda")
    rs, cs = torch.rand(M, device="cuda"), torch.rand(256, device="cuda")
    expected = ops.int8_scaled_mm(A, B, rs, cs, None, torch.bfloat16)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = ops.int8_scaled_mm(A, B, rs, cs, None, torch.bfloat16)
    graph.replay()
    assert torch.equal(y, expected)


def test_linear8bitlt_on_gpu_matches_cpu():
    torch.manual_seed(0)
    lin = bnb.nn.Linear8bitLt(128, 64, has_fp16_weights=False, threshold=6.0)
    W = lin.weight.data.clone()
    cpu = lin.to("cpu").eval()
    x = torch.randn(9, 128, dtype=torch.float16)
    x[:, 3] = 30
    want = cpu(x)
    gpu = bnb.nn.Linear8bitLt(128, 64, has_fp16_weights=False, threshold=6.0)
    gpu.weight = bnb.nn.Int8Params(W, requires_grad=False, has_fp16_weights=False)
    gpu.bias.data = cpu.bias.data.clone()
    gpu = gpu.cuda().eval()
    assert torch.equal(gpu.weight.data.cpu(), cpu.state.CB)
    torch.testing.assert_close(gpu(x.cuda()).cpu(), want, rtol=2e-3, atol=2e-3)
    back = gpu.to("cpu")
    assert back.weight.device.type == "cpu" and back.state.SCB.device.type == "cpu"


@pytest.mark.parametrize("rows,cols", [(1, 4096), (3, 300), (4096, 1024), (20000, 64)])
def test_outlier_and_column_passes_match_cpu_on_many_rows(rows, cols):
    """The column pass splits rows over blocks (flags and column absmax meet in global memory)."""
    torch.manual_seed(rows)
    A = torch.randn(rows, cols, dtype=torch.float16)
    A[torch.randint(rows, (5,)), torch.randint(cols, (5,))] = 50.0
    for threshold in (0.0, 6.0):
        cpu, gpu = ops.int8_double_quant(A, threshold), ops.int8_double_quant(A.cuda(), threshold)
        for c, g in zip(cpu, gpu):
            assert (c is None) == (g is None)
            if c is not None:
                assert torch.equal(c, g.cpu())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_mixed_scaled_mm_mask_on_gpu_matches_cpu(dtype):
    """The outlier product of a column mask runs on the device (compaction + tiled product)."""
    torch.manual_seed(0)
    A = torch.randn(77, 300).to(dtype)
    A[:, [5, 64, 299]] *= 30
    CA, SCA, mask = ops.int8_vectorwise_quant.mask(A.half(), 6.0)
    CB, SCB, _ = ops.int8_vectorwise_quant(torch.randn(70, 300).half())
    bias = torch.randn(70, dtype=dtype)
    want, _ = ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, mask, bias)
    args = [t.cuda() for t in (A, CA, CB, SCA, SCB, mask, bias)]
    got, none = ops.int8_mixed_scaled_mm(*args)
    assert none is None
    # the outlier columns: the same products and fp32 sums, in another order, and the output rounded once
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}[dtype]
    torch.testing.assert_close(got.cpu(), want, rtol=tol, atol=tol * want.abs().max().item())


def test_linear8bitlt_forward_with_outliers_needs_no_host_sync():
    """The forward pass with the outlier decomposition captures into a CUDA graph: a host round trip
    (nonzero, .item()) would fail the capture."""
    torch.manual_seed(0)
    lin = bnb.nn.Linear8bitLt(256, 128, has_fp16_weights=False, threshold=6.0).cuda().eval()
    x = torch.randn(16, 256, dtype=torch.float16, device="cuda")
    x[:, 7] = 40
    with torch.no_grad():
        want = lin(x)  # eager (also moves the int8 state into place)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            lin(x)  # warm-up on the capture stream
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = lin(x)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, want)
    assert lin.state.idx.tolist() == [7]  # the mask becomes column indices when read
