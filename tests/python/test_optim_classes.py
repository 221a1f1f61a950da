"""The optimizer classes: names, signatures and defaults of the original (a
fixture made from it), rejected arguments, state layout, GlobalOptimManager
overrides (also registered after construction), state_dict nesting and exact
resume, loading a state saved by the original, paging on CPU, bad input."""

import inspect
import json
import math
import os
import warnings

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.optim.optimizer import NESTED_KEY

from conftest import FIXTURES

optim = bnb.optim
with open(os.path.join(FIXTURES, "optim_signatures.json")) as _f:
    SIGNATURES = json.load(_f)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_class_signature_matches_original(name):
    cls = getattr(optim, name)
    params = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        params.append([p.name, None if p.default is inspect.Parameter.empty else repr(p.default)])
    assert params == SIGNATURES[name]["params"]
    assert cls.__mro__[1].__name__ == SIGNATURES[name]["bases"][0]
    assert issubclass(cls, torch.optim.Optimizer)
    assert "bitsandbytes" in str(cls)


def test_every_original_class_exists():
    ours = {
        n
        for n in dir(optim)
        if isinstance(getattr(optim, n), type) and issubclass(getattr(optim, n), torch.optim.Optimizer)
    }
    assert ours == set(SIGNATURES)


def _p(n=10):
    return [torch.nn.Parameter(torch.randn(n))]


@pytest.mark.parametrize(
    "make, exc, msg",
    [
        (lambda: optim.SGD(_p(), lr=0.1), NotImplementedError, "without momentum"),
        (lambda: optim.LARS(_p(), lr=0.1), NotImplementedError, "without momentum"),
        (lambda: optim.RMSprop(_p(), alpha=0), NotImplementedError, "alpha==0"),
        (lambda: optim.RMSprop(_p(), centered=True), NotImplementedError, "Centered"),
        (lambda: optim.Adagrad(_p(), lr_decay=0.1), ValueError, "Lr Decay"),
        (lambda: optim.Adagrad(_p(), initial_accumulator_value=0.1), ValueError, "Initial accumulator"),
        (lambda: optim.Adam8bit(_p(), amsgrad=True), ValueError, "amsgrad"),
        (lambda: optim.AdamW8bit(_p(), optim_bits=8), ValueError, "optim_bits=32"),
        (lambda: optim.PagedAdamW8bit(_p(), amsgrad=True), ValueError, "amsgrad"),
        (lambda: optim.Adam(_p(), lr=-1), ValueError, "Invalid learning rate"),
        (lambda: optim.Adam(_p(), eps=-1), ValueError, "Invalid epsilon"),
        (lambda: optim.Adam(_p(), betas=(0.9, 1.5)), ValueError, "index 1"),
        (lambda: optim.AdamW(_p(), weight_decay=-1), ValueError, "weight_decay"),
        (lambda: optim.Adam([]), ValueError, "empty parameter list"),
        (lambda: optim.Lion8bit(_p(), optim_bits=8), TypeError, "optim_bits"),
        # as Python words a wrong call of a written-out __init__ (the original's classes)
        (lambda: optim.AdamW8bit(_p(), block_wise=False), TypeError, r"^AdamW8bit\.__init__\(\) got an unexpected"),
        (
            lambda: optim.PagedLion(_p(), 0.1, (0.9, 0.99), 0.0, 32, None, 4096, 1),
            TypeError,
            r"^PagedLion\.__init__\(\) ",
        ),
        (lambda: optim.LAMB8bit(_p(), amsgrad=True), ValueError, "LAMB8bit does not support amsgrad=True"),
        (lambda: optim.LAMB8bit(_p(), max_unorm=0.5), ValueError, r"only supports max_unorm=1\.0"),
        (lambda: optim.LAMB8bit(_p(), max_unorm=0.0), ValueError, r"only supports max_unorm=1\.0"),
        (lambda: optim.Adagrad8bit(_p(), optim_bits=32), ValueError, r"Adagrad8bit only supports optim_bits=8"),
    ],
)
def test_rejected_arguments(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_rmsprop_accepts_trainer_string_arguments():
    opt = optim.RMSprop(_p(), lr=0.01, alpha="0.9", eps="1e-6", momentum="0", centered="False")
    assert opt.defaults["betas"] == (0.9, 0.0) and opt.defaults["eps"] == 1e-6
    with pytest.raises(NotImplementedError, match="Centered"):
        optim.RMSprop(_p(), centered="True")


def test_ignored_arguments_are_accepted():
    optim.SGD8bit(_p(), lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    optim.LAMB(_p(), bias_correction=False, adam_w_mode=False)
    optim.Adam(_p(), amsgrad=True)


def _step(opt, params, steps=1, scale=0.1):
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn_like(p) * scale
        opt.step()


def test_state_layout_8bit_and_min_8bit_size():
    big = torch.nn.Parameter(torch.randn(64, 80))
    small = torch.nn.Parameter(torch.randn(100))
    opt = optim.AdamW8bit([big, small])
    _step(opt, [big, small])
    st = opt.state[big]
    assert st["step"] == 1
    assert st["state1"].dtype == torch.uint8 and st["state1"].shape == big.shape
    assert st["state2"].dtype == torch.uint8
    assert torch.equal(st["qmap1"], F.create_dynamic_map(signed=True))
    assert torch.equal(st["qmap2"], F.create_dynamic_map(signed=False))
    assert st["absmax1"].shape == (math.ceil(5120 / 256),) and st["absmax1"].dtype == torch.float32
    assert opt.state[small]["state1"].dtype == torch.float32  # < min_8bit_size keeps 32-bit states
    assert "unorm_vec" not in st
    assert vars(opt.args) == {"optim_bits": 8, "min_8bit_size": 4096, "max_unorm": 0.0, "skip_zeros": False}


def test_state_layout_ademamix_lamb():
    p = torch.nn.Parameter(torch.randn(300))
    opt = optim.AdEMAMix8bit([p], min_8bit_size=10)
    _step(opt, [p])
    st = opt.state[p]
    assert st["state1"].shape == (2, 300) and st["state1"].dtype == torch.uint8
    assert st["absmax1"].shape == (2, 2) and st["absmax2"].shape == (2,)
    q = torch.nn.Parameter(torch.randn(100))
    opt = optim.LAMB([q])
    _step(opt, [q])
    assert opt.state[q]["unorm_vec"].shape == (1,)
    opt = optim.AdEMAMix([q])
    _step(opt, [q])
    assert opt.state[q]["state1"].shape == (2, 100) and opt.state[q]["state1"].dtype == torch.float32


ALL_CLASSES = sorted(SIGNATURES)


def _make(name, params):
    kwargs = {}
    if name in ("SGD", "SGD8bit", "SGD32bit", "LARS", "LARS8bit", "LARS32bit", "PytorchLARS"):
        kwargs = {"lr": 0.01, "momentum": 0.9}
    kwargs_min = {"min_8bit_size": 16} if "min_8bit_size" in inspect.signature(getattr(optim, name)).parameters else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(optim, name)(params, **kwargs, **kwargs_min)


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_every_class_trains_a_tiny_regression(name):
    torch.manual_seed(0)
    model = torch.nn.Linear(32, 16)
    x = torch.randn(64, 32)
    y = x @ torch.randn(32, 16) * 0.5
    opt = _make(name, model.parameters())
    if "lr" in opt.defaults and name not in ("PytorchLARS",):
        for g in opt.param_groups:
            g["lr"] = 0.05 if "Lion" not in name else 0.005
    loss0 = torch.nn.functional.mse_loss(model(x), y).item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    loss1 = torch.nn.functional.mse_loss(model(x), y).item()
    assert math.isfinite(loss1) and loss1 < loss0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_params(dtype):
    p = torch.nn.Parameter(torch.randn(64, 80, dtype=dtype))
    p0 = p.detach().clone()
    opt = optim.AdamW8bit([p], lr=1e-2)
    _step(opt, [p], 3)
    assert p.dtype == dtype and not torch.equal(p, p0)
    assert opt.state[p]["state1"].dtype == torch.uint8


# ---- GlobalOptimManager ---------------------------------------------------------
def test_manager_is_a_singleton():
    with pytest.raises(RuntimeError, match="get_instance"):
        optim.GlobalOptimManager()
    assert optim.GlobalOptimManager.get_instance() is optim.GlobalOptimManager.get_instance()


def test_override_config_before_and_after_construction():
    mng = optim.GlobalOptimManager.get_instance()
    a = torch.nn.Parameter(torch.randn(64, 80))
    b = torch.nn.Parameter(torch.randn(64, 80))
    c = torch.nn.Parameter(torch.randn(64, 80))
    mng.register_parameters([a, b, c])
    mng.override_config(a, "optim_bits", 32)
    opt = optim.Adam([a, b, c], optim_bits=8)
    mng.override_config([b], key_value_dict={"optim_bits": 32, "lr": 0.0})  # after construction
    b0 = b.detach().clone()
    _step(opt, [a, b, c])
    assert opt.state[a]["state1"].dtype == torch.float32
    assert opt.state[b]["state1"].dtype == torch.float32
    assert opt.state[c]["state1"].dtype == torch.uint8
    assert torch.equal(b.detach(), b0)  # lr 0 override


def test_module_override_registered_after_construction_like_trainer():
    model = torch.nn.Sequential(torch.nn.Embedding(100, 64), torch.nn.Linear(64, 100))
    opt = optim.AdamW8bit(model.parameters())
    optim.GlobalOptimManager.get_instance().register_module_override(model[0], "weight", {"optim_bits": 32})
    model(torch.randint(0, 100, (4, 7))).sum().backward()
    opt.step()
    assert opt.state[model[0].weight]["state1"].dtype == torch.float32
    assert opt.state[model[1].weight]["state1"].dtype == torch.uint8


@pytest.mark.parametrize("cls", [bnb.nn.StableEmbedding, bnb.nn.Embedding])
def test_embeddings_keep_32bit_states(cls):
    emb = cls(200, 64)
    lin = torch.nn.Linear(64, 200)
    opt = optim.Adam8bit(list(emb.parameters()) + list(lin.parameters()))
    out = lin(emb(torch.randint(0, 200, (3, 5))))
    out.float().pow(2).mean().backward()
    opt.step()
    assert opt.state[emb.weight]["state1"].dtype == torch.float32
    assert opt.state[lin.weight]["state1"].dtype == torch.uint8
    if cls is bnb.nn.StableEmbedding:
        assert out.shape == (3, 5, 200) and isinstance(emb.norm, torch.nn.LayerNorm)


# ---- state_dict ---------------------------------------------------------------
def _model():
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Tanh(), torch.nn.Linear(96, 8))


def _data(n):
    gen = torch.Generator().manual_seed(5)
    return [(torch.randn(16, 64, generator=gen), torch.randn(16, 8, generator=gen)) for _ in range(n)]


def _train(model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize(
    "name", ["AdamW8bit", "AdamW", "AdEMAMix8bit", "Lion8bit", "LAMB", "SGD8bit", "PagedAdamW8bit"]
)
def test_state_dict_resume_is_exact(name, tmp_path):
    kwargs = {"lr": 0.01, "momentum": 0.9} if name.startswith("SGD") else {"lr": 0.01}
    if name.startswith("AdEMAMix"):
        kwargs.update(t_alpha=10, t_beta3=10)
    data = _data(8)
    ref_model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_opt = getattr(optim, name)(ref_model.parameters(), **kwargs)
        _train(ref_model, ref_opt, data)

        model = _model()
        opt = getattr(optim, name)(model.parameters(), **kwargs)
        _train(model, opt, data[:4])
        torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ckpt.pt")
        del model, opt
        ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
        model = _model()
        model.load_state_dict(ckpt["model"])
        opt = getattr(optim, name)(model.parameters(), **kwargs)
        opt.load_state_dict(ckpt["opt"])
        _train(model, opt, data[4:])
    for a, b in zip(model.parameters(), ref_model.parameters()):
        assert torch.equal(a, b)
    for p, q in zip(model.parameters(), ref_model.parameters()):
        for k, v in ref_opt.state[q].items():
            w = opt.state[p][k]
            assert torch.equal(w, v) if torch.is_tensor(v) else w == v


def test_state_dict_nesting():
    model = _model()
    opt = optim.AdamW8bit(model.parameters())
    _train(model, opt, _data(1))
    sd = opt.state_dict()
    st = sd["state"][0]
    assert set(st) == {"step", NESTED_KEY}
    assert set(st[NESTED_KEY]) == {"state1", "state2", "qmap1", "qmap2", "absmax1", "absmax2"}
    assert set(sd["state"][1][NESTED_KEY]) == {"state1", "state2"}  # bias: 32-bit
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    # a flat (pre-0.49) state_dict loads too
    flat = {
        "state": {
            k: {**{kk: vv for kk, vv in v.items() if kk != NESTED_KEY}, **v[NESTED_KEY]} for k, v in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }
    opt2 = optim.AdamW8bit(model.parameters())
    opt2.load_state_dict(flat)
    assert torch.equal(opt2.state[model[0].weight]["state1"], opt.state[model[0].weight]["state1"])


def test_load_keeps_state_dtypes_for_half_params():
    p = torch.nn.Parameter(torch.randn(64, 80, dtype=torch.bfloat16))
    opt = optim.AdamW8bit([p])
    _step(opt, [p])
    sd = opt.state_dict()
    opt2 = optim.AdamW8bit([p])
    opt2.load_state_dict(sd)
    st = opt2.state[p]
    assert st["state1"].dtype == torch.uint8 and st["absmax1"].dtype == torch.float32
    assert st["qmap1"].dtype == torch.float32


def test_load_state_of_the_original():
    blob = torch.load(os.path.join(FIXTURES, "optim_adamw8bit_resume.pt"), weights_only=True)
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Tanh(), torch.nn.Linear(96, 8))
    model.load_state_dict(blob["mid_weights"])
    opt = optim.AdamW8bit(model.parameters(), **blob["kwargs"])
    opt.load_state_dict(blob["optimizer"])
    assert opt.state[model[0].weight]["state1"].dtype == torch.uint8
    assert opt.state[model[0].weight]["step"] == 4
    _train(model, opt, blob["data"][4:])
    start = blob["mid_weights"]
    for k, v in model.state_dict().items():
        theirs = blob["final_weights"][k]
        moved = (theirs - start[k]).abs().mean()
        err = (v - theirs).abs().mean()
        assert err < 0.01 * moved, (k, float(err), float(moved))


def test_training_matches_the_original():
    blob = torch.load(os.path.join(FIXTURES, "optim_adamw8bit_resume.pt"), weights_only=True)
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Tanh(), torch.nn.Linear(96, 8))
    model.load_state_dict(blob["init_weights"])
    opt = optim.AdamW8bit(model.parameters(), **blob["kwargs"])
    _train(model, opt, blob["data"][:4])
    for k, v in model.state_dict().items():
        moved = (blob["mid_weights"][k] - blob["init_weights"][k]).abs().mean()
        assert (v - blob["mid_weights"][k]).abs().mean() < 0.01 * moved


def test_load_rejects_state_of_another_shape():
    model = _model()
    opt = optim.AdamW8bit(model.parameters())
    _train(model, opt, _data(1))
    sd = opt.state_dict()
    other = torch.nn.Sequential(torch.nn.Linear(64, 80), torch.nn.Tanh(), torch.nn.Linear(80, 8))
    opt2 = optim.AdamW8bit(other.parameters())
    with pytest.raises(ValueError, match="does not belong to this parameter"):
        opt2.load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.AdamW8bit([{"params": [other[0].weight]}, {"params": [other[2].weight]}]).load_state_dict(sd)


# ---- bad input ----------------------------------------------------------------
def test_sparse_gradient_is_rejected():
    emb = torch.nn.Embedding(100, 64, sparse=True)
    opt = optim.Adam8bit(emb.parameters())
    emb(torch.tensor([1, 2, 3])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        opt.step()


def test_parameter_changing_dtype_or_device_is_rejected():
    p = torch.nn.Parameter(torch.randn(64, 80))
    opt = optim.AdamW8bit([p])
    _step(opt, [p])
    p.data = p.data.to(torch.bfloat16)
    p.grad = torch.randn_like(p)
    with pytest.raises(RuntimeError, match="changed dtype"):
        opt.step()
    q = torch.nn.Parameter(torch.randn(64, 80))
    opt = optim.AdamW8bit([q])
    _step(opt, [q])
    opt.state[q]["state1"] = opt.state[q]["state1"].to("meta")
    q.grad = torch.randn_like(q)
    with pytest.raises(RuntimeError, match="optimizer state is on meta"):
        opt.step()


def test_nan_gradient_does_not_corrupt_other_blocks():
    p = torch.nn.Parameter(torch.randn(256 * 8))
    clean = torch.nn.Parameter(p.detach().clone())
    opt, opt_c = optim.AdamW8bit([p], min_8bit_size=1), optim.AdamW8bit([clean], min_8bit_size=1)
    for step in range(3):
        g = torch.randn(256 * 8) * 0.1
        p.grad, clean.grad = g.clone(), g.clone()
        if step == 1:
            p.grad[10] = float("nan")
            p.grad[20] = float("inf")
        opt.step()
        opt_c.step()
    assert torch.isfinite(p).all()
    assert torch.equal(p[256:], clean[256:])
    for k in ("state1", "state2"):
        assert torch.equal(opt.state[p][k][256:], opt_c.state[clean][k][256:])
    assert torch.equal(opt.state[p]["absmax1"][1:], opt_c.state[clean]["absmax1"][1:])


def test_paged_on_cpu_is_silent_and_works_like_non_paged():
    """On the CPU a paged optimizer keeps plain states, without a warning: nothing for the user
    to change (docs/optimizers.md, Paged optimizers)."""
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(400, 300))
    b = torch.nn.Parameter(a.detach().clone())
    paged, plain = optim.PagedAdamW8bit([a]), optim.AdamW8bit([b])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            g = torch.randn_like(a)
            a.grad, b.grad = g.clone(), g.clone()
            paged.step()
            plain.step()
    assert [str(x.message) for x in w] == []
    assert torch.equal(a, b)
    assert paged.is_paged and not getattr(paged.state[a]["state1"], "is_paged", False)


def test_memory_8bit_states_are_a_quarter_of_32bit():
    model = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.Linear(512, 512))

    def state_bytes(opt):
        total = 0
        for st in opt.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k not in ("qmap1", "qmap2"):
                    total += v.numel() * v.element_size()
        return total

    sizes = {}
    for cls in (optim.AdamW8bit, optim.AdamW):
        opt = cls(model.parameters())
        model(torch.randn(4, 512)).sum().backward()
        opt.step()
        sizes[cls.__name__] = state_bytes(opt)
        model.zero_grad()
    ratio = sizes["AdamW8bit"] / sizes["AdamW"]
    assert 0.24 < ratio < 0.27, sizes


def test_8bit_adamw_quality_close_to_torch_adamw():
    torch.manual_seed(0)
    x = torch.randn(512, 64)
    w_true = torch.randn(64, 32)
    y = torch.tanh(x @ w_true)
    losses = {}
    for name in ("torch", "bnb8", "bnb32"):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 32))
        if name == "torch":
            opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
        elif name == "bnb8":
            opt = optim.AdamW8bit(model.parameters(), lr=3e-3, weight_decay=0.01)
        else:
            opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
        for _ in range(150):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        losses[name] = torch.nn.functional.mse_loss(model(x), y).item()
    assert abs(losses["bnb32"] - losses["torch"]) < 0.01 * losses["torch"], losses
    assert abs(losses["bnb8"] - losses["torch"]) < 0.05 * losses["torch"], losses


def test_paging_helpers_without_cuda():
    from bitsandbytes import paging

    t = torch.zeros(10)
    F.prefetch_tensor(t)  # not paged: nothing to do
    assert paging.device_view(t) is t
    assert F.GlobalPageManager.get_instance() is F.GlobalPageManager.get_instance()
    if not paging.managed_memory_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            F.get_paged(10, 10)
