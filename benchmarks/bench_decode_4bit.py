"""End-to-end greedy decoding of a Llama built from a config (random weights, no hub),
in bf16 and loaded with BitsAndBytesConfig(load_in_4bit=True) (NF4, bf16 compute),
in tokens/s. Batch-1 decoding reads every weight once per token, so 4-bit should
be faster than bf16 where the kernel streams the packed weight."""

import tempfile

import torch

from _common import parser, report, timeit


def build(path, hidden, layers):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=8192,
        hidden_size=hidden,
        intermediate_size=hidden * 11 // 4,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 128,
        num_key_value_heads=hidden // 128,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(path)


def main():
    args = parser(__doc__).parse_args()
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    hidden, layers, new_tokens = (1024, 2, 8) if args.quick else (2048, 6, 24)
    ids = torch.randint(0, 8192, (1, 16), generator=torch.Generator().manual_seed(0))
    rows = []
    with tempfile.TemporaryDirectory() as path:
        build(path, hidden, layers)
        bf16 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
        nf4 = AutoModelForCausalLM.from_pretrained(path, quantization_config=config, dtype=torch.bfloat16).eval()
        for name, model in (("nf4 (load_in_4bit)", nf4), ("bf16", bf16)):

            def decode(model=model):
                with torch.inference_mode():
                    model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)

            t = timeit(decode, min_time=1.0, warmup=1, max_iters=5)
            rows.append(
                {
                    "case": f"decode {name} hidden {hidden} x{layers} layers",
                    "seconds": t / new_tokens,
                    "elems_per_s": new_tokens / t,
                    "unit": "tokens/s",
                }
            )
    report("decode_4bit", rows, args)


if __name__ == "__main__":
    main()
