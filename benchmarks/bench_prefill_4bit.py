"""End-to-end prefill: one forward pass over a 128-token prompt of the Llama of
bench_decode_4bit.py (_common.build_llama: random weights, no hub), in bf16 and loaded with
BitsAndBytesConfig(load_in_4bit=True) (NF4, bf16 compute), in prompt tokens/s.
Every linear layer multiplies 128 rows, so this measures the batched 4-bit kernels;
BNB_BENCH_CPU picks the CPU class (see _common.py)."""

import tempfile

import torch

from _common import build_llama, gemm_4bit_path, load_llama_pair, parser, report, timeit


def main():
    args = parser(__doc__).parse_args()
    hidden, layers, tokens = (1024, 2, 128) if args.quick else (2048, 6, 128)
    ids = torch.randint(0, 8192, (1, tokens), generator=torch.Generator().manual_seed(0))
    rows = []
    with tempfile.TemporaryDirectory() as path:
        build_llama(path, hidden, layers)
        for name, model in load_llama_pair(path):

            def prefill(model=model):
                with torch.inference_mode():
                    model(ids, use_cache=False)

            t = timeit(prefill, min_time=1.0, warmup=2, max_iters=10)
            rows.append(
                {
                    "case": f"prefill {tokens} tokens {name} hidden {hidden} x{layers} layers",
                    "seconds": t,
                    "elems_per_s": tokens / t,
                    "unit": "tokens/s",
                    "path": gemm_4bit_path(tokens, hidden, module=True) if name.startswith("nf4") else "torch",
                }
            )
    report("prefill_4bit", rows, args)


if __name__ == "__main__":
    main()
