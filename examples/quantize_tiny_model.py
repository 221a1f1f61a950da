"""Quantize every linear weight of a small causal LM (built from a config, no
download) to NF4 with double quantization, and report bytes saved and error.

    python examples/quantize_tiny_model.py [--hidden 512] [--layers 4]
"""

import argparse

import torch
from transformers import LlamaConfig, LlamaForCausalLM

import bitsandbytes.functional as F


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    args = p.parse_args()
    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 11 // 4,
        num_hidden_layers=args.layers,
        num_attention_heads=8,
        num_key_value_heads=8,
        vocab_size=4096,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    before = after = 0
    errors = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "lm_head" not in name:
            w = module.weight.data
            q, state = F.quantize_4bit(w, quant_type="nf4", compress_statistics=True)
            packed = state.as_dict(packed=True)
            before += w.numel() * w.element_size()
            after += q.numel() * q.element_size() + sum(t.numel() * t.element_size() for t in packed.values())
            errors.append(
                ((F.dequantize_4bit(q, state).float() - w.float()).abs().mean() / w.float().abs().mean()).item()
            )
    print(
        f"linear weights: {before / 2**20:.1f} MiB in bf16 -> {after / 2**20:.1f} MiB in NF4 "
        f"({before / after:.2f}x smaller, {100 * (1 - after / before):.0f}% saved)"
    )
    print(f"mean relative error of the dequantized weights: {sum(errors) / len(errors):.3f} over {len(errors)} layers")


if __name__ == "__main__":
    main()
