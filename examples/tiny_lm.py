"""A small causal LM and its tokenizer, made locally (no model hub): a byte-level
BPE tokenizer trained on the shipped corpus and a Llama built from a config.
Used by the examples and by the tests."""

from __future__ import annotations

import os
import time

import torch

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tiny_corpus.txt")


def read_corpus(path: str = CORPUS) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def build_tokenizer(texts: list[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on ``texts`` (a second or two), as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def build_model(tokenizer, hidden: int = 256, layers: int = 4, heads: int = 4, seed: int = 0):
    """A Llama of about hidden^2 * 12 * layers parameters for ``tokenizer``'s vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3 // 32 * 32,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def pretrain(
    model,
    tokenizer,
    texts: list[str],
    steps: int = 150,
    seq_len: int = 128,
    batch: int = 8,
    lr: float = 3e-3,
    log_every: int = 0,
):
    """A short full-precision pre-training so the base model has learned something to fine-tune;
    prints the step, loss and time every ``log_every`` steps (0: silent)."""
    ids = tokenizer("\n".join(texts), return_tensors="pt").input_ids[0]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    model.train()
    losses = []
    start = time.time()
    for step in range(1, steps + 1):
        starts = torch.randint(0, ids.numel() - seq_len - 1, (batch,), generator=g)
        x = torch.stack([ids[s : s + seq_len] for s in starts])
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps):
            print(
                f"   pre-training step {step}/{steps}: loss {losses[-1]:.2f} ({time.time() - start:.0f}s)", flush=True
            )
    model.eval()
    return losses
