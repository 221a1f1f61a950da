"""End-to-end greedy decoding of a Llama built from a config (random weights, no hub),
in bf16 and loaded with BitsAndBytesConfig(load_in_4bit=True) (NF4, bf16 compute),
in tokens/s. Batch-1 decoding reads every weight once per token, so 4-bit should
be faster than bf16 where the kernel streams the packed weight. BNB_BENCH_CPU
picks the CPU class (see _common.py)."""

import tempfile

import torch

from _common import build_llama, gemm_4bit_path, load_llama_pair, parser, report, timeit


def main():
    args = parser(__doc__).parse_args()
    hidden, layers, new_tokens = (1024, 2, 8) if args.quick else (2048, 6, 24)
    ids = torch.randint(0, 8192, (1, 16), generator=torch.Generator().manual_seed(0))
    rows = []
    with tempfile.TemporaryDirectory() as path:
        build_llama(path, hidden, layers)
        for name, model in load_llama_pair(path):

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
                    "path": gemm_4bit_path(1, hidden, module=True) if name.startswith("nf4") else "torch",
                }
            )
    report("decode_4bit", rows, args)


if __name__ == "__main__":
    main()
