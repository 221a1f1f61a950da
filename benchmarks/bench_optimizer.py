"""Optimizer step throughput (parameters/s) of the 8-bit and 32-bit optimizers
against torch.optim.AdamW (foreach and fused), one parameter larger than L3.

The roofline counts the bytes a fused step must move: gradient and parameter in,
parameter out, and the states in and out (1 byte per element per 8-bit state,
4 per 32-bit state; the absmax is 1/64 byte per element)."""

import torch

import bitsandbytes as bnb

from _common import parser, report, roofline_elems_per_s, timeit


def _case(rows, name, make_opt, n, dtype, n_states, state_bytes):
    p = torch.nn.Parameter(torch.randn(n, dtype=dtype) * 0.1)
    p.grad = torch.randn(n, dtype=dtype) * 0.01
    opt = make_opt([p])
    opt.step()  # creates the states
    t = timeit(opt.step, min_time=1.0)
    es = p.element_size()
    absmax = 4 / 256 if state_bytes == 1 else 0
    per_state = state_bytes + absmax
    rows.append(
        {
            "case": f"{name} {str(dtype)[6:]}",
            "seconds": t,
            "elems_per_s": n / t,
            "roofline_elems_per_s": roofline_elems_per_s(2 * es + n_states * per_state, es + n_states * per_state),
        }
    )


def main():
    args = parser(__doc__).parse_args()
    n = (4 if args.quick else 32) * 1024 * 1024
    rows = []
    optim = bnb.optim
    for dtype in (torch.float32, torch.bfloat16):
        _case(rows, "AdamW8bit", lambda ps: optim.AdamW8bit(ps, lr=1e-3), n, dtype, 2, 1)
        _case(rows, "Lion8bit", lambda ps: optim.Lion8bit(ps, lr=1e-4), n, dtype, 1, 1)
    _case(rows, "AdamW 32-bit states", lambda ps: optim.AdamW(ps, lr=1e-3), n, torch.float32, 2, 4)
    _case(rows, "PagedAdamW8bit", lambda ps: optim.PagedAdamW8bit(ps, lr=1e-3), n, torch.float32, 2, 1)
    _case(
        rows,
        "torch.optim.AdamW foreach",
        lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
        n,
        torch.float32,
        2,
        4,
    )
    _case(
        rows, "torch.optim.AdamW fused", lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True), n, torch.float32, 2, 4
    )
    report("optimizer", rows, args)


if __name__ == "__main__":
    main()
