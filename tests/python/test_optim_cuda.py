"""The CUDA/HIP optimizer kernels against the CPU backend (the reference
backend), paged optimizer states in unified memory, and LAMB8bit/LARS8bit on
the GPU (the original has no GPU kernel for them)."""

import pytest
import torch
from test_optim_ops import ALGOS, DTYPES, QMAPS, TOL, _call8, _call32, _states8, _states32

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes import paging

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm device")


def _cuda(t):
    return None if t is None else t.cuda()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ALGOS)
def test_32bit_cuda_matches_cpu(name, dtype):
    n = 5000
    p = torch.randn(n).to(dtype)
    pg = p.cuda()
    s1, s2 = _states32(name, n)
    g1, g2 = _cuda(s1), _cuda(s2)
    for step in range(1, 5):
        g = (torch.randn(n) * 0.1).to(dtype)
        _call32(name, g, p, s1, s2, step, 1e-3, 0.01)
        _call32(name, g.cuda(), pg, g1, g2, step, 1e-3, 0.01)
    atol, rtol = TOL[dtype]
    torch.testing.assert_close(pg.cpu().float(), p.float(), atol=atol, rtol=rtol)
    torch.testing.assert_close(g1.cpu(), s1, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_32bit_cuda_trust_ratio_matches_cpu(name):
    n = 5000
    p = torch.randn(n)
    pg = p.cuda()
    s1, s2 = _states32(name, n)
    g1, g2 = _cuda(s1), _cuda(s2)
    u, ug = torch.zeros(1), torch.zeros(1, device="cuda")
    for step in range(1, 4):
        g = torch.randn(n)
        _call32(name, g, p, s1, s2, step, 0.1, 0.0, max_unorm=0.01, unorm=u, pnorm=float(p.norm()))
        _call32(name, g.cuda(), pg, g1, g2, step, 0.1, 0.0, max_unorm=0.01, unorm=ug, pnorm=float(pg.norm()))
    torch.testing.assert_close(ug.cpu(), u, rtol=1e-4, atol=0)
    torch.testing.assert_close(pg.cpu(), p, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ALGOS)
def test_8bit_cuda_matches_cpu(name, dtype):
    n = 256 * 40 + 33
    p = torch.randn(n).to(dtype)
    pg = p.cuda()
    st = _states8(name, n)
    sg = tuple(_cuda(t) for t in st)
    qg = tuple(q.cuda() for q in QMAPS)
    g = (torch.randn(n) * 0.1).to(dtype)
    g[7] = float("nan")
    for step in range(1, 4):
        _call8(name, g, p, st, step, 1e-3, 0.01, QMAPS)
        _call8(name, g.cuda(), pg, sg, step, 1e-3, 0.01, qg)
        g = (torch.randn(n) * 0.1).to(dtype)
    for a, b in zip(sg, st):
        if b is not None:
            assert int((a.cpu() != b).sum()) < 20 if b.dtype == torch.uint8 else True
    torch.testing.assert_close(sg[2].cpu(), st[2], atol=1e-6, rtol=1e-5)
    assert float((pg.cpu().float() - p.float()).abs().mean()) < 6e-5


@pytest.mark.parametrize("n", [1, 4 * 255, 256 * 4000 + 2])
@pytest.mark.parametrize("name", ["adam", "ademamix", "lion"])
def test_8bit_cuda_vector_and_tail_paths_match_cpu(name, n):
    """Sizes around the kernel's vector path (4 elements per thread; ademamix' second state needs n % 4 == 0)
    and more blocks than one persistent grid covers: the states equal the CPU's."""
    p = torch.randn(n)
    pg = p.cuda()
    st = _states8(name, n)
    sg = tuple(_cuda(t) for t in st)
    qg = tuple(q.cuda() for q in QMAPS)
    for step in range(1, 3):
        g = torch.randn(n) * 0.1
        _call8(name, g, p, st, step, 1e-3, 0.01, QMAPS)
        _call8(name, g.cuda(), pg, sg, step, 1e-3, 0.01, qg)
    for a, b in zip(sg, st):
        if b is not None and b.dtype == torch.uint8:
            assert int((a.cpu() != b).sum()) <= max(2, n // 50000)  # sqrt/div rounding may move a code
    assert float((pg.cpu() - p).abs().max()) < 1e-5


@pytest.mark.parametrize("cls", [bnb.optim.LAMB8bit, bnb.optim.LARS8bit])
def test_lamb_lars_8bit_step_on_cuda(cls):
    p = torch.nn.Parameter(torch.randn(64, 128, device="cuda"))
    opt = cls([p], lr=1e-3, **({"momentum": 0.9} if cls is bnb.optim.LARS8bit else {}))
    p.grad = torch.randn_like(p)
    p0 = p.detach().clone()
    opt.step()
    assert opt.state[p]["state1"].dtype == torch.uint8 and not torch.equal(p, p0)


def test_get_paged_and_prefetch():
    t = F.get_paged(1000, 10, dtype=torch.float32, device=torch.device("cuda", 0))
    assert t.device.type == "cpu" and t.is_paged and t.page_deviceid == 0 and t.shape == (1000, 10)
    assert bool((t == 0).all())
    v = paging.device_view(t)
    assert v.device.type == "cuda" and v.data_ptr() == t.data_ptr()
    v.fill_(3.0)
    torch.cuda.synchronize()
    assert bool((t == 3.0).all())
    F.prefetch_tensor(t)
    F.prefetch_tensor(t, to_cpu=True)


def test_paged_adamw8bit_matches_non_paged_on_cuda():
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(512, 512, device="cuda"))
    b = torch.nn.Parameter(a.detach().clone())
    paged, plain = bnb.optim.PagedAdamW8bit([a]), bnb.optim.AdamW8bit([b])
    for _ in range(3):
        g = torch.randn_like(a)
        a.grad, b.grad = g.clone(), g.clone()
        paged.step()
        plain.step()
    assert getattr(paged.state[a]["state1"], "is_paged", False)
    assert torch.equal(a, b)
    sd = paged.state_dict()
    assert sd["state"][0]["__bnb_optimizer_quant_state__"]["state1"].shape == (512, 512)
