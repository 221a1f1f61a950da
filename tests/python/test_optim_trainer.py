"""Every Transformers Trainer optim name that maps to bitsandbytes trains a tiny
Llama on the CPU with this package's optimizers (2 steps each)."""

import math
import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformers import Trainer, TrainingArguments  # noqa: E402
from transformers.training_args import OptimizerNames  # noqa: E402

import bitsandbytes as bnb  # noqa: E402

import tiny_models  # noqa: E402

BNB_NAMES = [
    "adamw_bnb_8bit",
    "adamw_8bit",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "lion_8bit",
    "lion_32bit",
    "paged_lion_8bit",
    "paged_lion_32bit",
    "rmsprop_bnb",
    "rmsprop_bnb_8bit",
    "rmsprop_bnb_32bit",
    "ademamix",
    "ademamix_8bit",
    "paged_ademamix_8bit",
    "paged_ademamix_32bit",
]


def _installed_bnb_names() -> list[str]:
    """Names the installed Transformers hands to its bitsandbytes handler."""
    try:
        from transformers import trainer_optimizer
    except ImportError:
        return []
    handlers = getattr(trainer_optimizer, "_OPTIMIZER_HANDLERS", {})
    return sorted(
        (k.value if hasattr(k, "value") else str(k)) for k, v in handlers.items() if "bitsandbytes" in v.__name__
    )


def test_installed_transformers_names_are_covered():
    names = set(_installed_bnb_names())
    if not names:
        pytest.skip("this Transformers has no _OPTIMIZER_HANDLERS table")
    assert names <= set(BNB_NAMES), names - set(BNB_NAMES)
    assert set(BNB_NAMES) <= {o.value for o in OptimizerNames}


class _Data(torch.utils.data.Dataset):
    def __init__(self, n=4, length=16, vocab=256):
        gen = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, length), generator=gen)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i], "attention_mask": torch.ones_like(self.ids[i])}


@pytest.mark.parametrize("optim", BNB_NAMES)
def test_trainer_trains_tiny_llama(optim, tmp_path):
    model = tiny_models.tiny_llama()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = TrainingArguments(
        output_dir=str(tmp_path),
        optim=optim,
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        weight_decay=0.01,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=_Data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = trainer.train()
    assert math.isfinite(out.training_loss)
    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert type(opt).__module__.startswith("bitsandbytes.optim")
    expected = {"adam": bnb.optim.AdamW, "lion": bnb.optim.Lion, "rmsprop": bnb.optim.RMSprop}
    kind = next((k for k in expected if k in optim), None)
    assert isinstance(opt, expected[kind] if kind else bnb.optim.AdEMAMix)
    assert opt.args.optim_bits == (8 if "8bit" in optim else 32)
    if "rmsprop" not in optim:
        assert opt.is_paged == ("paged" in optim)
    states = {n: opt.state[p] for n, p in model.named_parameters() if p in opt.state}
    assert states, "no optimizer state was created"
    dtypes = {st["state1"].dtype for st in states.values()}
    if "8bit" in optim:
        assert torch.uint8 in dtypes
        # Trainer registers a 32-bit override for embeddings after building the optimizer
        assert states["model.embed_tokens.weight"]["state1"].dtype == torch.float32
    else:
        assert dtypes == {torch.float32}
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert len(changed) > len(before) // 2


def test_trainer_resumes_from_checkpoint_with_8bit_states(tmp_path):
    def args(steps):
        return TrainingArguments(
            output_dir=str(tmp_path),
            optim="paged_adamw_8bit",
            max_steps=steps,
            per_device_train_batch_size=2,
            learning_rate=1e-3,
            save_strategy="steps",
            save_steps=2,
            report_to=[],
            use_cpu=True,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(model=tiny_models.tiny_llama(), args=args(2), train_dataset=_Data()).train()
        trainer = Trainer(model=tiny_models.tiny_llama(), args=args(4), train_dataset=_Data())
        trainer.train(resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    st = opt.state[trainer.model.model.layers[0].mlp.gate_proj.weight]
    assert st["step"] == 4 and st["state1"].dtype == torch.uint8
    assert opt.state[trainer.model.model.embed_tokens.weight]["state1"].dtype == torch.float32
