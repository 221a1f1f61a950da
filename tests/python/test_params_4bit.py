"""Params4bit: quantize-on-move, the rebuild/copy/pickle contracts downstream code relies on,
and loading pre-quantized data."""

import copy
import io
import pickle

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.nn import Params4bit


def _param(shape=(32, 64), **kw):
    return Params4bit(torch.randn(shape), requires_grad=False, **kw)


def test_accepts_and_ignores_unknown_keyword_arguments():
    p = Params4bit(torch.randn(4, 8), requires_grad=False, _is_hf_initialized=True, something_new=3)
    assert not hasattr(p, "something_new")
    assert p.blocksize == 64 and p.quant_type == "fp4" and p.compress_statistics is True
    assert p.quant_storage == torch.uint8 and p.bnb_quantized is False


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("compress_statistics", [False, True])
def test_to_same_device_quantizes_with_the_functional_bytes(quant_type, compress_statistics):
    w = torch.randn(48, 64, dtype=torch.bfloat16)
    p = Params4bit(w.clone(), quant_type=quant_type, compress_statistics=compress_statistics)
    q = p.to("cpu")
    packed, state = F.quantize_4bit(w, quant_type=quant_type, compress_statistics=compress_statistics)
    assert q.bnb_quantized and isinstance(q, Params4bit)
    assert torch.equal(q.data, packed)
    assert q.quant_state == state
    assert q.quant_state.shape == w.shape and q.quant_state.dtype == torch.bfloat16


def test_sets_the_module_quant_state():
    layer = torch.nn.Linear(64, 16)
    p = Params4bit(layer.weight.data, module=layer, quant_type="nf4")
    p.to("cpu")
    assert layer.quant_state is p.quant_state


def test_meta_does_not_quantize():
    with torch.device("meta"):
        p = _param()
    q = p.to("meta")
    assert not q.bnb_quantized and q.quant_state is None and q.is_meta


def test_already_quantized_data_is_never_quantized_again():
    p = _param(quant_type="nf4").to("cpu")
    data, state = p.data.clone(), p.quant_state
    q = p.to("cpu")
    assert torch.equal(q.data, data) and q.quant_state is state
    # a float dtype in .to() leaves the packed bytes alone
    r = q.to(torch.float16)
    assert r.dtype == torch.uint8 and torch.equal(r.data, data)


def test_rebuild_from_dict_keeps_the_quantized_weight():
    p = _param(quant_type="nf4").to("cpu")
    q = Params4bit(p.data, requires_grad=False, **p.__dict__)
    assert q.bnb_quantized and q.quant_state is p.quant_state
    assert torch.equal(q.to("cpu").data, p.data)


def test_rebuild_with_bnb_quantized_false_requantizes():
    # PEFT's merge: dequantize, add the delta, rebuild with bnb_quantized=False, move
    p = _param(quant_type="nf4").to("cpu")
    merged = F.dequantize_4bit(p.data, p.quant_state) + 0.5
    kwargs = {k: v for k, v in p.__dict__.items() if not k.startswith("_") and k != "data"}
    kwargs.update(bnb_quantized=False, requires_grad=False)
    q = Params4bit(merged, **kwargs).to("cpu")
    assert q.bnb_quantized and q.quant_state is not p.quant_state
    restored = F.dequantize_4bit(q.data, q.quant_state)
    assert (restored - merged).abs().mean() < 0.1


@pytest.mark.parametrize("storage", [torch.bfloat16, torch.float16, torch.float32])
def test_float_quant_storage(storage):
    w = torch.randn(32, 64)
    q = Params4bit(w, quant_type="nf4", quant_storage=storage).to("cpu")
    assert q.dtype == storage and q.shape == (32 * 64 // 2 // storage.itemsize, 1)
    packed, _ = F.quantize_4bit(w, quant_type="nf4", compress_statistics=True)
    assert torch.equal(q.data.view(torch.uint8).reshape(-1), packed.reshape(-1))


def _same(a: Params4bit, b: Params4bit):
    assert type(b) is Params4bit
    assert torch.equal(a.data, b.data)
    assert a.quant_state == b.quant_state
    for key in ("blocksize", "compress_statistics", "quant_type", "quant_storage", "bnb_quantized", "requires_grad"):
        assert getattr(a, key) == getattr(b, key), key


def test_copy_deepcopy_and_pickle_keep_everything():
    p = _param(quant_type="nf4").to("cpu")
    _same(p, copy.copy(p))
    d = copy.deepcopy(p)
    _same(p, d)
    assert d.data.data_ptr() != p.data.data_ptr() and d.quant_state is not p.quant_state
    _same(p, pickle.loads(pickle.dumps(p)))
    buf = io.BytesIO()
    torch.save(p, buf)
    buf.seek(0)
    _same(p, torch.load(buf, weights_only=False))


def test_deepcopy_of_a_layer_points_the_copy_at_the_new_layer():
    layer = bnb.nn.Linear4bit(64, 16, quant_type="nf4").to("cpu")
    clone = copy.deepcopy(layer)
    assert clone.weight.module is clone and layer.weight.module is layer
    x = torch.randn(2, 64)
    with torch.no_grad():
        assert torch.equal(layer(x), clone(x))


@pytest.mark.parametrize("nested", [False, True])
def test_from_prequantized_with_prefixed_keys(nested):
    w = torch.randn(32, 64, dtype=torch.float16)
    packed, state = F.quantize_4bit(w, quant_type="nf4", compress_statistics=nested)
    stats = {f"model.layers.0.mlp.weight.{k}": v for k, v in state.as_dict(packed=True).items()}
    layer = torch.nn.Linear(64, 32)
    p = Params4bit.from_prequantized(packed, stats, device="cpu", module=layer)
    assert p.bnb_quantized and p.compress_statistics == nested and p.quant_type == "nf4"
    assert p.quant_storage == torch.uint8 and p.blocksize == 64 and layer.quant_state is p.quant_state
    assert p.quant_state == state
    # the FSDP-style views
    assert torch.equal(p.absmax, state.absmax) and torch.equal(p.quant_map, state.code)
    if nested:
        assert torch.equal(p.nested_absmax, state.state2.absmax) and p.nested_blocksize == 256
        assert p.nested_offset == state.offset
    else:
        assert p.nested_absmax is None


def test_from_prequantized_rejects_mismatched_bytes():
    packed, state = F.quantize_4bit(torch.randn(32, 64), quant_type="nf4")
    with pytest.raises(ValueError, match="needs 1024"):
        Params4bit.from_prequantized(packed[:-8], state.as_dict(packed=True), device="cpu")


def test_from_prequantized_rejects_a_corrupted_state():
    packed, state = F.quantize_4bit(torch.randn(32, 64), quant_type="nf4")
    stats = state.as_dict(packed=True)
    stats["quant_state.bitsandbytes__nf4"] = torch.tensor(list(b"{not json"), dtype=torch.uint8)
    with pytest.raises(ValueError, match="corrupted packed quant_state"):
        Params4bit.from_prequantized(packed, stats, device="cpu")
    del stats["quant_state.bitsandbytes__nf4"]
    with pytest.raises(ValueError, match="quant_state"):
        Params4bit.from_prequantized(packed, stats, device="cpu")


def test_quantizing_packed_bytes_is_a_clear_error():
    p = Params4bit(torch.zeros(16, 1, dtype=torch.uint8))
    with pytest.raises(ValueError, match="Already-packed 4-bit data needs its quant state"):
        p.to("cpu")
