"""bitsandbytes.nn.parametrize: 4-bit quantization of any nn.Parameter (docs/api.md).

The checkpoint form is the original 0.50.2's (tests/fixtures/api_behaviour.safetensors,
tools/api_fixtures.py); the dequantize cache must stay balanced (on during a forward,
empty afterwards) through exceptions, activation checkpointing and torch.compile.
"""

import json

import pytest
import torch
import torch.nn.utils.parametrize as P
from torch import nn
from torch.utils.checkpoint import checkpoint

import bitsandbytes.functional as F
from bitsandbytes.nn import parametrize as BP
from bitsandbytes.nn.parametrize import (
    Bnb4bitParametrization,
    replace_parameter_4bit,
    replace_parameter_4bit_prequantized,
)

from conftest import load_fixture


class Experts(nn.Module):
    """A mixture-of-experts layer with one 3-D weight [experts, in, out]."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.experts = nn.Parameter(torch.randn(4, 16, 32, dtype=dtype))
        self.seen_cache_depth = []

    def forward(self, x, expert=1):
        self.seen_cache_depth.append(P._cache_enabled)
        # two reads of the parameter in one forward: dequantized once (cached)
        return x @ self.experts[expert] + self.experts[expert].sum(0)


@pytest.fixture(autouse=True)
def cache_is_balanced():
    assert P._cache_enabled == 0 and not P._cache
    yield
    assert P._cache_enabled == 0, "a forward left parametrize's cache switched on"
    assert not P._cache, "a forward left dequantized weights in parametrize's cache"


@pytest.fixture(scope="module")
def ref():
    return {k: v for k, v in load_fixture("api_behaviour").items() if k.startswith("parametrize.")}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("compress_statistics", [False, True])
def test_reading_the_parameter_dequantizes_it(dtype, quant_type, compress_statistics):
    module = Experts(dtype)
    original = module.experts.detach().clone()
    replace_parameter_4bit(module, "experts", compress_statistics=compress_statistics, quant_type=quant_type)
    packed, state = F.quantize_4bit(original, compress_statistics=compress_statistics, quant_type=quant_type)
    assert torch.equal(module.parametrizations.experts.original, packed)
    assert torch.equal(module.experts, F.dequantize_4bit(packed, state))
    assert module.experts.shape == original.shape and module.experts.dtype == dtype
    assert not module.experts.requires_grad and not module.parametrizations.experts.original.requires_grad
    parametrization = module.parametrizations.experts[0]
    assert isinstance(parametrization, Bnb4bitParametrization)
    assert parametrization.quant_state.quant_type == quant_type and parametrization.quant_state.blocksize == 64


@pytest.mark.parametrize(("quant_type", "compress"), [("nf4", True), ("fp4", False)])
def test_state_dict_equals_the_originals(ref, quant_type, compress):
    module = nn.Module()
    module.experts = nn.Parameter(ref[f"parametrize.{quant_type}.input"].clone())
    replace_parameter_4bit(module, "experts", compress_statistics=compress, quant_type=quant_type, blocksize=32)
    sd = module.state_dict()
    prefix = f"parametrize.{quant_type}.sd."
    expected = {k[len(prefix) :]: v for k, v in ref.items() if k.startswith(prefix)}
    assert set(sd) == set(expected)  # packed bytes under the name, quant state beside it
    assert not any("parametrizations" in k for k in sd)
    for key, value in expected.items():
        assert torch.equal(sd[key], value), key
    assert torch.equal(module.experts, ref[f"parametrize.{quant_type}.dequantized"])


@pytest.mark.parametrize(("quant_type", "compress"), [("nf4", True), ("fp4", False)])
def test_the_originals_checkpoint_loads_both_ways(ref, quant_type, compress):
    prefix = f"parametrize.{quant_type}.sd."
    sd = {k[len(prefix) :]: v for k, v in ref.items() if k.startswith(prefix)}
    expected = ref[f"parametrize.{quant_type}.dequantized"]
    # 1. as the original does it: the packed parameter, then the prequantized parametrization
    module = nn.Module()
    module.experts = nn.Parameter(sd["experts"], requires_grad=False)
    stats = {k[len("experts.") :]: v for k, v in sd.items() if k.startswith("experts.")}
    replace_parameter_4bit_prequantized(module, "experts", stats, torch.device("cpu"))
    assert torch.equal(module.experts, expected)
    # 2. load_state_dict into a module given the parametrization (with other settings: they are replaced)
    target = nn.Module()
    target.experts = nn.Parameter(torch.zeros(4, 16, 32, dtype=torch.bfloat16))
    replace_parameter_4bit(target, "experts", quant_type="fp4" if quant_type == "nf4" else "nf4", blocksize=64)
    target.load_state_dict(sd)
    assert torch.equal(target.experts, expected)
    assert set(target.state_dict()) == set(sd)


def test_expert_weights_round_trip_through_state_dict_and_torch_save(tmp_path):
    torch.manual_seed(0)
    module = Experts()
    replace_parameter_4bit(module, "experts", compress_statistics=True)
    torch.save(module.state_dict(), tmp_path / "experts.pt")
    fresh = Experts()
    replace_parameter_4bit(fresh, "experts")
    fresh.load_state_dict(torch.load(tmp_path / "experts.pt"))
    assert torch.equal(fresh.experts, module.experts)
    x = torch.randn(3, 16)
    assert torch.equal(fresh(x), module(x))


def test_errors_name_the_parameter():
    module = Experts()
    module.buffer_like = torch.zeros(3)
    with pytest.raises(AttributeError, match="Module does not have parameter 'nonexistent'"):
        replace_parameter_4bit(module, "nonexistent")
    with pytest.raises(TypeError, match="Parameter 'buffer_like' is not an instance of nn.Parameter"):
        replace_parameter_4bit(module, "buffer_like")
    with pytest.raises(AttributeError, match="Module does not have parameter 'nonexistent'"):
        replace_parameter_4bit_prequantized(module, "nonexistent", {}, torch.device("cpu"))
    replace_parameter_4bit(module, "experts")
    with pytest.raises(TypeError, match="Parameter 'experts' is not an instance of nn.Parameter"):
        replace_parameter_4bit(module, "experts")  # already parametrized


def _count_dequantize(monkeypatch) -> list:
    calls = []
    forward = Bnb4bitParametrization.forward

    def counting(self, packed):
        calls.append(1)
        return forward(self, packed)

    monkeypatch.setattr(Bnb4bitParametrization, "forward", counting)
    return calls


def test_cache_dequantizes_once_per_forward_and_empties_after(monkeypatch):
    module = Experts()
    replace_parameter_4bit(module, "experts")
    calls = _count_dequantize(monkeypatch)
    module(torch.randn(2, 16))
    assert len(calls) == 1 and module.seen_cache_depth == [1]
    module(torch.randn(2, 16))
    assert len(calls) == 2  # not stale: each forward dequantizes afresh
    _ = module.experts, module.experts
    assert len(calls) == 4  # outside a forward nothing is cached


def test_cache_is_switched_off_when_forward_raises():
    module = Experts()
    replace_parameter_4bit(module, "experts")
    with pytest.raises(RuntimeError):
        module(torch.randn(2, 5))  # wrong feature count


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_cache_stays_balanced_under_activation_checkpointing(monkeypatch, use_reentrant):
    torch.manual_seed(0)
    module = Experts()
    replace_parameter_4bit(module, "experts")
    calls = _count_dequantize(monkeypatch)
    x = torch.randn(2, 16, requires_grad=True)
    for _ in range(3):  # a leak would grow with every step
        y = checkpoint(module, x, use_reentrant=use_reentrant)
        y.sum().backward()
        assert P._cache_enabled == 0 and not P._cache
    assert len(calls) == 6  # forward and the recomputation in backward, each once
    assert module.seen_cache_depth == [1] * 6
    W = module.experts[1].detach()
    assert torch.allclose(x.grad, 3 * W.sum(1).expand(2, -1), atol=1e-4)  # float32 sums of 32 terms


def test_nested_parametrized_modules_share_one_cache_scope():
    inner = Experts()
    replace_parameter_4bit(inner, "experts")
    outer = nn.Module()
    outer.inner = inner
    outer.scale = nn.Parameter(torch.ones(32))
    replace_parameter_4bit(outer, "scale", blocksize=32)
    outer.forward = lambda x: outer.inner(x) * outer.scale  # instance forward: hooks still run
    nn.Module.__call__(outer, torch.randn(2, 16))
    assert inner.seen_cache_depth == [2]


def test_torch_compile_matches_eager():
    torch.manual_seed(0)
    module = Experts()
    replace_parameter_4bit(module, "experts", compress_statistics=True)
    x = torch.randn(5, 16)
    eager = module(x)
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True)
    # Inductor may fuse `x @ W + b` into one addmm, whose fp32 sum runs in another order than
    # eager's matmul then add (it does on some CPUs; so may the column sum b): the two may differ
    # by that reordering, 2(K+1) * 2^-24 * (sum_k |x_k w_k| + sum_k |w_k|), K = 16, and no more;
    # a wrong or stale weight would be off by far more.
    W = module.experts[1]
    bound = 2 * (16 + 1) * 2.0**-24 * (x.abs() @ W.abs() + W.abs().sum(0))
    assert ((compiled(x) - eager).abs() <= bound).all()
    # the second call reuses the graph and the cache stays balanced
    assert ((compiled(x) - eager).abs() <= bound).all()
    torch._dynamo.reset()


def test_the_hook_that_counts_is_registered_once_per_module():
    module = nn.Module()
    module.a = nn.Parameter(torch.randn(64))
    module.b = nn.Parameter(torch.randn(64))
    replace_parameter_4bit(module, "a")
    replace_parameter_4bit(module, "b")
    assert len(module._forward_pre_hooks) == 1 and len(module._forward_hooks) == 1
    assert json.dumps(sorted(module.state_dict())) == json.dumps(
        sorted(
            ["a", "b"] + [f"{p}.{k}" for p in "ab" for k in ("absmax", "quant_map", "quant_state.bitsandbytes__nf4")]
        )
    )
    assert BP.Bnb4bitParametrization is Bnb4bitParametrization
