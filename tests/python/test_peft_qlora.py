"""PEFT, unchanged, over 4-bit base layers (QLoRA): k-bit preparation, LoRA and DoRA on
"all-linear", gradient checkpointing, save/reload of the adapter, merge and unmerge."""

import os

import pytest
import torch

import bitsandbytes as bnb

import tiny_models
from conftest import FIXTURES

peft = pytest.importorskip("peft")
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402

SOURCE = os.path.join(FIXTURES, "tiny_llama_fp32")
IDS = torch.randint(3, 256, (4, 24), generator=torch.Generator().manual_seed(0))


def _base(compute=torch.float32):
    config = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
    )
    return AutoModelForCausalLM.from_pretrained(SOURCE, quantization_config=config, dtype=torch.float32)


def _lora(model, **kw):
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM", **kw)
    return get_peft_model(model, config)


def _train(model, steps=8, lr=1e-2):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(input_ids=IDS, labels=IDS).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def _logits(model, ids=tiny_models.PROMPT_IDS):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A QLoRA model trained a few steps with gradient checkpointing, and its saved adapter."""
    torch.manual_seed(0)
    model = prepare_model_for_kbit_training(
        _base(), use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": True}
    )
    model = _lora(model)
    losses = _train(model)
    path = str(tmp_path_factory.mktemp("adapter"))
    model.save_pretrained(path)
    return model, losses, path


def test_lora_wraps_every_4bit_linear_and_trains(trained):
    model, losses, _ = trained
    wrapped = [m for m in model.modules() if isinstance(m, peft.tuners.lora.bnb.Linear4bit)]
    assert len(wrapped) == 14
    assert all(isinstance(m.base_layer, bnb.nn.Linear4bit) for m in wrapped)
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)
    assert losses[-1] < losses[0] - 0.1, losses


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradient_checkpointing_gives_the_same_gradients(use_reentrant):
    def grads(checkpointing):
        torch.manual_seed(0)
        model = _lora(_base())
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": use_reentrant})
            model.enable_input_require_grads()
        model.train()
        model(input_ids=IDS, labels=IDS).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, ckpt = grads(False), grads(True)
    assert plain.keys() == ckpt.keys() and len(plain) == 28
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], atol=1e-5, rtol=1e-4)


def test_adapter_reloads_onto_a_fresh_4bit_base_with_identical_outputs(trained):
    model, _, path = trained
    reloaded = PeftModel.from_pretrained(_base(), path).eval()
    assert torch.equal(_logits(reloaded), _logits(model))


def test_merge_and_unload_keeps_a_quantized_model_close(trained):
    _, _, path = trained
    model = PeftModel.from_pretrained(_base(), path).eval()
    before = _logits(model)
    merged = model.merge_and_unload()
    layer = merged.model.layers[0].self_attn.q_proj
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.bnb_quantized
    after = _logits(merged)
    # re-quantizing W + BA costs a 4-bit rounding, far less than dropping the adapter
    adapter_effect = (_logits(_base()) - before).abs().mean()
    assert (after - before).abs().mean() < 0.5 * adapter_effect


def test_merge_into_the_dequantized_16bit_model_is_exact(trained):
    model, _, path = trained
    base = _base()
    base.dequantize()
    assert type(base.model.layers[0].mlp.up_proj) is torch.nn.Linear
    merged = PeftModel.from_pretrained(base, path).merge_and_unload()
    torch.testing.assert_close(_logits(merged), _logits(model), atol=2e-4, rtol=1e-3)


def test_merge_then_unmerge_restores_the_outputs(trained):
    _, _, path = trained
    model = PeftModel.from_pretrained(_base(), path).eval()
    before = _logits(model)
    model.merge_adapter()
    model.unmerge_adapter()
    after = _logits(model)
    adapter_effect = (_logits(_base()) - before).abs().mean()
    assert (after - before).abs().mean() < 0.5 * adapter_effect


def test_dora_on_4bit_layers_trains():
    torch.manual_seed(0)
    model = _lora(prepare_model_for_kbit_training(_base(), use_gradient_checkpointing=False), use_dora=True)
    losses = _train(model, steps=6)
    assert losses[-1] < losses[0] - 0.1, losses


def _base_8bit():
    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=6.0)
    return AutoModelForCausalLM.from_pretrained(SOURCE, quantization_config=config, dtype=torch.float32)


def test_lora_over_8bit_layers_trains_reloads_and_merges(tmp_path):
    torch.manual_seed(0)
    model = _lora(prepare_model_for_kbit_training(_base_8bit(), use_gradient_checkpointing=False))
    wrapped = [m for m in model.modules() if isinstance(m, peft.tuners.lora.bnb.Linear8bitLt)]
    assert len(wrapped) == 14 and all(isinstance(m.base_layer, bnb.nn.Linear8bitLt) for m in wrapped)
    losses = _train(model)
    assert losses[-1] < losses[0] - 0.1, losses
    model.save_pretrained(tmp_path)
    reloaded = PeftModel.from_pretrained(_base_8bit(), tmp_path).eval()
    before = _logits(reloaded)
    assert torch.equal(before, _logits(model))
    merged = reloaded.merge_and_unload()
    assert isinstance(merged.model.layers[0].self_attn.q_proj, bnb.nn.Linear8bitLt)
    adapter_effect = (_logits(_base_8bit()) - before).abs().mean()
    assert (_logits(merged) - before).abs().mean() < 0.5 * adapter_effect


def test_dora_on_8bit_layers_trains():
    torch.manual_seed(0)
    model = _lora(prepare_model_for_kbit_training(_base_8bit(), use_gradient_checkpointing=False), use_dora=True)
    losses = _train(model, steps=6)
    assert losses[-1] < losses[0] - 0.1, losses
