"""Accelerate, unchanged: a QLoRA run with 2 processes on the CPU (gloo, torchrun)
trains and ends with the same adapter on every rank."""

import os
import socket
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_qlora_gives_the_same_adapter_on_every_rank(tmp_path):
    from safetensors.torch import load_file

    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        os.path.join(HERE, "ddp_qlora_worker.py"), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ranks = [load_file(os.path.join(tmp_path, f"rank{i}.safetensors")) for i in range(2)]
    assert all(int(rank.pop("world_size")) == 2 for rank in ranks)
    losses = [rank.pop("losses") for rank in ranks]
    assert not torch.equal(losses[0], losses[1])  # each rank saw its own data
    assert ranks[0].keys() == ranks[1].keys() and len(ranks[0]) == 28
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    assert any(rank0.abs().sum() > 0 for n, rank0 in ranks[0].items() if "lora_B" in n)  # B starts at 0
