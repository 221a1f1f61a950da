"""QuantState: checkpoint serialization (as_dict / from_dict), equality, moves and
corrupted or mismatched states."""

import json

import pytest
import torch

import bitsandbytes.functional as F
from bitsandbytes.functional import QuantState
from bitsandbytes.utils import pack_dict_to_tensor, unpack_tensor_to_dict


def _state(nested, quant_type="nf4", dtype=torch.bfloat16, shape=(300, 64)):
    x = torch.randn(shape, dtype=dtype)
    return F.quantize_4bit(x, quant_type=quant_type, compress_statistics=nested)


@pytest.mark.parametrize("nested", [False, True])
def test_as_dict_keys_and_order(nested):
    _, st = _state(nested)
    d = st.as_dict()
    keys = ["quant_type", "absmax", "blocksize", "quant_map", "dtype", "shape"]
    if nested:
        keys += ["nested_absmax", "nested_blocksize", "nested_quant_map", "nested_dtype", "nested_offset"]
    assert list(d) == keys
    assert d["dtype"] == "bfloat16" and d["shape"] == (300, 64) and d["blocksize"] == 64
    if nested:
        assert isinstance(d["nested_offset"], float) and d["nested_blocksize"] == 256 and d["nested_dtype"] == "float32"
        assert d["nested_quant_map"].data_ptr() != st.state2.code.data_ptr()  # a clone: no storage shared


@pytest.mark.parametrize("nested", [False, True])
def test_packed_dict_roundtrip(nested):
    q, st = _state(nested)
    packed = st.as_dict(packed=True)
    key = "quant_state.bitsandbytes__nf4"
    assert all(isinstance(v, torch.Tensor) for v in packed.values())
    assert list(packed)[-1] == key and packed[key].dtype == torch.uint8 and packed[key].dim() == 1
    meta = json.loads(bytes(packed[key].tolist()).decode("utf-8"))
    expected = ["quant_type", "blocksize", "dtype", "shape"] + (
        ["nested_blocksize", "nested_dtype", "nested_offset"] if nested else []
    )
    assert list(meta) == expected
    # with the module prefixes a state dict has
    prefixed = {f"model.layers.0.weight.{k}": v for k, v in packed.items()}
    st2 = QuantState.from_dict(prefixed, device="cpu")
    assert st2 == st
    assert torch.equal(F.dequantize_4bit(q, st2), F.dequantize_4bit(q, st))


def test_unpacked_dict_roundtrip():
    _, st = _state(True, "fp4")
    st2 = QuantState.from_dict(st.as_dict(), device="cpu")
    assert st2 == st and st2.nested and st2.quant_type == "fp4" and st2.dtype == torch.bfloat16


def test_json_encoding_matches_json_dumps():
    d = {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [11008, 4096]}
    t = pack_dict_to_tensor(d)
    assert bytes(t.tolist()) == json.dumps(d).encode("utf-8")
    assert unpack_tensor_to_dict(t) == d


def test_equality_and_legacy_indexing():
    q, st = _state(True)
    _, other = _state(False)
    assert st != other and st != "x"
    assert st[0] is st.absmax and st[1] == st.shape and st[2] == st.dtype and st[3] == 64
    assert st[4][0] is st.offset and st[4][1] is st.state2 and st[5] == "nf4"
    assert other[4] is None


def test_to_moves_in_place():
    _, st = _state(True)
    r = st.to("meta")
    assert r is st and st.absmax.device.type == "meta" and st.state2.absmax.device.type == "meta"
    assert st.offset.device.type == "meta" and st.code.device.type == "meta"


# corrupted and mismatched ----------------------------------------------------
def test_neither_packed_nor_unpacked():
    with pytest.raises(ValueError, match="expected packed or unpacked quant_state items, found neither"):
        QuantState.from_dict({"weight.absmax": torch.ones(2)}, device="cpu")


def test_two_packed_keys():
    _, st = _state(False)
    d = st.as_dict(packed=True)
    d["quant_state.bitsandbytes__fp4"] = d["quant_state.bitsandbytes__nf4"]
    with pytest.raises(ValueError, match="exactly one `quant_state` item"):
        QuantState.from_dict(d, device="cpu")


def test_garbage_json():
    _, st = _state(False)
    d = st.as_dict(packed=True)
    d["quant_state.bitsandbytes__nf4"] = torch.tensor([1, 2, 250], dtype=torch.uint8)
    with pytest.raises(ValueError, match="corrupted packed quant_state"):
        QuantState.from_dict(d, device="cpu")


def test_missing_keys():
    _, st = _state(True)
    d = st.as_dict(packed=True)
    del d["nested_quant_map"]
    with pytest.raises(
        ValueError, match=r"corrupted quant_state of quant_state: \[.*\] present but \['nested_quant_map'\] missing"
    ):
        QuantState.from_dict(d, device="cpu")
    d = st.as_dict(packed=True)
    del d["absmax"]
    with pytest.raises(ValueError, match=r"missing \['absmax'\]"):
        QuantState.from_dict(d, device="cpu")


def test_truncated_absmax():
    _, st = _state(False)
    d = st.as_dict(packed=True)
    d["absmax"] = d["absmax"][:-1]
    with pytest.raises(
        ValueError, match=r"absmax has 299 entries .* expected 300 \(shape \(300, 64\) in blocks of blocksize 64\)"
    ):
        QuantState.from_dict(d, device="cpu")


def test_wrong_dtype_name_and_quant_type():
    _, st = _state(False)
    d = st.as_dict()
    d["dtype"] = "bfloat17"
    with pytest.raises(ValueError, match="dtype 'bfloat17' is not a torch dtype"):
        QuantState.from_dict(d, device="cpu")
    d = st.as_dict()
    d["quant_type"] = "nf5"
    with pytest.raises(ValueError, match="unknown quant_type 'nf5'"):
        QuantState.from_dict(d, device="cpu")


def test_unknown_key():
    _, st = _state(False)
    d = st.as_dict()
    d["weight.something_else"] = torch.ones(1)
    with pytest.raises(ValueError, match="unexpected quant_state keys"):
        QuantState.from_dict(d, device="cpu")


def test_dequantize_with_incomplete_state():
    q, _ = _state(False)
    with pytest.raises(ValueError, match="needs a quant_state, or both absmax and out"):
        F.dequantize_4bit(q)
    with pytest.raises(ValueError, match="incomplete quant_state"):
        F.dequantize_4bit(q, QuantState(absmax=torch.ones(300)))
