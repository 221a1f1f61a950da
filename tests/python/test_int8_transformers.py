"""Transformers load_in_8bit on tiny Llama models (no hub): quantize on load,
generate, save/reload, dequantize, skip modules, threshold, fp32 CPU offload;
checkpoints interchangeable with the original bitsandbytes (fixtures)."""

import os
import warnings

import pytest
import torch

import bitsandbytes as bnb

from conftest import FIXTURES, load_fixture

transformers = pytest.importorskip("transformers")
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:MatMul8bitLt. inputs will be cast", "ignore::FutureWarning")


def _config(**kw):
    return LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        **kw,
    )


@pytest.fixture(scope="module")
def fp32_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("llama") / "fp32"
    LlamaForCausalLM(_config()).eval().save_pretrained(path)
    return path


def _load(path, **kw):
    cfg = BitsAndBytesConfig(load_in_8bit=True, **kw)
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=cfg, device_map="cpu").eval()


def _ids():
    return torch.randint(0, 128, (2, 10), generator=torch.Generator().manual_seed(3))


def _linears(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear8bitLt)}


def test_load_in_8bit_generate_and_quality(fp32_dir):
    ref = LlamaForCausalLM.from_pretrained(fp32_dir).eval()
    model = _load(fp32_dir)
    lin = _linears(model)
    assert len(lin) == 14 and "lm_head" not in lin  # 7 linears per layer; lm_head stays fp
    assert all(m.weight.dtype == torch.int8 and m.weight.SCB is not None for m in lin.values())
    assert model.is_loaded_in_8bit
    ids = _ids()
    with torch.no_grad():
        a, b = ref(ids).logits, model(ids).logits
    assert (a - b).abs().max() < 0.05 * a.abs().max()
    out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape == (2, 14)


def test_save_pretrained_roundtrip_and_dequantize(fp32_dir, tmp_path):
    model = _load(fp32_dir, llm_int8_threshold=6.0)
    ids = _ids()
    with torch.no_grad():
        before = model(ids).logits
    model.save_pretrained(tmp_path / "int8")
    from safetensors.torch import load_file

    sd = load_file(os.path.join(tmp_path / "int8", "model.safetensors"))
    key = "model.layers.0.self_attn.q_proj"
    assert sd[f"{key}.weight"].dtype == torch.int8 and sd[f"{key}.SCB"].dtype == torch.float32
    assert sd[f"{key}.weight_format"].dtype == torch.uint8
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "int8", device_map="cpu").eval()
    assert len(_linears(again)) == 14
    with torch.no_grad():
        after = again(ids).logits
    assert torch.equal(before, after)
    deq = again.dequantize()
    assert not _linears(deq)
    q = deq.model.layers[0].self_attn.q_proj
    assert type(q) is torch.nn.Linear and q.weight.dtype.is_floating_point
    with torch.no_grad():
        dl = deq(ids).logits
    assert (dl - after).abs().max() < 0.05 * after.abs().max()


def test_skip_modules_threshold_and_fp16_weights(fp32_dir):
    model = _load(
        fp32_dir, llm_int8_skip_modules=["gate_proj", "up_proj", "down_proj", "lm_head"], llm_int8_threshold=4.0
    )
    lin = _linears(model)
    assert lin and all("mlp" not in n for n in lin)
    assert type(model.model.layers[0].mlp.up_proj) is torch.nn.Linear
    assert all(m.state.threshold == 4.0 for m in lin.values())
    fp16w = _load(fp32_dir, llm_int8_has_fp16_weight=True)
    m = next(iter(_linears(fp16w).values()))
    assert m.state.has_fp16_weights and m.weight.dtype != torch.int8
    with torch.no_grad():
        fp16w(_ids())


def test_fp32_cpu_offload_keeps_cpu_modules_unquantized(fp32_dir):
    device_map = {"model.embed_tokens": "cpu", "model.layers": "cpu", "model.norm": "cpu", "model.rotary_emb": "cpu"}
    device_map["lm_head"] = "cpu"
    cfg = BitsAndBytesConfig(load_in_8bit=True, llm_int8_enable_fp32_cpu_offload=True)
    model = AutoModelForCausalLM.from_pretrained(fp32_dir, quantization_config=cfg, device_map=device_map).eval()
    with torch.no_grad():
        model(_ids())


def test_planted_outliers_need_the_decomposition(tmp_path):
    """A tiny model whose hidden states carry a few huge feature dimensions: LLM.int8() (threshold 6)
    keeps its logits close to fp32, plain int8 (threshold 0) does not."""
    torch.manual_seed(0)
    model = LlamaForCausalLM(_config()).eval()
    with torch.no_grad():
        for layer in model.model.layers:  # large, constant-sign features entering every projection
            for norm in (layer.input_layernorm, layer.post_attention_layernorm):
                norm.weight[[5, 17, 40]] = 60.0
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.weight[:, [5, 17, 40]] /= 6.0
            for proj in (layer.mlp.gate_proj, layer.mlp.up_proj):
                proj.weight[:, [5, 17, 40]] /= 6.0
    model.save_pretrained(tmp_path)
    ids = _ids()
    with torch.no_grad():
        want = model(ids).logits
        errs = {}
        for thr in (0.0, 6.0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = _load(tmp_path, llm_int8_threshold=thr)(ids).logits
            errs[thr] = ((got - want).norm() / want.norm()).item()
    assert errs[6.0] < 0.05, errs
    assert errs[0.0] > 0.08 and errs[0.0] > 2 * errs[6.0], errs


def test_checkpoint_from_the_original_loads_with_its_logits():
    fx = load_fixture("int8_llama_logits")
    model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "int8_llama", "int8"), device_map="cpu").eval()
    assert len(_linears(model)) == 14
    with torch.no_grad():
        logits = model(fx["input_ids"]).logits
    torch.testing.assert_close(logits, fx["logits"], rtol=1e-5, atol=1e-5)


def test_checkpoint_saved_here_matches_the_original(tmp_path):
    from safetensors.torch import load_file

    model = _load(os.path.join(FIXTURES, "int8_llama", "fp32"), llm_int8_threshold=6.0)
    model.save_pretrained(tmp_path)
    ours = load_file(os.path.join(tmp_path, "model.safetensors"))
    theirs = load_file(os.path.join(FIXTURES, "int8_llama", "int8", "model.safetensors"))
    assert sorted(ours) == sorted(theirs)
    for k in theirs:
        assert ours[k].dtype == theirs[k].dtype and torch.equal(ours[k], theirs[k]), k
