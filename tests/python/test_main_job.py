"""The README's main job (examples/qlora_finetune.py), end to end on a very small model:
NF4 base, LoRA through the Trainer with paged_adamw_8bit, memory table, loss plot,
adapter reload with identical outputs, and a sample generation."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_qlora_example_runs_end_to_end(tmp_path):
    cmd = [
        sys.executable,
        os.path.join(ROOT, "examples", "qlora_finetune.py"),
        "--hidden", "64", "--layers", "2", "--pretrain-steps", "20", "--steps", "6",
        "--seq-len", "32", "--batch-size", "4", "--rank", "64", "--output", str(tmp_path),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "optim=paged_adamw_8bit" in out
    assert "linear weights (16-bit/4-bit)" in out and "optimizer state (32/8-bit)" in out
    assert "reloaded onto a fresh 4-bit base: outputs identical" in out
    assert "== sample:" in out
    with open(tmp_path / "loss_curve.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    # the memory table: 4-bit weights save about 70%; rank 64 makes every LoRA matrix big enough
    # (min_8bit_size 4096) for 8-bit states, which save about 75%
    saved = [float(line.split()[-1].rstrip("%")) for line in out.splitlines() if line.endswith("%")]
    assert len(saved) == 2 and saved[0] > 60 and saved[1] > 50, out
