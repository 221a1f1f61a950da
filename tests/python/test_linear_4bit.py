"""Linear4bit: forward against dequantize + dense linear, gradients, checkpointing,
state_dict keys and bytes, loading, torch.compile, bad input."""

import io
import warnings

import pytest
import torch
from torch.utils.checkpoint import checkpoint

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.nn import Linear4bit, LinearFP4, LinearNF4, Params4bit

TOL = {torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float16: 3e-3}


def _layer(n_in=128, n_out=48, bias=True, **kw):
    torch.manual_seed(1)
    return Linear4bit(n_in, n_out, bias=bias, **kw).to("cpu")


def _dense(layer, dtype):
    W = F.dequantize_4bit(layer.weight.data, layer.weight.quant_state).to(dtype)
    b = None if layer.bias is None else layer.bias.to(dtype)
    return W, b


def test_is_an_nn_linear_named_like_the_original():
    layer = Linear4bit(16, 8)
    assert isinstance(layer, torch.nn.Linear) and type(layer).__name__ == "Linear4bit"
    assert isinstance(layer.weight, Params4bit) and not layer.weight.requires_grad
    assert (layer.in_features, layer.out_features) == (16, 8)
    assert LinearNF4(16, 8).weight.quant_type == "nf4" and LinearFP4(16, 8).weight.quant_type == "fp4"
    assert issubclass(LinearNF4, Linear4bit)


def test_constructible_on_the_meta_device():
    with torch.device("meta"):
        layer = Linear4bit(4096, 4096, False, torch.bfloat16, compress_statistics=True, quant_type="nf4")
    assert layer.weight.is_meta and layer.compute_dtype == torch.bfloat16
    assert Linear4bit(64, 64, device="meta").weight.is_meta


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("compute_dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("storage", [torch.uint8, torch.bfloat16])
@pytest.mark.parametrize("batch", [(1, 128), (5, 128), (2, 3, 128)])
def test_inference_matches_dequantize_then_linear(quant_type, compute_dtype, storage, batch):
    layer = _layer(quant_type=quant_type, compute_dtype=compute_dtype, quant_storage=storage)
    x = torch.randn(batch)
    with torch.no_grad():
        y = layer(x)
    W, b = _dense(layer, compute_dtype)
    expected = torch.nn.functional.linear(x.to(compute_dtype).float(), W.float(), b.float())
    assert y.dtype == x.dtype and y.shape == (*batch[:-1], 48)
    tol = TOL[compute_dtype]
    torch.testing.assert_close(y, expected, atol=tol * 10, rtol=tol)


def test_compute_dtype_defaults_to_the_first_input_dtype():
    layer = _layer(quant_type="nf4")
    assert layer.compute_dtype is None
    with torch.no_grad():
        layer(torch.randn(2, 128, dtype=torch.bfloat16))
    assert layer.compute_dtype == torch.bfloat16


@pytest.mark.parametrize("compute_dtype", [torch.float32, torch.bfloat16])
def test_gradients_flow_to_input_and_bias_not_weight(compute_dtype):
    layer = _layer(quant_type="nf4", compute_dtype=compute_dtype)
    layer.bias.requires_grad_(True)
    x = torch.randn(4, 128, dtype=compute_dtype, requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)
    W, _ = _dense(layer, compute_dtype)
    tol = TOL[compute_dtype]
    torch.testing.assert_close(x.grad.float(), (g.float() @ W.float()), atol=tol * 10, rtol=tol)
    torch.testing.assert_close(layer.bias.grad.float(), g.float().sum(0), atol=tol * 10, rtol=tol)
    assert layer.weight.grad is None


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradient_checkpointing(use_reentrant):
    layer = _layer(quant_type="nf4", compute_dtype=torch.float32)
    lora = torch.nn.Linear(128, 128)  # a trainable layer below the frozen one
    x = torch.randn(3, 128)

    def run(use_checkpoint):
        lora.zero_grad()
        h = lora(x)
        y = checkpoint(layer, h, use_reentrant=use_reentrant) if use_checkpoint else layer(h)
        y.square().sum().backward()
        return lora.weight.grad.clone()

    torch.testing.assert_close(run(True), run(False))


@pytest.mark.parametrize("nested", [True, False])
def test_state_dict_keys_dtypes_and_shapes(nested):
    layer = _layer(n_in=256, n_out=64, quant_type="nf4", compress_statistics=nested)
    sd = layer.state_dict()
    n = 256 * 64
    expected = {
        "weight": (torch.uint8, (n // 2, 1)),
        "bias": (torch.float32, (64,)),
        "weight.absmax": (torch.uint8 if nested else torch.float32, (n // 64,)),
        "weight.quant_map": (torch.float32, (16,)),
    }
    if nested:
        expected["weight.nested_absmax"] = (torch.float32, (1,))
        expected["weight.nested_quant_map"] = (torch.float32, (256,))
    expected["weight.quant_state.bitsandbytes__nf4"] = (torch.uint8, None)
    assert list(sd) == list(expected)
    for key, (dtype, shape) in expected.items():
        assert sd[key].dtype == dtype, key
        if shape is not None:
            assert tuple(sd[key].shape) == shape, key
    meta = bnb.utils.unpack_tensor_to_dict(sd["weight.quant_state.bitsandbytes__nf4"])
    assert meta["quant_type"] == "nf4" and meta["blocksize"] == 64 and meta["shape"] == [64, 256]
    assert meta["dtype"] == "float32" and (("nested_offset" in meta) == nested)


@pytest.mark.parametrize("storage", [torch.uint8, torch.bfloat16])
def test_state_dict_round_trip_through_safetensors(storage):
    from safetensors.torch import load, save

    layer = _layer(quant_type="nf4", compute_dtype=torch.float32, quant_storage=storage)
    blob = save(layer.state_dict())  # refuses tensors that share storage
    fresh = Linear4bit(128, 48, compute_dtype=torch.float32, quant_type="nf4", quant_storage=storage)
    result = fresh.load_state_dict(load(blob))
    assert not result.missing_keys and not result.unexpected_keys
    assert fresh.weight.bnb_quantized and fresh.quant_state is fresh.weight.quant_state
    x = torch.randn(3, 128)
    with torch.no_grad():
        assert torch.equal(layer(x), fresh(x))


def test_loading_a_float_weight_quantizes_it():
    dense = torch.nn.Linear(128, 48)
    layer = _layer(quant_type="fp4", compute_dtype=torch.float32)
    layer.load_state_dict(dense.state_dict())
    assert layer.weight.bnb_quantized and layer.weight.quant_type == "fp4"
    W, _ = _dense(layer, torch.float32)
    assert (W - dense.weight).abs().mean() < 0.3 * dense.weight.abs().mean()


def test_loading_packed_bytes_without_quant_state_is_an_error():
    sd = _layer(quant_type="nf4").state_dict()
    packed_only = {"weight": sd["weight"], "bias": sd["bias"]}
    with pytest.raises(RuntimeError, match=r"weight: packed 4-bit data .* without its quant-state keys"):
        Linear4bit(128, 48, quant_type="nf4").load_state_dict(packed_only)


def test_loading_a_corrupted_quant_state_is_an_error():
    sd = _layer(quant_type="nf4").state_dict()
    sd["weight.absmax"] = sd["weight.absmax"][:-3]
    fresh = Linear4bit(128, 48, quant_type="nf4")
    with pytest.raises(RuntimeError, match="corrupted quant_state of weight: absmax has 93 entries"):
        fresh.load_state_dict(sd)
    assert not fresh.weight.bnb_quantized  # nothing half-loaded


def test_wrong_input_features_is_a_clear_error():
    layer = _layer(quant_type="nf4")
    expected = r"Linear4bit\(in_features=128, out_features=48\): the input has 100 features .* expected in_features=128"
    with pytest.raises(ValueError, match=expected), torch.no_grad():
        layer(torch.randn(2, 100))


def test_unquantized_forward_is_a_clear_error():
    layer = Linear4bit(128, 48, quant_type="nf4")
    with pytest.raises(RuntimeError, match=r"the weight is not quantized"):
        layer(torch.randn(2, 128))


def test_mismatched_quant_state_is_a_clear_error():
    layer = _layer(quant_type="nf4")
    other = _layer(n_in=64, n_out=48, quant_type="nf4")
    layer.weight.quant_state = other.weight.quant_state
    with pytest.raises((ValueError, RuntimeError), match=r"(bytes|features|weight)"), torch.no_grad():
        layer(torch.randn(2, 128))


def test_integer_input_is_a_clear_error():
    layer = _layer(quant_type="nf4", compute_dtype=None)
    with pytest.raises((TypeError, RuntimeError, ValueError), match=r"(?i)(dtype|float)"), torch.no_grad():
        layer(torch.ones(2, 128, dtype=torch.int64))


def test_torch_compile_fullgraph():
    layer = _layer(quant_type="nf4", compute_dtype=torch.float32)
    x = torch.randn(4, 128)
    with torch.no_grad():
        eager = layer(x)
        compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")(x)
    torch.testing.assert_close(compiled, eager)


def test_torch_save_of_a_whole_layer():
    layer = _layer(quant_type="nf4", compute_dtype=torch.float32)
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    x = torch.randn(2, 128)
    with torch.no_grad(), warnings.catch_warnings():
        assert torch.equal(layer(x), loaded(x))
    assert loaded.weight.module is loaded
