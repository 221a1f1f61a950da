"""Optimizer configuration as the original 0.50.2 applies it (docs/optimizers.md): LAMB's
max_unorm, Lion's decoupled weight decay, state_dict round trips. Trajectories of the
original: tests/fixtures/api_behaviour.safetensors (tools/api_fixtures.py)."""

import math

import pytest
import torch

from bitsandbytes import optim

from conftest import load_fixture


@pytest.fixture(scope="module")
def ref():
    return {k: v for k, v in load_fixture("api_behaviour").items() if k.startswith(("lion.", "lamb."))}


def _one_step(make, p0, grad):
    p = torch.nn.Parameter(p0.clone())
    opt = make([p])
    p.grad = grad.clone()
    opt.step()
    return p.detach(), opt


@pytest.mark.parametrize("cls", [optim.LAMB, optim.LAMB32bit])
def test_lamb_max_unorm_reaches_the_config_and_limits_the_update(cls):
    torch.manual_seed(0)
    p0, grad = torch.randn(32, 40) * 0.1, torch.randn(32, 40)
    updates = {}
    for max_unorm in (1.0, 0.5, 0.0):
        p, opt = _one_step(lambda ps, m=max_unorm: cls(ps, lr=1e-2, max_unorm=m), p0, grad)
        assert opt.args.max_unorm == max_unorm and opt.get_config(0, 0, opt.param_groups[0])["max_unorm"] == max_unorm
        updates[max_unorm] = (p - p0).norm().item()
    # first Adam step: every element moves by lr, so the unclipped update norm is lr * sqrt(numel)
    assert updates[0.0] == pytest.approx(1e-2 * math.sqrt(p0.numel()), rel=1e-4)
    # clipped to max_unorm * ||p||, times lr (float32 norms: rel 1e-4)
    for max_unorm in (1.0, 0.5):
        assert updates[max_unorm] == pytest.approx(1e-2 * max_unorm * p0.norm().item(), rel=1e-4)


def test_lamb_clipping_differs_from_the_originals_cpu_path(ref):
    # docs/differences.md: the original's CPU path measures the update before bias correction, so its
    # clipped step is sqrt(1 - beta2^t) / (1 - beta1^t) times ours (its CUDA kernel agrees with ours)
    p0, grad = ref["lamb.p0"], ref["lamb.grad0"]
    p, _ = _one_step(lambda ps: optim.LAMB(ps, lr=1e-2, max_unorm=1.0), p0, grad)
    ours = (p - p0).norm().item()
    original = (ref["lamb.p_final"] - p0).norm().item()
    assert ours == pytest.approx(1e-2 * p0.norm().item(), rel=1e-4)
    assert original == pytest.approx(ours * math.sqrt(1 - 0.999) / (1 - 0.9), rel=1e-3)


def test_lion_weight_decay_is_decoupled_and_equals_the_original(ref):
    p = torch.nn.Parameter(ref["lion.p0"].clone())
    opt = optim.Lion([p], lr=1e-2, weight_decay=0.5)
    for step in range(3):
        p.grad = ref[f"lion.grad{step}"].clone()
        opt.step()
    assert torch.equal(p.detach(), ref["lion.p_final"])
    # decoupled: p * (1 - lr * wd) - lr * sign(update); a coupled decay would change the sign's argument
    q = torch.nn.Parameter(ref["lion.p0"].clone())
    opt = optim.Lion([q], lr=1e-2, weight_decay=0.5, betas=(0.0, 0.0))
    q.grad = ref["lion.grad0"].clone()
    opt.step()
    expected = ref["lion.p0"] * (1 - 1e-2 * 0.5) - 1e-2 * torch.sign(ref["lion.grad0"])
    torch.testing.assert_close(q.detach(), expected, rtol=0, atol=1e-7)  # fp32 rounding of p * (1 - lr*wd)


@pytest.mark.parametrize("name", ["AdEMAMix", "AdEMAMix8bit", "AdEMAMix32bit", "PagedAdEMAMix8bit", "Adam8bit"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_state_dict_round_trip_is_a_copy_and_continues_exactly(name, dtype):
    torch.manual_seed(0)
    cls = getattr(optim, name)
    p = torch.nn.Parameter((torch.randn(64, 80) * 0.1).to(dtype))
    opt = cls([p], lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        p.grad = (torch.randn(64, 80, generator=gen) * 0.1).to(dtype)
        opt.step()
    p2 = torch.nn.Parameter(p.detach().clone())
    opt2 = cls([p2], lr=1e-3)
    opt2.load_state_dict(opt.state_dict())  # in memory: the source keeps stepping on its own tensors
    for key, value in opt2.state[p2].items():
        if isinstance(value, torch.Tensor) and value.numel() > 1:
            assert value.data_ptr() != opt.state[p][key].data_ptr(), key
    for _ in range(3):
        g = (torch.randn(64, 80, generator=gen) * 0.1).to(dtype)
        p.grad, p2.grad = g.clone(), g.clone()
        opt.step()
        opt2.step()
    assert torch.equal(p, p2) and not torch.isnan(p2).any()
    for value in opt2.state[p2].values():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            assert not torch.isnan(value).any()
