"""Tiny causal LMs built from a config (no model hub): shared by the tests and by
tools/make_fixtures.py, so both sides quantize exactly the same weights."""

from __future__ import annotations

import os

import torch

#: Fixed token ids every logits comparison runs on.
PROMPT_IDS = torch.tensor([[1, 17, 42, 99, 7, 200, 3, 64, 128, 5, 250, 11]])


def tiny_llama_config(**overrides):
    from transformers import LlamaConfig

    kwargs = dict(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)


def tiny_llama(seed: int = 0, **overrides):
    """A randomly initialised fp32 Llama (weights scaled up so 4-bit error is visible)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_llama_config(**overrides), dtype=torch.float32)
    return model.eval()


def save_tiny_llama(path: str, seed: int = 0, **overrides) -> str:
    """Save :func:`tiny_llama` as a full-precision checkpoint folder and return it."""
    if not os.path.exists(os.path.join(path, "config.json")):
        tiny_llama(seed, **overrides).save_pretrained(path)
    return path


def corpus() -> list[str]:
    """The small text corpus the examples ship (examples/data/tiny_corpus.txt)."""
    return _tiny_lm().read_corpus()


def tokenizer():
    """A byte-level BPE tokenizer trained on :func:`corpus` (examples/tiny_lm.py)."""
    return _tiny_lm().build_tokenizer(corpus())


def save_tiny_llama_for(tok, path: str, seed: int = 0) -> str:
    """:func:`save_tiny_llama` with the vocabulary and special tokens of ``tok``."""
    return save_tiny_llama(
        path,
        seed,
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


def _tiny_lm():
    import sys

    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    import tiny_lm

    return tiny_lm
