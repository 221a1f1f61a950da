"""The bad-input cases of issue 15, one by one (docs/differences.md, "Bad input"), and the
10k-call leak check. test_bad_input_ops.py / test_bad_input_loaders.py generate the
rest with Hypothesis; test_corrupted_checkpoints.py covers Transformers checkpoints."""

from __future__ import annotations

import contextlib
import gc
import os

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.functional import QuantState
from bitsandbytes.nn import Linear4bit, Linear8bitLt
from bitsandbytes.utils import pack_dict_to_tensor, unpack_tensor_to_dict

ops = torch.ops.bitsandbytes


# ---- 1. devices, quant_storage, outlier columns, threshold --------------------------------
def test_meta_absmax_with_cpu_data_names_op_argument_and_devices():
    q, absmax = ops.quantize_4bit(torch.randn(64, 64), 64, "nf4", torch.uint8)
    with pytest.raises(RuntimeError, match=r"bitsandbytes::dequantize_4bit: absmax is on meta but A is on cpu"):
        ops.dequantize_4bit(q, absmax.to("meta"), 64, "nf4", [64, 64], torch.float32)


def test_optimizer_step_on_a_meta_parameter_raises():
    p = torch.nn.Parameter(torch.empty(64, 64, device="meta"))
    p.grad = torch.empty_like(p)
    opt = bnb.optim.Adam8bit([p], min_8bit_size=1)
    with pytest.raises(RuntimeError, match=r"parameter \(0, 0\) is on the meta device"):
        opt.step()


def test_optimizer_op_with_meta_state_names_it():
    p, g = torch.randn(300), torch.randn(300)
    with pytest.raises(RuntimeError, match="optimizer_update_32bit: state1 is on meta but g is on cpu"):
        F.optimizer_update_32bit("momentum", g, p, torch.zeros(300, device="meta"), 0.9, 1e-8, 1, 1e-3)


@pytest.mark.parametrize("storage", [torch.bool, torch.complex64, torch.int64, torch.float64, torch.int16], ids=str)
def test_quant_storage_outside_the_documented_five_is_rejected(storage):
    with pytest.raises(TypeError, match=f"quant_storage must be torch.uint8, .* got {storage}"):
        F.quantize_4bit(torch.randn(64, 64), quant_type="nf4", quant_storage=storage)


def _int8_inputs():
    A = torch.randn(4, 32, dtype=torch.float16)
    A[:, 5] = 9.0
    CA, SCA, cols = ops.int8_vectorwise_quant(A, 6.0)
    CB, SCB, _ = ops.int8_vectorwise_quant(torch.randn(8, 32, dtype=torch.float16))
    return A, CA, SCA, cols, CB, SCB


def test_repeated_outlier_columns_are_rejected():
    A, CA, SCA, cols, CB, SCB = _int8_inputs()
    assert cols.tolist() == [5]
    ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, cols)
    with pytest.raises(ValueError, match="outlier_cols lists column 5 more than once"):
        ops.int8_mixed_scaled_mm(A, CA, CB, SCA, SCB, torch.tensor([5, 2, 5]))


def test_threshold_rules_of_the_original():
    A = _int8_inputs()[0]
    off = ops.int8_vectorwise_quant(A, 0.0)
    negative = ops.int8_vectorwise_quant(A, -1.0)  # off, as in the original
    assert negative[2] is None and torch.equal(negative[0], off[0]) and torch.equal(negative[1], off[1])
    inf = ops.int8_vectorwise_quant(A, float("inf"))  # on, with no outliers
    assert inf[2].dtype == torch.int64 and inf[2].numel() == 0 and torch.equal(inf[0], off[0])
    for op in (ops.int8_vectorwise_quant, ops.int8_double_quant):
        with pytest.raises(ValueError, match="threshold is NaN"):
            op(A, float("nan"))


def test_a_strided_packed_weight_is_read_as_its_values():
    w = torch.randn(48, 64)
    q, absmax = ops.quantize_4bit(w, 64, "nf4", torch.uint8)
    strided = torch.cat([q, q], 1)[:, :1]  # the same values, not contiguous
    assert not strided.is_contiguous()
    expected = ops.dequantize_4bit(q, absmax, 64, "nf4", [48, 64], torch.float32)
    assert torch.equal(ops.dequantize_4bit(strided, absmax, 64, "nf4", [48, 64], torch.float32), expected)
    A = torch.randn(2, 64)
    assert torch.equal(
        ops.gemm_4bit(A, strided, [48, 64], absmax, 64, "nf4"), ops.gemm_4bit(A, q, [48, 64], absmax, 64, "nf4")
    )


# ---- 2. quant states -------------------------------------------------------------------------
def _packed_state(nested=True):
    q, st = F.quantize_4bit(torch.randn(64, 128), quant_type="nf4", compress_statistics=nested)
    return q, {f"lm.layers.0.weight.{k}": v for k, v in st.as_dict(packed=True).items()}


def _edit_json(sd, **changes):
    key = next(k for k in sd if ".quant_state." in k)
    sd[key] = pack_dict_to_tensor(unpack_tensor_to_dict(sd[key]) | changes)
    return sd


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda sd: _edit_json(sd, quant_type="fp4"), "quant_type is 'fp4' in the JSON but 'nf4' in its key"),
        (lambda sd: _edit_json(sd, nested_offset=float("nan")), "nested_offset must be finite, got nan"),
        (lambda sd: _edit_json(sd, blocksize=0), "blocksize must be a power of two from 32 to 4096, got 0"),
        (lambda sd: _edit_json(sd, blocksize="64x"), "blocksize must be an integer, got '64x'"),
        (lambda sd: _edit_json(sd, shape=["64", "128"]), "shape must be a list of non-negative integer sizes"),
        (lambda sd: sd.pop("lm.layers.0.weight.nested_absmax"), r"present but \['nested_absmax'\] missing"),
        (
            lambda sd: sd["lm.layers.0.weight.nested_absmax"].fill_(float("inf")),
            "nested_absmax has NaN or infinite values",
        ),
        (
            lambda sd: sd.__setitem__("lm.layers.0.weight.quant_map", F.get_4bit_type("fp4")),
            "quant_map is not the nf4 table",
        ),
    ],
)
def test_corrupted_quant_state_names_parameter_and_field(edit, message):
    _, sd = _packed_state()
    edit(sd)
    with pytest.raises(ValueError, match=f"corrupted quant_state of lm.layers.0.weight: .*{message}"):
        QuantState.from_dict(sd, device="cpu")


def test_nan_absmax_and_a_non_dict_are_rejected():
    _, sd = _packed_state(nested=False)
    sd["lm.layers.0.weight.absmax"][3] = float("nan")
    with pytest.raises(ValueError, match="lm.layers.0.weight: absmax has NaN or infinite values"):
        QuantState.from_dict(sd, device="cpu")
    with pytest.raises(TypeError, match="qs_dict must be a dict of quant_state entries, got list"):
        QuantState.from_dict([("absmax", torch.ones(1))], device="cpu")


# ---- 3. layers of another size, wrong feature count --------------------------------------------
def test_linear4bit_checkpoint_of_another_size_fails_at_load_naming_both_shapes():
    source = Linear4bit(64, 32, bias=False, quant_type="nf4").to("cpu")
    target = Linear4bit(32, 64, bias=False, quant_type="nf4").to("cpu")  # the same element count
    weight = target.weight
    with pytest.raises(RuntimeError, match=r"shape is \(32, 64\) but the layer's weight is \(64, 32\)"):
        target.load_state_dict(source.state_dict())
    assert target.weight is weight


@pytest.mark.parametrize("make", [lambda: Linear4bit(64, 32).to("cpu"), lambda: Linear8bitLt(64, 32).to("cpu")])
def test_forward_with_the_wrong_feature_count_names_in_features(make):
    with pytest.raises(ValueError, match=r"the input has 63 features .* expected in_features=64"):
        make()(torch.randn(2, 63))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Linear4bit(64, 32, compute_dtype=torch.float32).to("cpu"),
        lambda: Linear4bit(64, 32).to("cpu"),
        lambda: Linear8bitLt(64, 32).to("cpu"),
    ],
)
def test_forward_with_an_integer_input_names_its_dtype(make):
    # nn.Linear refuses integers too; with a compute_dtype the layer would otherwise compute in float
    # and truncate the result to int64 on the way out (the original does so)
    with pytest.raises(TypeError, match=r"the input is torch.int64; expected a floating-point tensor"):
        make()(torch.randint(0, 5, (2, 64)))


_X = torch.randn(64, 128)
_I32 = torch.randint(-1000, 1000, (16, 32), dtype=torch.int32)
_STATS = (torch.rand(16) + 0.1, torch.rand(32) + 0.1)
# (call with the buffer, its argument name, a buffer of the right shape / dtype / device)
_BUFFERS = {
    "quantize_4bit out": (lambda b: F.quantize_4bit(_X, out=b, quant_type="nf4"), "out", (4096, 1), torch.uint8),
    "quantize_4bit absmax": (
        lambda b: F.quantize_4bit(_X, absmax=b, quant_type="nf4"),
        "absmax",
        (128,),
        torch.float32,
    ),
    "quantize_blockwise out": (lambda b: F.quantize_blockwise(_X, out=b), "out", (64, 128), torch.uint8),
    "quantize_blockwise absmax": (lambda b: F.quantize_blockwise(_X, absmax=b), "absmax", (2,), torch.float32),
    "int8_double_quant out_row": (lambda b: F.int8_double_quant(_X, out_row=b), "out_row", (64, 128), torch.int8),
    "int8_double_quant out_col": (lambda b: F.int8_double_quant(_X, out_col=b), "out_col", (64, 128), torch.int8),
    "int8_mm_dequant out": (lambda b: F.int8_mm_dequant(_I32, *_STATS, out=b), "out", (16, 32), torch.float16),
}


@pytest.mark.parametrize("case", sorted(_BUFFERS))
@pytest.mark.parametrize(
    "spoil",
    [
        lambda shape, dtype: torch.zeros(shape, dtype=torch.int32),  # copy_ would convert the values
        lambda shape, dtype: torch.zeros(shape, dtype=dtype, device="meta"),  # copy_ would drop them
        lambda shape, dtype: torch.zeros(shape[0] - 1, *shape[1:], dtype=dtype),  # copy_ would broadcast or fail
    ],
    ids=["dtype", "meta", "shape"],
)
def test_a_callers_result_buffer_of_another_dtype_shape_or_device_names_the_argument(case, spoil):
    call, arg, shape, dtype = _BUFFERS[case]
    call(torch.zeros(shape, dtype=dtype))  # the right buffer is taken
    with pytest.raises(ValueError, match=rf"{case.split()[0]}: {arg} must be"):
        call(spoil(shape, dtype))


def _int8_layer(seed):
    torch.manual_seed(seed)
    return Linear8bitLt(64, 32, has_fp16_weights=False).to("cpu")


def test_linear8bitlt_int8_weight_without_scb_is_rejected_and_the_layer_unchanged():
    sd = _int8_layer(1).state_dict()
    del sd["SCB"]
    layer = _int8_layer(2)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match="has the int8 weight weight but not its row scales SCB"):
        layer.load_state_dict(sd)
    assert all(torch.equal(v, layer.state_dict()[k]) for k, v in before.items())


def test_linear8bitlt_int8_weight_without_scb_is_rejected_by_a_layer_not_yet_quantized():
    # A fresh layer holds a float weight until it is moved: the int8 values would be copied into it as
    # floats (-127..127) and quantized again on .to(), a wrong layer without an error (the original
    # accepts it so).
    sd = _int8_layer(1).state_dict()
    del sd["SCB"]
    layer = Linear8bitLt(64, 32, has_fp16_weights=False)
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError, match="has the int8 weight weight but not its row scales SCB"):
        layer.load_state_dict(sd)
    assert torch.equal(layer.weight, before)


@pytest.mark.parametrize("moved", [False, True])
def test_linear8bitlt_float_weight_with_scb_is_rejected(moved):
    # SCB belongs to an int8 weight: a float weight beside it is an int8 weight cast to float
    # (values -127..127), which quantizing again would turn into a layer ~1000x off.
    sd = _int8_layer(1).state_dict()
    sd["weight"] = sd["weight"].half()
    layer = Linear8bitLt(64, 32, has_fp16_weights=False)
    if moved:
        layer = layer.to("cpu")
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError, match="float16 weight weight with the row scales SCB"):
        layer.load_state_dict(sd)
    assert torch.equal(layer.weight, before)


def test_linear8bitlt_float_weight_is_quantized_not_cast():
    dense = torch.nn.Linear(64, 32)
    layer = _int8_layer(2)
    layer.load_state_dict(dense.state_dict())
    CB, SCB, _ = F.int8_vectorwise_quant(dense.weight.data.half())
    assert torch.equal(layer.weight.data, CB) and torch.equal(layer.weight.SCB, SCB)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_linear8bitlt_non_finite_or_negative_scb_is_rejected(bad):
    sd = _int8_layer(1).state_dict()
    sd["SCB"][0] = bad
    with pytest.raises(ValueError, match="SCB has (NaN or infinite|negative) row scales"):
        _int8_layer(2).load_state_dict(sd)


# ---- 4. optimizer states -----------------------------------------------------------------------
def _adam8bit(seed):
    torch.manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(32, 32)), torch.nn.Parameter(torch.randn(300))]
    opt = bnb.optim.Adam8bit(params, min_8bit_size=256)
    for q in params:
        q.grad = torch.randn_like(q)
    opt.step()
    return opt


def test_optimizer_state_of_the_wrong_dtype_names_key_and_parameter_and_changes_nothing():
    sd = _adam8bit(1).state_dict()
    quant = sd["state"][1]["__bnb_optimizer_quant_state__"]
    quant["state1"] = quant["state1"].float()  # became float32
    opt = _adam8bit(2)
    before = {k: v.clone() for k, v in opt.state[opt.param_groups[0]["params"][1]].items() if torch.is_tensor(v)}
    with pytest.raises(
        ValueError, match=r"'state1' of parameter 1 .* is torch.float32 but this optimizer's 8-bit config"
    ):
        opt.load_state_dict(sd)
    after = opt.state[opt.param_groups[0]["params"][1]]
    assert all(torch.equal(v, after[k]) for k, v in before.items())


# ---- 5. no leaks ----------------------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the RSS from /proc")
def test_ten_thousand_rejected_calls_do_not_leak():
    """10k calls, 4 of every 5 rejected (C++ and fake-kernel errors): after a warm-up of 1k
    calls the RSS stays flat (a leak of 100 bytes per rejected call would add 0.7 MB)."""
    q, absmax = ops.quantize_4bit(torch.randn(64, 64), 64, "nf4", torch.uint8)
    meta = absmax.to("meta")
    x = torch.randn(8, 8)
    bad = [
        lambda: ops.dequantize_4bit(q, absmax[:3], 64, "nf4", [64, 64], torch.float32),
        lambda: ops.dequantize_4bit(q, meta, 64, "nf4", [64, 64], torch.float32),
        lambda: ops.quantize_4bit(x, 64, "nf4", torch.bool),
        lambda: ops.int8_vectorwise_quant(x, float("nan")),
    ]

    def rounds(n):
        for _ in range(n):
            for call in bad:
                with contextlib.suppress(ValueError, TypeError, RuntimeError):
                    call()
            ops.dequantize_4bit(q, absmax, 64, "nf4", [64, 64], torch.float32)

    rounds(200)
    gc.collect()
    before = _rss()
    rounds(1800)
    gc.collect()
    grown = _rss() - before
    print(f"RSS grew by {grown} bytes over 9000 calls")
    assert grown < 2**19, f"RSS grew by {grown / 2**20:.2f} MiB over 9000 calls"


@pytest.mark.parametrize("grad", [False, True])
def test_matmul_4bit_with_the_wrong_feature_count_names_in_features(grad):
    weight = bnb.nn.Params4bit(torch.randn(32, 64), quant_type="nf4").to("cpu")
    x = torch.randn(2, 63, requires_grad=grad)
    with pytest.raises(ValueError, match=r"the input has 63 features .* expects in_features=64"):
        bnb.matmul_4bit(x, weight.t(), weight.quant_state)
