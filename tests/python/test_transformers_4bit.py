"""Transformers' load_in_4bit, unchanged, on a tiny Llama: quantize on load, generate,
save and reload pre-quantized, dequantize, memory footprint, and checkpoints that
move between this package and the original bitsandbytes in both directions."""

import os

import pytest
import torch
from safetensors.torch import load_file

import bitsandbytes as bnb
import bitsandbytes.functional as F

import tiny_models
from conftest import FIXTURES, load_fixture

transformers = pytest.importorskip("transformers")
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402

SOURCE = os.path.join(FIXTURES, "tiny_llama_fp32")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# (fixture folder, quant_type, double quant, compute dtype, quant_storage): made by the original
ORIGINAL_CHECKPOINTS = [
    ("tiny_llama_nf4_dq_bf16", "nf4", True, torch.bfloat16, torch.uint8),
    ("tiny_llama_fp4_fp32_storage_bf16", "fp4", False, torch.float32, torch.bfloat16),
]


def _config(quant_type="nf4", dq=True, compute=torch.bfloat16, storage=torch.uint8, **kw):
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=dq,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_quant_storage=storage,
        **kw,
    )


def _load(path=SOURCE, **kw):
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=_config(**kw), dtype=torch.float32).eval()


def _logits(model):
    with torch.no_grad():
        return model(tiny_models.PROMPT_IDS).logits


def _reference_logits(quant_type, dq, compute):
    """The fp32 model with every converted Linear replaced by dequantize(quantize(W)) in
    the compute dtype: what the 4-bit model must compute."""
    model = AutoModelForCausalLM.from_pretrained(SOURCE, dtype=torch.float32).eval()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name != "lm_head":
            packed, state = F.quantize_4bit(module.weight.data, quant_type=quant_type, compress_statistics=dq)
            w = F.dequantize_4bit(packed, state).to(compute)
            module.weight.data = w.float()
            module.forward = lambda x, m=module, w=w: torch.nn.functional.linear(x.to(compute), w).to(x.dtype)
    return _logits(model)


@pytest.mark.parametrize(
    "quant_type,dq,compute,storage",
    [
        ("nf4", True, torch.bfloat16, torch.uint8),
        ("nf4", False, torch.float32, torch.uint8),
        ("fp4", True, torch.float16, torch.uint8),
        ("fp4", False, torch.bfloat16, torch.bfloat16),
        ("nf4", True, torch.float32, torch.bfloat16),
    ],
)
def test_load_in_4bit_quantizes_every_linear_but_lm_head(quant_type, dq, compute, storage):
    model = _load(quant_type=quant_type, dq=dq, compute=compute, storage=storage)
    assert model.is_loaded_in_4bit
    linears = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert type(linears.pop("lm_head")) is torch.nn.Linear
    assert len(linears) == 14
    for name, m in linears.items():
        assert isinstance(m, bnb.nn.Linear4bit), name
        assert m.weight.bnb_quantized and m.weight.dtype == storage, name
        assert m.weight.quant_state.quant_type == quant_type and m.weight.quant_state.nested == dq
        assert m.compute_dtype == compute
    tol = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}[compute]
    torch.testing.assert_close(_logits(model), _reference_logits(quant_type, dq, compute), atol=tol, rtol=tol)


def test_generate_is_deterministic_and_matches_after_reload(tmp_path):
    model = _load()
    out = model.generate(tiny_models.PROMPT_IDS, max_new_tokens=6, do_sample=False)
    assert out.shape == (1, tiny_models.PROMPT_IDS.shape[1] + 6)
    model.save_pretrained(tmp_path)
    again = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert torch.equal(again.generate(tiny_models.PROMPT_IDS, max_new_tokens=6, do_sample=False), out)


@pytest.mark.parametrize("quant_type,dq,storage", [("nf4", True, torch.uint8), ("fp4", False, torch.bfloat16)])
def test_save_then_load_prequantized_gives_identical_logits(tmp_path, quant_type, dq, storage):
    model = _load(quant_type=quant_type, dq=dq, storage=storage)
    model.save_pretrained(tmp_path)
    sd = load_file(os.path.join(tmp_path, "model.safetensors"))
    assert f"model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__{quant_type}" in sd
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert isinstance(reloaded.model.layers[0].mlp.up_proj, bnb.nn.Linear4bit)
    assert torch.equal(_logits(reloaded), _logits(model))


def test_dequantize_gives_plain_linears_with_the_dequantized_weights():
    model = _load(compute=torch.float32)
    layer = model.model.layers[1].self_attn.o_proj
    expected = F.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
    model.dequantize()
    dense = model.model.layers[1].self_attn.o_proj
    assert type(dense) is torch.nn.Linear
    assert torch.equal(dense.weight.data.to(expected.dtype), expected)


def test_memory_footprint_counts_packed_bytes():
    model = _load(dq=False)
    expected = 0
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if isinstance(p, bnb.nn.Params4bit):
                expected += p.quant_state.shape.numel() // 2
            else:
                expected += p.numel() * p.element_size()
    for b in model.buffers():
        expected += b.numel() * b.element_size()
    footprint = model.get_memory_footprint()
    assert abs(footprint - expected) / expected < 0.01
    full = AutoModelForCausalLM.from_pretrained(SOURCE, dtype=torch.float32).get_memory_footprint()
    assert footprint < 0.6 * full


def test_skip_modules_stay_full_precision():
    # Transformers 5 matches skip patterns as a name prefix, a regex match from the start,
    # or a suffix: "down_proj" skips every down_proj, a bare "mlp" would skip nothing.
    model = _load(llm_int8_skip_modules=["down_proj", "lm_head"])
    assert type(model.model.layers[0].mlp.down_proj) is torch.nn.Linear
    assert isinstance(model.model.layers[0].self_attn.q_proj, bnb.nn.Linear4bit)


@pytest.mark.parametrize("name,quant_type,dq,compute,storage", ORIGINAL_CHECKPOINTS)
def test_checkpoint_saved_by_the_original_loads_with_its_logits(name, quant_type, dq, compute, storage):
    model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, name), dtype=torch.float32).eval()
    layer = model.model.layers[0].mlp.gate_proj
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.dtype == storage
    assert layer.weight.quant_state.quant_type == quant_type and layer.weight.quant_state.nested == dq
    expected = load_fixture(f"{name}_logits")["logits"]
    # The original's CPU 4-bit kernel works in bf16 (AVX512-BF16) even for an fp32
    # compute dtype; this package accumulates in fp32 with fp32 scales (docs/differences.md).
    # Logits here have a std of about 0.15.
    torch.testing.assert_close(_logits(model), expected, atol=6e-3, rtol=0)


@pytest.mark.parametrize("name,quant_type,dq,compute,storage", ORIGINAL_CHECKPOINTS)
def test_checkpoint_saved_here_has_the_originals_keys_and_bytes(tmp_path, name, quant_type, dq, compute, storage):
    _load(quant_type=quant_type, dq=dq, compute=compute, storage=storage).save_pretrained(tmp_path)
    ours = load_file(os.path.join(tmp_path, "model.safetensors"))
    theirs = load_file(os.path.join(FIXTURES, name, "model.safetensors"))
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype and ours[key].shape == theirs[key].shape, key
        # compare bytes: packed data viewed as bf16 can hold NaN patterns
        assert torch.equal(ours[key].view(torch.uint8), theirs[key].view(torch.uint8)), key


def test_checkpoint_missing_quant_state_keys_is_not_silently_half_loaded(tmp_path):
    from safetensors.torch import save_file

    _load().save_pretrained(tmp_path)
    path = os.path.join(tmp_path, "model.safetensors")
    sd = load_file(path)
    victim = "model.layers.1.self_attn.v_proj.weight"
    for key in [k for k in sd if k.startswith(victim + ".")]:
        del sd[key]
    save_file(sd, path, metadata={"format": "pt"})
    # Transformers reports the key as MISSING in its load report and leaves the packed
    # bytes behind; the layer then refuses to run instead of computing garbage.
    model = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    with pytest.raises(RuntimeError, match=r"Linear4bit\(64 -> 32\): the weight is not quantized"):
        _logits(model)


def test_checkpoint_with_a_corrupted_quant_state_fails_to_load(tmp_path):
    from safetensors.torch import save_file

    _load().save_pretrained(tmp_path)
    path = os.path.join(tmp_path, "model.safetensors")
    sd = load_file(path)
    key = "model.layers.1.self_attn.v_proj.weight.absmax"
    sd[key] = sd[key][:-2]
    save_file(sd, path, metadata={"format": "pt"})
    with pytest.raises(RuntimeError, match="conversion"):
        AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
