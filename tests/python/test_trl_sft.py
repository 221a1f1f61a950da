"""TRL's SFTTrainer, unchanged, fine-tunes LoRA adapters over an NF4 base with
optim="paged_adamw_8bit" on the CPU."""

import pytest
import torch

import bitsandbytes as bnb

import tiny_models

trl = pytest.importorskip("trl")
from datasets import Dataset  # noqa: E402
from peft import LoraConfig  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402


@pytest.mark.slow
def test_sft_trainer_qlora_with_paged_adamw_8bit(tmp_path):
    tok = tiny_models.tokenizer()
    base = tiny_models.save_tiny_llama_for(tok, str(tmp_path / "base"))
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quant, dtype=torch.float32)
    packed_before = model.model.layers[0].mlp.up_proj.weight.data.clone()
    config = SFTConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=6,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        optim="paged_adamw_8bit",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        max_length=64,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_dict({"text": tiny_models.corpus()[:48]}),
        processing_class=tok,
        peft_config=LoraConfig(r=64, lora_alpha=64, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    lora_before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()

    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert isinstance(opt, bnb.optim.AdamW) and opt.args.optim_bits == 8 and opt.is_paged
    assert any(s["state1"].dtype == torch.uint8 for s in opt.state.values())  # 8-bit states were used
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
    trained = dict(trainer.model.named_parameters())
    assert any(not torch.equal(trained[n].detach(), v) for n, v in lora_before.items())
    up = trainer.model.base_model.model.model.layers[0].mlp.up_proj.base_layer
    assert isinstance(up, bnb.nn.Linear4bit) and torch.equal(up.weight.data, packed_before)
