"""Linear4bit inference (NF4 blocksize 64, bf16 activations and compute) against a
plain bf16 nn.Linear, batch 1 to 512, for the shapes of a 7-8B Llama's projections,
in weights/s (one weight = one multiply-add per batch row). Copies of each layer are
rotated so the working set (over 512 MB) is far larger than the last-level cache;
batch-1 rows carry the read-bandwidth roofline (0.5 byte/weight plus the absmax; 2
for bf16). Every copy runs once before timing (the original repacks its weight on
the first forward on AVX512-BF16 CPUs). "one Linear4bit" and "its gemm_4bit op" time
one layer as a module and the op it runs on, so their difference is the layer's own
overhead. Each row names the
kernel path that ran; BNB_BENCH_CPU picks the CPU class (see _common.py)."""

import copy

import torch

import bitsandbytes as bnb

from _common import gemm_4bit_path, ours, parser, report, roofline_elems_per_s, timeit

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (14336, 4096)]  # (out, in) features
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def rotating(layers):
    """A call x -> the next layer's output (round robin)."""
    i = [0]

    def call(x):
        i[0] += 1
        return layers[i[0] % len(layers)](x)

    return call


def row(case, seconds, n, k, batch, bytes_per_weight, path):
    r = {"case": case, "seconds": seconds, "elems_per_s": n * k / seconds, "path": path}
    if batch == 1:  # bandwidth-bound: the roofline is reading the weight once
        r["roofline_elems_per_s"] = roofline_elems_per_s(bytes_per_weight, 0)
    return r


def main():
    args = parser(__doc__).parse_args()
    working_set = (64 if args.quick else 512) << 20
    shapes = SHAPES[:1] if args.quick else SHAPES
    batches = [1, 8, 64] if args.quick else BATCHES
    rows = []
    torch.manual_seed(0)
    for n, k in shapes:
        dense = torch.nn.Linear(k, n, bias=False, dtype=torch.bfloat16).eval()
        layer = bnb.nn.Linear4bit(
            k, n, bias=False, compute_dtype=torch.bfloat16, compress_statistics=False, quant_type="nf4"
        )
        layer.weight = bnb.nn.Params4bit(
            dense.weight.data.clone(), compress_statistics=False, quant_type="nf4", module=layer
        )
        layer = layer.to("cpu").eval()
        quant = [layer] + [copy.deepcopy(layer) for _ in range(max(1, working_set // (n * k // 2)))]
        denses = [dense] + [copy.deepcopy(dense) for _ in range(max(1, working_set // (n * k * 2)))]
        st = layer.weight.quant_state
        with torch.inference_mode():
            for q in quant:  # the original repacks on the first call
                q(torch.randn(1, k, dtype=torch.bfloat16))
            for batch in batches:
                x = torch.randn(batch, k, dtype=torch.bfloat16)
                path = gemm_4bit_path(batch, k, module=True)
                f = rotating(quant)
                t = timeit(lambda x=x, f=f: f(x))
                rows.append(row(f"nf4 Linear4bit {n}x{k} batch {batch}", t, n, k, batch, 0.5 + 4 / 64, path))
                f = rotating(denses)
                t = timeit(lambda x=x, f=f: f(x))
                rows.append(row(f"bf16 nn.Linear {n}x{k} batch {batch}", t, n, k, batch, 2, "torch"))
                if (n, k) == SHAPES[0] and batch in (1, 64) and ours():
                    # one layer (no rotation) as a module and as the bare op: the module's own overhead
                    t = timeit(lambda x=x: layer(x))
                    rows.append(row(f"one Linear4bit {n}x{k} batch {batch}", t, n, k, batch, 0.5 + 4 / 64, path))
                    q, op = layer.weight.data, torch.ops.bitsandbytes.gemm_4bit.default
                    t = timeit(lambda x=x, q=q: op(x, q, [n, k], st.absmax, st.blocksize, st.quant_type))
                    rows.append(row(f"its gemm_4bit op {n}x{k} batch {batch}", t, n, k, batch, 0.5 + 4 / 64, path))
        del quant, denses
    report("linear4bit", rows, args)


if __name__ == "__main__":
    main()
