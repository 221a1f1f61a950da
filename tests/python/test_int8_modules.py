"""MatmulLtState, matmul / MatMul8bitLt (forward and backward), Int8Params,
Linear8bitLt (state dict, load hook, device moves), Embedding8bit, and why the
outlier decomposition exists."""

import copy
import io
import warnings

import pytest
import torch

import bitsandbytes as bnb
import bitsandbytes.functional as F
from bitsandbytes.autograd import MatMul8bitFp, MatMul8bitLt

pytestmark = pytest.mark.filterwarnings("ignore:MatMul8bitLt. inputs will be cast")


def _linear(in_f=64, out_f=32, threshold=0.0, has_fp16_weights=False, bias=True):
    torch.manual_seed(1)
    lin = bnb.nn.Linear8bitLt(in_f, out_f, bias=bias, has_fp16_weights=has_fp16_weights, threshold=threshold)
    return lin.to("cpu")


def test_state_fields_and_deprecations():
    s = bnb.MatmulLtState()
    assert s.CB is None and s.SCB is None and s.idx is None and s.threshold == 0.0
    assert s.has_fp16_weights and s.is_training and not s.use_pool and not s.force_no_igemmlt
    with pytest.warns(FutureWarning):
        assert s.CxB is None
    s.CxB = None  # Accelerate assigns it
    s.CB, s.SCB = torch.ones(1), torch.ones(1)
    s.reset_grads()
    assert s.CB is None and s.SCB is None
    assert bnb.matmul is bnb.autograd.matmul


def test_int8params_quantizes_on_to_and_accepts_unknown_kwargs():
    w = torch.randn(16, 32)
    p = bnb.nn.Int8Params(w.clone(), requires_grad=False, has_fp16_weights=False, _is_hf_initialized=True)
    assert set(p.__dict__) >= {"CB", "SCB", "has_fp16_weights"} and p.CB is None
    q = p.to("cpu")
    assert q is p and q.dtype == torch.int8 and q.CB is q.data or torch.equal(q.CB, q.data)
    CB, SCB, _ = F.int8_vectorwise_quant(w.half())
    assert torch.equal(q.data, CB) and torch.equal(q.SCB, SCB)
    # already int8: moved, not re-quantized; **__dict__ round trip (Transformers / Accelerate)
    again = bnb.nn.Int8Params(q.data, requires_grad=False, **q.__dict__).to("cpu")
    assert torch.equal(again.data, CB) and torch.equal(again.SCB, SCB)
    # fp16 weights: plain move; meta: no quantization
    f = bnb.nn.Int8Params(w.clone(), requires_grad=True, has_fp16_weights=True).to("cpu")
    assert f.dtype == torch.float32 and f.SCB is None
    m = bnb.nn.Int8Params(w.clone(), requires_grad=False).to("meta")
    assert m.device.type == "meta" and m.SCB is None
    # deep copy and pickling keep CB / SCB
    d = copy.deepcopy(q)
    assert torch.equal(d.SCB, q.SCB) and d.SCB.data_ptr() != q.SCB.data_ptr() and torch.equal(d.CB, q.data)
    buf = io.BytesIO()
    torch.save(q, buf)
    buf.seek(0)
    r = torch.load(buf, weights_only=False)
    assert type(r).__name__ == "Int8Params" and torch.equal(r.SCB, q.SCB)


def test_linear8bitlt_is_nn_linear_and_state_dict_format():
    lin = _linear()
    assert isinstance(lin, torch.nn.Linear) and type(lin).__name__ == "Linear8bitLt" and lin.index is None
    sd = lin.state_dict()
    assert list(sd) == ["weight", "bias", "SCB", "weight_format"]
    assert sd["weight"].dtype == torch.int8 and sd["SCB"].dtype == torch.float32 and sd["SCB"].shape == (32,)
    assert sd["weight_format"].dtype == torch.uint8 and sd["weight_format"].item() == 0
    # after a forward the scales live in state; the state dict is the same
    lin.eval()
    lin(torch.randn(3, 64))
    assert lin.weight.SCB is None and lin.state.SCB is not None
    sd2 = lin.state_dict()
    assert torch.equal(sd2["SCB"], sd["SCB"]) and torch.equal(sd2["weight"], sd["weight"])
    # fp16 weights: no SCB / weight_format
    assert list(_linear(has_fp16_weights=True).state_dict()) == ["weight", "bias"]


def test_linear8bitlt_load_state_dict_and_errors():
    src = _linear()
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    dst = bnb.nn.Linear8bitLt(64, 32, has_fp16_weights=False).to("cpu")
    dst.load_state_dict(sd)
    x = torch.randn(5, 64)
    src.eval(), dst.eval()
    assert torch.equal(src(x), dst(x))
    # loading again after a forward (scales now in state) works too
    dst.load_state_dict({k: v.clone() for k, v in sd.items()})
    assert torch.equal(src(x), dst(x))
    with pytest.raises(ValueError, match="weight_format"):
        dst.load_state_dict({**sd, "weight_format": torch.tensor(1, dtype=torch.uint8)})
    with pytest.raises(ValueError, match="corrupted SCB"):
        dst.load_state_dict({**sd, "SCB": torch.ones(31)})
    with pytest.raises(ValueError, match="corrupted SCB"):
        dst.load_state_dict({**sd, "SCB": sd["SCB"].to(torch.int32)})
    # a float16 SCB is converted, as the original copies it into its float32 SCB (docs/differences.md)
    dst.load_state_dict({**sd, "SCB": sd["SCB"].half()})
    assert dst.state.SCB.dtype == torch.float32 and torch.equal(dst.state.SCB, sd["SCB"].half().float())
    fresh = bnb.nn.Linear8bitLt(64, 32, has_fp16_weights=False)  # never moved: not quantized
    with pytest.raises(RuntimeError, match="non-quantized Linear8bitLt"):
        fresh.load_state_dict(sd)


@pytest.mark.parametrize("threshold", [0.0, 6.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_inference_forward_close_to_float(threshold, dtype):
    lin = _linear(threshold=threshold).eval()
    W = F.int8_vectorwise_dequant(lin.weight.data, lin.weight.SCB)
    x = torch.randn(2, 7, 64)
    x[..., 3] *= 10
    y = lin(x.to(dtype))
    assert y.shape == (2, 7, 32) and y.dtype == dtype
    want = torch.nn.functional.linear(x, W, lin.bias.float())
    err = (y.float() - want).abs().mean() / want.abs().mean()
    assert err < 0.03
    if threshold:
        assert lin.state.idx is not None and 3 in lin.state.idx.tolist()


def test_matmul_paths_and_backward_int8_weights():
    lin = _linear(threshold=6.0)
    x = torch.randn(4, 64, requires_grad=True)
    # training on CPU -> MatMul8bitFp (dequantize + linear)
    lin.train()
    y = lin(x)
    assert y.grad_fn.__class__.__name__.startswith(MatMul8bitFp.__name__)
    y.square().sum().backward()
    W = lin.state.CB.float() * (lin.state.SCB[:, None] * 7.874015718698502e-3)
    g = 2 * y.detach()
    torch.testing.assert_close(x.grad, g @ W)
    assert lin.weight.grad is None
    # inference mode with a grad-requiring input -> MatMul8bitLt, grad_A through the int8 weight
    lin.eval()
    x.grad = None
    x.data[:, 9] = 20.0  # an outlier column
    y = lin(x)
    assert y.grad_fn.__class__.__name__.startswith(MatMul8bitLt.__name__)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(4, 32) @ W)
    assert lin.state.idx.tolist() == [9]


@pytest.mark.parametrize("threshold", [0.0, 4.0])
def test_matmul8bitlt_backward_fp16_weights(threshold):
    torch.manual_seed(0)
    A = torch.randn(16, 48, requires_grad=True)
    A.data[:, 2] *= 8
    B = torch.randn(24, 48, requires_grad=True)
    bias = torch.randn(24, requires_grad=True)
    state = bnb.MatmulLtState()
    state.is_training = False  # forces the int8 path on CPU
    out = bnb.matmul(A, B, state=state, threshold=threshold, bias=bias)
    ref = torch.nn.functional.linear(A, B, bias)
    assert (out - ref).abs().mean() / ref.abs().mean() < 0.02
    g = torch.randn_like(out)
    out.backward(g)
    gA, gB, gb = torch.autograd.grad(ref, (A, B, bias), g)
    assert (A.grad - gA).abs().mean() / gA.abs().mean() < 0.02
    assert (B.grad - gB).abs().mean() / gB.abs().mean() < 0.05
    torch.testing.assert_close(bias.grad, gb)


def test_move_between_devices_keeps_state():
    lin = _linear()
    sd = lin.state_dict()
    m = torch.nn.Sequential(lin).to("cpu")
    assert m[0].weight.SCB is not None and m[0].weight.dtype == torch.int8
    if torch.cuda.is_available():
        g = m.to("cuda")
        assert g[0].weight.device.type == "cuda" and g[0].weight.SCB.device.type == "cuda"
        back = g.to("cpu")
        assert torch.equal(back[0].weight.data, sd["weight"]) and torch.equal(back[0].weight.SCB, sd["SCB"])
    m2 = m.to(torch.float16)  # a dtype cast never touches the int8 weight
    assert m2[0].weight.dtype == torch.int8 and m2[0].bias.dtype == torch.float16


def test_embedding8bit():
    emb = bnb.nn.Embedding8bit(50, 16)
    table = emb.weight.data.clone()
    with pytest.raises(RuntimeError, match="not quantized"):
        emb(torch.tensor([1]))
    emb = emb.to("cpu")
    assert emb.weight.dtype == torch.int8 and emb.weight.SCB.shape == (50,)
    idx = torch.tensor([[0, 3, 49], [7, 7, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, 16) and out.dtype == torch.float32
    want = torch.nn.functional.embedding(idx, table)
    assert (out - want).abs().max() <= table.abs().max() / 127
    with pytest.raises(NotImplementedError, match="Saving Embedding8bit"):
        emb.state_dict()


def test_matmul_bad_input():
    B = torch.randn(8, 16)
    with pytest.raises(ValueError, match="last dimension"):
        bnb.matmul(torch.randn(3, 15), B)
    with pytest.raises(TypeError, match="floating-point"):
        bnb.matmul(torch.ones(3, 16, dtype=torch.int32), B)
    with pytest.raises(ValueError, match="bias has 3"):
        bnb.matmul(torch.randn(3, 16), B, bias=torch.ones(3))
    state = bnb.MatmulLtState()
    state.CB, state.SCB, _ = F.int8_vectorwise_quant(B.half())
    state.SCB = state.SCB[:5]  # corrupted
    state.has_fp16_weights = False
    state.is_training = False
    with pytest.raises(ValueError, match="corrupted"):
        bnb.matmul(torch.randn(3, 16), state.CB, state=state)


def test_outlier_decomposition_is_why_int8_keeps_quality():
    """A layer fed by activations with a few large feature columns (as in large LMs): LLM.int8()
    with threshold 6 stays close to fp32, plain row-wise int8 does not."""
    torch.manual_seed(0)
    W = torch.randn(128, 256) / 16
    x = torch.randn(64, 256)
    x[:, [11, 77, 200]] *= 60  # planted outlier features
    want = x @ W.t()
    errs = {}
    for thr in (0.0, 6.0):
        lin = bnb.nn.Linear8bitLt(256, 128, bias=False, has_fp16_weights=False, threshold=thr)
        lin.weight = bnb.nn.Int8Params(W.clone(), requires_grad=False, has_fp16_weights=False)
        lin = lin.to("cpu").eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = lin(x)
        errs[thr] = ((y - want).norm() / want.norm()).item()
    assert errs[6.0] < 0.01, errs
    assert errs[0.0] > 0.025 and errs[0.0] > 3 * errs[6.0], errs
