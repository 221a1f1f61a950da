"""Run benchmarks with this package and with the original bitsandbytes (installed
in a second environment, see tools/setup_reference_env.sh) and print the figures
side by side with the bandwidth roofline.

    python benchmarks/compare.py --reference-python .venv-reference/bin/python [bench_x.py ...]
    python benchmarks/compare.py --cpu-class avx2 bench_linear4bit.py   # an AVX2-only CPU, emulated

Each benchmark script measures whichever bitsandbytes its interpreter imports; a
copy of the script runs from a temporary directory so the reference run cannot
pick up this source tree.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(python: str, script: str, quick: bool) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(HERE, "_common.py"), tmp)
        shutil.copy(script, tmp)
        out = os.path.join(tmp, "result.json")
        cmd = [python, os.path.join(tmp, os.path.basename(script)), "--json", out] + (["--quick"] if quick else [])
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  {os.path.basename(script)} failed under {python}:\n{r.stderr[-2000:]}")
            return None
        with open(out) as f:
            return json.load(f)


def _unit(rows: list[dict]) -> tuple[str, float]:
    """A row may name its unit (e.g. tokens/s); the default is G elements/s."""
    unit = rows[0].get("unit") if rows else None
    return (unit, 1.0) if unit else ("G elem/s", 1e9)


def _fig(value: float) -> str:
    """Two decimals, or three significant digits below 1 (large batches in weights/s)."""
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"


def plot(name: str, rows: list[dict], ref_rows: dict, unit: str, scale: float, folder: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [r["case"] for r in rows]
    series = {
        "ours": [r["elems_per_s"] / scale for r in rows],
        "original": [ref_rows[c]["elems_per_s"] / scale if c in ref_rows else 0 for c in cases],
        "roofline": [r.get("roofline_elems_per_s", 0) / scale for r in rows],
    }
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(cases) + 1.2))
    height = 0.27
    for i, (label, values) in enumerate(series.items()):
        ax.barh([y + (i - 1) * height for y in range(len(cases))], values, height, label=label)
    ax.set_yticks(range(len(cases)), cases, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(folder, exist_ok=True)
    fig.savefig(os.path.join(folder, f"{name}.png"), dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scripts", nargs="*", help="benchmark scripts (default: all bench_*.py)")
    p.add_argument(
        "--reference-python", default=os.path.join(os.path.dirname(HERE), ".venv-reference", "bin", "python")
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--cpu-class",
        choices=["native", "avx2", "avx512"],
        default=os.environ.get("BNB_BENCH_CPU", "native"),
        help="the CPU class both runs measure (BNB_BENCH_CPU, see _common.py)",
    )
    p.add_argument("--markdown", help="append the tables to this markdown file")
    p.add_argument("--plots", help="save one bar chart (PNG) per benchmark in this folder")
    args = p.parse_args()
    os.environ["BNB_BENCH_CPU"] = args.cpu_class  # both runs inherit it
    scripts = args.scripts or sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    lines = []
    for script in scripts:
        ours = run(sys.executable, script, args.quick)
        theirs = run(args.reference_python, script, args.quick) if os.path.exists(args.reference_python) else None
        if ours is None:
            continue
        name = ours["meta"]["benchmark"]
        bw = ours["meta"]["bandwidth_gbs"]
        lines.append(f"\n### {name}\n")
        lines.append(
            f"{ours['meta']['threads']} threads, measured bandwidth read {bw['read']:.1f} / write {bw['write']:.1f} GB/s; "
            f"load {ours['meta'].get('load', float('nan')):.1f}; "
            f"original: {theirs['meta']['implementation'] if theirs else 'not installed'}; "
            f"{ours['meta'].get('cpu_class', '')}\n"
        )
        unit, scale = _unit(ours["rows"])
        lines.append(f"| case | ours ({unit}) | original ({unit}) | ours / original | roofline ({unit}) | path |")
        lines.append("|---|---:|---:|---:|---:|---|")
        ref_rows = {r["case"]: r for r in theirs["rows"]} if theirs else {}
        for r in ours["rows"]:
            t = ref_rows.get(r["case"])
            ref = _fig(t["elems_per_s"] / scale) if t else "n/a"
            ratio = f"{r['elems_per_s'] / t['elems_per_s']:.2f}x" if t else "n/a"
            roof = r.get("roofline_elems_per_s")
            roof = _fig(roof / scale) if roof else "n/a"
            path = " / ".join(p for p in (r.get("path"), t.get("path") if t else None) if p)
            lines.append(f"| {r['case']} | {_fig(r['elems_per_s'] / scale)} | {ref} | {ratio} | {roof} | {path} |")
        if args.plots:
            plot(name, ours["rows"], ref_rows, unit, scale, args.plots)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
