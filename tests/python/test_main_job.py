"""The README's main job (examples/qlora_finetune.py), end to end on very small models:
the default run (a Llama built from a config, pre-trained, saved in fp32, quantized to NF4
on load) and --model with every other kind of local folder (fp16 and bf16 weights; folders
pre-quantized in 4-bit and 8-bit, saved as docs/quickstart.md shows). Each run must train
LoRA through the Trainer with paged_adamw_8bit, print the memory table and the loss plot,
reload the adapter onto a fresh base with identical outputs, and print no warning. A
missing or non-model folder must get an error naming the path."""

import json
import os
import re
import subprocess
import sys

import pytest
import torch

import tiny_models

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "qlora_finetune.py")
# A few steps on the tiny model: what is checked is the pipeline, not the loss.
SMALL_RUN = ["--steps", "3", "--seq-len", "32", "--batch-size", "4", "--sample-tokens", "8"]
# Rank 64 makes every LoRA matrix big enough (min_8bit_size 4096) for 8-bit optimizer states.
RANK = ["--rank", "64"]


def run_job(tmp_path, *args):
    cmd = [sys.executable, SCRIPT, *args, "--output", str(tmp_path / "out")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def check_run(r, out_dir, bits):
    out = r.stdout
    assert "optim=paged_adamw_8bit" in out
    assert f"linear weights (16-bit/{bits}-bit)" in out and "optimizer state (32/8-bit)" in out
    # on the CPU the paged optimizer says so in the table, not in a warning
    assert "paged optimizer states        none: paging is CUDA unified memory" in out, out
    assert f"reloaded onto a fresh {bits}-bit base: outputs identical" in out
    assert "== sample:" in out
    with open(out_dir / "loss_curve.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert (out_dir / "adapter" / "adapter_model.safetensors").exists()
    # nothing a user cannot act on: no warning of any kind on stderr (progress bars only)
    assert "Warning" not in r.stderr and "warn(" not in r.stderr, r.stderr[-3000:]
    # the memory table: 4-bit weights save about 70% (8-bit about 47% at this size: the fp32 row
    # scales weigh on 64-wide rows), 8-bit optimizer states about 65-75%
    saved = [float(line.split()[-1].rstrip("%")) for line in out.splitlines() if line.endswith("%")]
    assert len(saved) == 2 and saved[0] > (60 if bits == 4 else 40) and saved[1] > 50, out


@pytest.mark.slow
def test_default_run_pretrains_quantizes_and_reloads_identically(tmp_path):
    r = run_job(tmp_path, "--hidden", "64", "--layers", "2", "--pretrain-steps", "12", *SMALL_RUN, *RANK)
    check_run(r, tmp_path / "out", bits=4)
    assert "pre-training step 12/12" in r.stdout  # progress while pre-training
    assert "LlamaForCausalLM, float32 weights, quantized to 4-bit NF4 (double quantization) on load" in r.stdout


@pytest.fixture(scope="session")
def model_folders(tmp_path_factory):
    """Tiny Llama folders with a tokenizer: fp16 and bf16 weights, and pre-quantized NF4
    (double quantization, bf16 compute dtype) and 8-bit folders as save_pretrained writes them."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    root = tmp_path_factory.mktemp("main_job_models")
    tok = tiny_models.tokenizer()
    fp32 = tiny_models.save_tiny_llama_for(tok, str(root / "fp32"))
    nf4 = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    loads = {
        "fp16": dict(dtype=torch.float16),
        "bf16": dict(dtype=torch.bfloat16),
        "nf4": dict(dtype=torch.bfloat16, quantization_config=nf4),
        "int8": dict(quantization_config=BitsAndBytesConfig(load_in_8bit=True)),
    }
    folders = {}
    for kind, kwargs in loads.items():
        folders[kind] = str(root / kind)
        AutoModelForCausalLM.from_pretrained(fp32, **kwargs).save_pretrained(folders[kind])
        tok.save_pretrained(folders[kind])
    return folders


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, bits, found",
    [
        ("fp16", 4, "float16 weights, quantized to 4-bit NF4 (double quantization) on load"),
        ("bf16", 4, "bfloat16 weights, quantized to 4-bit NF4 (double quantization) on load"),
        (
            "nf4",
            4,
            "pre-quantized 4-bit NF4 (double quantization), loaded as saved (computing in float32, not its saved bfloat16)",
        ),
        ("int8", 8, "pre-quantized 8-bit LLM.int8(), loaded as saved"),
    ],
)
def test_any_local_folder_trains_and_reloads_identically(model_folders, tmp_path, kind, bits, found):
    r = run_job(tmp_path, "--model", model_folders[kind], *SMALL_RUN, *RANK)
    assert f"== {model_folders[kind]}: LlamaForCausalLM, {found}\n" in r.stdout  # one line says what it found
    check_run(r, tmp_path / "out", bits)


def test_missing_folder_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-model")
    r = subprocess.run([sys.executable, SCRIPT, "--model", missing], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert r.stderr.strip() == f"error: --model {missing}: no such folder", r.stderr


def _inspect(path):
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import qlora_finetune
    finally:
        sys.path.remove(os.path.dirname(SCRIPT))
    return qlora_finetune.inspect_folder(str(path))


@pytest.mark.parametrize(
    "files, problem",
    [
        ({"notes.txt": "hello"}, "not a model folder (it has no config.json)"),
        ({"config.json": {"architectures": ["LlamaForCausalLM"]}}, "no weights"),
        ({"config.json": {"architectures": ["LlamaForCausalLM"]}, "model.safetensors": ""}, "no tokenizer"),
        (
            {"config.json": {"architectures": ["BertModel"]}, "model.safetensors": "", "tokenizer.json": ""},
            "BertModel is not a causal LM",
        ),
        (
            {
                "config.json": {"architectures": ["LlamaForCausalLM"], "quantization_config": {"quant_method": "gptq"}},
                "model.safetensors": "",
                "tokenizer.json": "",
            },
            "quantized with gptq, not bitsandbytes",
        ),
    ],
)
def test_non_model_folder_is_a_clear_error(tmp_path, files, problem):
    for name, content in files.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SystemExit, match=re.escape(f"--model {tmp_path}: {problem}")):
        _inspect(tmp_path)
