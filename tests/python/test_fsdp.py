"""FSDP2 (docs/distributed.md): Params4bit through the torch functions FSDP applies, the
4-bit layers on an all-gathered weight, 8-bit optimizer states of sharded parameters,
and 2-process QLoRA runs with torch.distributed.checkpoint resumes (torchrun, gloo, CPU)
whose workers are in fsdp_qlora_worker.py."""

import copy
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.optim._sharded import reblock

HERE = os.path.dirname(os.path.abspath(__file__))
STORAGES = [torch.uint8, torch.bfloat16, torch.float16, torch.float32]


def _layer(storage, out_features=32):
    torch.manual_seed(0)
    return bnb.nn.Linear4bit(64, out_features, quant_type="nf4", quant_storage=storage).to("cpu")


# ---- Params4bit under the torch functions FSDP applies ------------------------------
@pytest.mark.parametrize("storage", STORAGES, ids=str)
def test_pieces_and_views_keep_class_and_quant_state(storage):
    w = _layer(storage).weight
    pieces = [
        *torch.chunk(w, 2),
        *w.chunk(3),
        *torch.split(w, 100),
        *w.split([1, w.shape[0] - 1]),
        torch.narrow(w, 0, 1, 2),
        w.narrow(0, 0, 1),
        w.view(-1),
        w.to("cpu"),
        torch.Tensor.to(w, "cpu"),
    ]
    for piece in pieces:
        assert type(piece) is bnb.nn.Params4bit
        assert piece.quant_state is w.quant_state and piece.bnb_quantized
        assert (piece.quant_type, piece.blocksize, piece.quant_storage) == (w.quant_type, w.blocksize, storage)
        assert piece.dtype == storage and not piece.requires_grad
    chunks = torch.chunk(w, 2)
    assert chunks[0].data_ptr() == w.data_ptr()  # views of the packed bytes, not copies
    assert chunks[1].module is None and w.view(-1).module is None  # a piece or reshape is not the layer's weight
    assert torch.Tensor.to(w, "cpu").module is w.module
    as_bytes = w.view(torch.uint8)
    assert type(as_bytes) is bnb.nn.Params4bit and as_bytes.quant_storage == torch.uint8
    assert type(w.t()) is torch.Tensor and type(w + 0) is torch.Tensor  # everything else stays plain


@pytest.mark.parametrize("storage", STORAGES, ids=str)
def test_linear4bit_runs_on_an_all_gathered_weight(storage):
    """FSDP replaces the Params4bit by a plain parameter: the cat of the gathered shards."""
    layer = _layer(storage)
    x = torch.randn(3, 64)
    want = layer(x)
    gathered = torch.cat([piece.detach().clone() for piece in torch.chunk(layer.weight, 2)])
    layer.weight = torch.nn.Parameter(gathered.as_subclass(torch.Tensor), requires_grad=False)
    assert torch.equal(layer(x), want)  # the same bytes and quant state: the same product
    assert type(layer.weight) is torch.nn.Parameter  # forward reads the module's state, no rebinding


@pytest.mark.parametrize(("stored", "cast"), [(torch.float32, torch.bfloat16), (torch.float16, torch.bfloat16)])
def test_packed_bytes_cast_by_mixed_precision_raise(stored, cast):
    layer = _layer(stored)
    layer.weight = torch.nn.Parameter(layer.weight.data.to(cast), requires_grad=False)
    with pytest.raises(RuntimeError, match=rf"stored as {stored} but arrives as {cast}.*MixedPrecisionPolicy"):
        layer(torch.randn(3, 64))


def test_truncated_gathered_weight_raises():
    layer = _layer(torch.uint8)
    layer.weight = torch.nn.Parameter(layer.weight.data[:-2].clone(), requires_grad=False)
    with pytest.raises(RuntimeError, match=r"expected packed 4-bit data of shape \(n, 1\) holding the 1024 bytes"):
        layer(torch.randn(3, 64))


def test_linear8bitlt_weight_replaced_by_fsdp_raises():
    layer = bnb.nn.Linear8bitLt(64, 32, has_fp16_weights=False).to("cpu")
    layer.weight = torch.nn.Parameter(layer.weight.data.clone(), requires_grad=False)
    with pytest.raises(RuntimeError, match=r"FSDP cannot shard LLM.int8\(\) weights: keep the Linear8bitLt"):
        layer(torch.randn(3, 64))


# ---- re-blocking of 8-bit states across shard layouts (docs/distributed.md) ----------
def _blockwise(values, qmap):
    codes, absmax = F._ops().quantize_blockwise.default(values, qmap, 256)
    return codes, absmax


@pytest.mark.parametrize("signed", [True, False])
def test_reblock_keeps_blocks_that_did_not_move(signed):
    qmap = F.create_dynamic_map(signed=signed)
    torch.manual_seed(0)
    v = torch.randn(700) if signed else torch.rand(700)
    codes, absmax = _blockwise(v, qmap)
    per_element = absmax.repeat_interleave(256)[:700]
    new_codes, new_absmax = reblock(codes[None], per_element[None], qmap)
    assert torch.equal(new_codes[0], codes) and torch.equal(new_absmax[0], absmax)  # bit-exact


@pytest.mark.parametrize("signed", [True, False])
def test_reblock_requantizes_blocks_that_span_two_saved_shards(signed):
    """Two ranks held 384 + 316 elements (blocks start at 0, 256 | 384, 640); one rank now holds all 700."""
    qmap = F.create_dynamic_map(signed=signed)
    torch.manual_seed(1)
    v = torch.randn(700) if signed else torch.rand(700)
    parts = [_blockwise(v[:384].contiguous(), qmap), _blockwise(v[384:].contiguous(), qmap)]
    codes = torch.cat([c for c, _ in parts])
    per_element = torch.cat([a.repeat_interleave(256)[:n] for (_, a), n in zip(parts, (384, 316))])
    saved = qmap[codes.long()] * per_element  # the values the two ranks' states hold
    new_codes, new_absmax = reblock(codes[None], per_element[None], qmap)
    assert new_absmax.shape == (1, 3)
    assert torch.equal(new_codes[0, :256], codes[:256]) and new_absmax[0, 0] == per_element[0]  # block 0 kept
    restored = qmap[new_codes[0].long()] * new_absmax[0].repeat_interleave(256)[:700]
    # a re-quantized value is the nearest code of the new block: off by at most half the widest gap
    # between neighbouring codes times the block absmax; x1.01 for a value at a midpoint, where the
    # fp32 rounding of x / absmax picks either neighbour (measured: 1.0011)
    half_gap = (qmap[1:] - qmap[:-1]).max() / 2
    bound = half_gap * new_absmax[0].repeat_interleave(256)[:700] * 1.01
    assert torch.all((restored - saved).abs() <= bound)


@pytest.mark.parametrize("name", ["AdamW8bit", "PagedAdamW8bit", "AdEMAMix8bit"])
def test_gathered_state_dict_with_per_element_absmax_resumes_exactly(name):
    """What get_optimizer_state_dict(full_state_dict=True) hands a single process: the sharded
    form gathered, i.e. one absmax entry per element. It loads into a plain parameter bit-exactly."""
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(40, 20)) for _ in range(2)]  # 800 elements: 4 blocks, the last partial
    twin = [torch.nn.Parameter(p.detach().clone()) for p in params]
    make = getattr(bnb.optim, name)
    opt, opt2 = make(params, lr=1e-2, min_8bit_size=256), make(twin, lr=1e-2, min_8bit_size=256)
    grads = [[torch.randn(40, 20) for _ in params] for _ in range(4)]

    def run(o, ps, steps):
        for g in steps:
            for p, gp in zip(ps, g):
                p.grad = gp.clone()
            o.step()

    run(opt, params, grads[:2])
    sd = opt.state_dict()
    for st in sd["state"].values():
        q = st["__bnb_optimizer_quant_state__"]
        for key, codes_key in (("absmax1", "state1"), ("absmax2", "state2")):
            if key in q:
                blocks = q[key].reshape(-1, q[key].shape[-1])
                n = q[codes_key][0].numel() if q[codes_key].dim() == 3 else q[codes_key].numel()
                q[key] = blocks.repeat_interleave(256, dim=1)[:, :n].reshape(q[codes_key].shape).clone()
    run(opt2, twin, grads[:2])  # give opt2 states to overwrite
    opt2.load_state_dict(copy.deepcopy(sd))  # loading shares the tensors, as torch.optim does
    run(opt, params, grads[2:])
    run(opt2, twin, grads[2:])
    for p, t in zip(params, twin):
        assert torch.equal(p, t)


# ---- 2-process FSDP2 runs -------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(nproc: int, *args) -> list[dict]:
    out_dir = args[1]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        os.path.join(HERE, "fsdp_qlora_worker.py"), *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # a hang in a collective fails the test instead of stalling the suite
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    results = []
    for rank in range(nproc):
        with open(os.path.join(out_dir, f"rank{rank}.json")) as f:
            results.append(json.load(f))
    return results


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp_train")
    return out, _launch(2, "train", str(out))


#: Loss curves of the sharded and the one-process runs. The forward pass sees the same bytes
#: (FSDP all-gathers them unchanged), so the first step agrees to the last ulp of the mean
#: (5.5 has an ulp of 4.8e-7). Later steps differ only by the order of fp32 gradient sums
#: (two half-batch gradients averaged by the reduce-scatter, or one whole-batch gradient),
#: about 1e-7 relative; Adam's normalised update can turn that into a neighbouring 8-bit code
#: for an element near a code midpoint. Measured: at most 2.9e-5 over the curve; one step of
#: training moves the loss by up to 7e-3, so 1e-4 tells a trained curve from an untrained one.
FIRST_STEP_ATOL = 1e-6
CURVE_ATOL = 1e-4


def _assert_same_curve(got, want):
    assert len(got) == len(want)
    assert abs(got[0] - want[0]) <= FIRST_STEP_ATOL, (got, want)
    for a, b in zip(got, want):
        assert abs(a - b) <= CURVE_ATOL, (got, want)


@pytest.mark.slow
def test_fsdp2_qlora_matches_the_single_process_run(trained):
    _, ranks = trained
    r0, r1 = ranks
    assert r0["world_size"] == 2 and r0["losses"] == r1["losses"]  # the all-reduced mean
    # Accelerate 1.15 keeps FSDP off on the CPU (MULTI_CPU); the worker turns it on (docs/distributed.md)
    assert r0["accelerate_type_on_cpu"] == "DistributedType.MULTI_CPU"
    assert r0["base_weight_type"] == "DTensor"  # the bf16-stored 4-bit base is sharded
    _assert_same_curve(r0["losses"], r0["reference"])


@pytest.mark.slow
def test_8bit_states_of_a_sharded_parameter_are_per_shard(trained):
    _, ranks = trained
    for rank in ranks:
        assert len(rank["shards"]) == 28  # 14 LoRA A (AdamW8bit) + 14 LoRA B (PagedAdamW8bit)
        for s in rank["shards"]:
            assert s["is_dtensor"] and s["state1_dtype"] == "torch.uint8", s
            assert s["local"] * 2 == s["global"] and s["state1"] == s["local"], s
            assert s["absmax1"] == -(-s["local"] // 256), s


@pytest.mark.slow
def test_8bit_base_cannot_be_sharded_but_trains_when_left_out(trained):
    _, ranks = trained
    for rank in ranks:
        assert "FSDP cannot shard LLM.int8() weights" in rank["int8_sharded_error"]
    _assert_same_curve(ranks[0]["int8_losses"], ranks[0]["int8_reference"])


@pytest.mark.slow
def test_bad_input_raises_clearly_before_the_first_update(trained):
    """Packed bytes cast by mixed precision, LAMB on a sharded parameter; mixed storage works."""
    _, ranks = trained
    for rank in ranks:
        for stored in ("float32", "float16"):
            err = rank[f"mp_cast_{'fp32' if stored == 'float32' else 'fp16'}_error"]
            assert f"stored as torch.{stored} but arrives as torch.bfloat16" in err, err
        # the same through Accelerate's FSDP plugin with bf16 mixed precision: its Params4bit
        # handling skips the fp32 upcast but still passes the bf16 MixedPrecisionPolicy on
        err = rank["accelerate_mp_fp32_storage_error"]
        assert "stored as torch.float32 but arrives as torch.bfloat16" in err, err
        assert "max_unorm=1.0 needs the norm of the whole parameter" in rank["lamb_sharded_error"]
        # torch 2.13's FSDP2 all-gathers mixed dtypes as bytes: mixed quant_storage just works
        assert rank["mixed_storage_max_diff"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [2, 1])
def test_dcp_resume_continues_the_uninterrupted_curve(trained, nproc, tmp_path):
    from fsdp_qlora_worker import SAVE_AT

    train_dir, ranks = trained
    uninterrupted = ranks[0]["losses"][SAVE_AT:]
    resumed = _launch(nproc, "resume", str(tmp_path), str(train_dir / "ckpt"))[0]
    assert resumed["world_size"] == nproc
    if nproc == 2:
        # the same shards, the same 8-bit blocks: bit-exact
        assert resumed["losses"] == uninterrupted
    else:
        # one rank: the whole-batch gradient, and the k/v LoRA B states (256 elements, one block
        # on one rank, two half blocks on two) quantized again; see CURVE_ATOL
        _assert_same_curve(resumed["losses"], uninterrupted)
