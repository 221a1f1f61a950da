"""Linear4bit inference (NF4, bf16 compute) against a plain bf16 nn.Linear, for batch
sizes 1 to 128, in weights/s (one weight = one multiply-add per batch row). The
weights are larger than the L3 cache (or several layers are rotated), so batch-1
figures are bound by the memory bandwidth: the roofline reads 0.5 byte/weight
plus the absmax."""

import torch

import bitsandbytes as bnb

from _common import parser, report, roofline_elems_per_s, timeit


def row(case, seconds, weights, bytes_per_weight, batch):
    r = {"case": case, "seconds": seconds, "elems_per_s": weights / seconds}
    if batch == 1:  # bandwidth-bound: the roofline is reading the weight once
        r["roofline_elems_per_s"] = roofline_elems_per_s(bytes_per_weight, 0)
    return r


def main():
    args = parser(__doc__).parse_args()
    shapes = [(4096, 4096)] if args.quick else [(4096, 4096), (11008, 4096)]
    batches = [1, 8, 32] if args.quick else [1, 4, 8, 16, 32, 128]
    rows = []
    torch.manual_seed(0)
    for n, k in shapes:
        copies = max(1, (96 << 20) // (n * k // 2))  # rotate enough 4-bit layers to exceed L3
        dense = [torch.nn.Linear(k, n, bias=False, dtype=torch.bfloat16) for _ in range(min(copies, 3))]
        quant = []
        for i in range(copies):
            layer = bnb.nn.Linear4bit(k, n, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
            layer.weight = bnb.nn.Params4bit(dense[i % len(dense)].weight.data.clone(), quant_type="nf4", module=layer)
            quant.append(layer.to("cpu").eval())
        for batch in batches:
            x = torch.randn(batch, k, dtype=torch.bfloat16)
            counter = iter(range(1 << 62))
            with torch.inference_mode():
                t = timeit(lambda: quant[next(counter) % copies](x))
                rows.append(row(f"nf4 Linear4bit {n}x{k} batch {batch}", t, n * k, 0.5 + 4 / 64, batch))
                counter = iter(range(1 << 62))
                t = timeit(lambda: dense[next(counter) % len(dense)](x))
                rows.append(row(f"bf16 nn.Linear {n}x{k} batch {batch}", t, n * k, 2, batch))
    report("linear4bit", rows, args)


if __name__ == "__main__":
    main()
