"""QLoRA fine-tuning on the CPU: a frozen 4-bit (or 8-bit) base, LoRA adapters, paged 8-bit AdamW.

    python examples/qlora_finetune.py                 # the embedded default (README: time and memory)
    python examples/qlora_finetune.py --model DIR     # any local causal-LM folder instead

By default a small Llama is built from a config and briefly pre-trained on the
shipped corpus (so the base knows something), saved, then loaded back with
BitsAndBytesConfig(load_in_4bit=True) exactly as one would load a Hub model.
--model takes any local causal-LM folder: full precision (fp32/fp16/bf16, quantized
to NF4 on load) or already quantized with bitsandbytes (4-bit or 8-bit, loaded as
saved). The Transformers Trainer fine-tunes LoRA adapters with
optim="paged_adamw_8bit". The script prints a memory table, saves a loss-curve
plot, reloads the adapter onto a freshly loaded base (checking the outputs are
identical) and prints a sample.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_lm  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="local folder of a causal LM (default: build a small Llama from a config)")
    p.add_argument("--corpus", default=tiny_lm.CORPUS, help="text file, one paragraph per line")
    p.add_argument("--output", default="runs/qlora", help="where the base model, adapter and plot go")
    p.add_argument("--pretrain-steps", type=int, default=120, help="pre-training steps of the default base model")
    p.add_argument("--hidden", type=int, default=256, help="hidden size of the default base model")
    p.add_argument("--layers", type=int, default=4, help="layers of the default base model")
    p.add_argument("--steps", type=int, default=60, help="fine-tuning steps")
    p.add_argument("--seq-len", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--prompt", default="The red fox")
    p.add_argument("--sample-tokens", type=int, default=30, help="tokens of the sample printed at the end")
    return p.parse_args()


def inspect_folder(path: str) -> dict:
    """What a model folder holds (read from its config.json, nothing loaded); exits with a
    message naming the path when it is missing or not a causal-LM folder."""
    if not os.path.isdir(path):
        sys.exit(f"error: --model {path}: no such folder")
    config_file = os.path.join(path, "config.json")
    if not os.path.isfile(config_file):
        sys.exit(f"error: --model {path}: not a model folder (it has no config.json)")
    with open(config_file, encoding="utf-8") as f:
        config = json.load(f)
    architecture = (config.get("architectures") or [config.get("model_type", "unknown")])[0]
    if not architecture.endswith("ForCausalLM"):
        sys.exit(f"error: --model {path}: {architecture} is not a causal LM (need a *ForCausalLM model)")
    files = os.listdir(path)
    if not any(f.endswith((".safetensors", ".bin")) for f in files):
        sys.exit(f"error: --model {path}: no weights (*.safetensors or pytorch_model*.bin) in the folder")
    if not {"tokenizer.json", "tokenizer_config.json", "tokenizer.model"} & set(files):
        sys.exit(f"error: --model {path}: no tokenizer (tokenizer.json or tokenizer_config.json) in the folder")
    quant = config.get("quantization_config") or {}
    if quant and quant.get("quant_method") != "bitsandbytes":
        sys.exit(f"error: --model {path}: quantized with {quant.get('quant_method')}, not bitsandbytes")
    found = {"path": path, "architecture": architecture, "dtype": config.get("dtype") or config.get("torch_dtype")}
    if quant.get("load_in_4bit"):
        found["bits"] = 4
        saved_compute = quant.get("bnb_4bit_compute_dtype") or "float32"
        found["what"] = (
            f"pre-quantized 4-bit {quant.get('bnb_4bit_quant_type', 'fp4').upper()}"
            f"{' (double quantization)' if quant.get('bnb_4bit_use_double_quant') else ''}, loaded as saved"
            f"{'' if saved_compute == 'float32' else f' (computing in float32, not its saved {saved_compute})'}"
        )
    elif quant.get("load_in_8bit"):
        found["bits"] = 8
        found["what"] = "pre-quantized 8-bit LLM.int8(), loaded as saved"
    else:
        found["bits"] = 0
        found["what"] = (
            f"{found['dtype'] or 'full precision'} weights, quantized to 4-bit NF4 (double quantization) on load"
        )
    return found


def default_base(args, texts) -> str:
    """The folder of the default full-precision base model (built and saved on first use)."""
    path = os.path.join(args.output, "base")
    if not os.path.exists(os.path.join(path, "config.json")):
        print(f"== building a small Llama and pre-training it for {args.pretrain_steps} steps", flush=True)
        tokenizer = tiny_lm.build_tokenizer(texts)
        model = tiny_lm.build_model(tokenizer, hidden=args.hidden, layers=args.layers)
        tiny_lm.pretrain(model, tokenizer, texts, steps=args.pretrain_steps, log_every=max(1, args.pretrain_steps // 6))
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def load_base(found: dict):
    """The frozen quantized base, prepared for LoRA: loaded the same way for training and for
    the reload check, so both compute identically."""
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    import bitsandbytes as bnb

    if found["bits"]:  # the folder's own quantization_config applies (passing another would be ignored)
        model = AutoModelForCausalLM.from_pretrained(found["path"], dtype=torch.float32)
    else:
        config = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        )
        model = AutoModelForCausalLM.from_pretrained(found["path"], quantization_config=config, dtype=torch.float32)
    # The CPU computes in fp32: a pre-quantized folder keeps the compute dtype it was saved with
    # (often bf16) and its 16-bit norms and embeddings; prepare_model_for_kbit_training casts the
    # latter to fp32 (and freezes the base), so apply both to the trained and the reloaded base alike.
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.compute_dtype = torch.float32
    # Activation checkpointing is the Trainer's (activation_checkpointing=True), not enabled here twice.
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def dataset(tokenizer, texts, seq_len):
    from datasets import Dataset

    ids = tokenizer("\n".join(texts)).input_ids
    chunks = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len, seq_len)]
    return Dataset.from_dict({"input_ids": chunks, "labels": chunks})


def weight_bytes(model):
    """(bits of the quantized weights, bytes as 16-bit, bytes as stored) of the quantized linear
    layers; stored = their checkpoint tensors (packed weight, scales, quant state), bias aside."""
    import bitsandbytes as bnb

    bits = full = stored = 0
    for module in model.modules():
        if isinstance(module, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)):
            bits = 4 if isinstance(module, bnb.nn.Linear4bit) else 8
            full += module.in_features * module.out_features * 2
            stored += sum(t.numel() * t.element_size() for k, t in module.state_dict().items() if k != "bias")
    return bits, full, stored


def optimizer_bytes(optimizer):
    """(bytes of 32-bit Adam states for the same parameters, bytes of this optimizer's states)."""
    params = sum(p.numel() for group in optimizer.param_groups for p in group["params"] if p.requires_grad)
    ours = 0
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.numel() > 1:
                ours += v.numel() * v.element_size()
    return params * 8, ours


def paged_note() -> str:
    """Where the paged optimizer's states live, in words."""
    from bitsandbytes.functional import GlobalPageManager

    paged = sum(t.numel() * t.element_size() for t in GlobalPageManager.get_instance().paged_tensors)
    if paged:
        return f"{paged / 2**20:.2f}MiB in CUDA unified memory"
    return "none: paging is CUDA unified memory; on the CPU the states are plain tensors"


def print_memory_table(model, optimizer) -> None:
    bits, full_w, stored_w = weight_bytes(model)
    adam32, adam8 = optimizer_bytes(optimizer)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n== memory")
    print(f"{'':29s} {'16/32-bit':>11s} {'bitsandbytes':>13s} {'saved':>7s}")
    for label, before, after in (
        (f"linear weights (16-bit/{bits}-bit)", full_w, stored_w),
        ("optimizer state (32/8-bit)", adam32, adam8),
    ):
        print(f"{label:29s} {before / 2**20:9.2f}MiB {after / 2**20:10.2f}MiB {100 * (1 - after / before):6.1f}%")
    print(f"{'peak RSS of this process':29s} {'':>11s} {peak_rss:10.0f}MiB")
    print(f"{'paged optimizer states':29s} {paged_note()}")


def save_plot(history, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s for s, _ in history], [v for _, v in history], marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("QLoRA (quantized base, LoRA, paged_adamw_8bit)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curve saved to {path}")


def main() -> None:
    args = parse_args()
    # Two warnings no user of this script can act on: PEFT 0.21 reads model.is_gradient_checkpointing,
    # which Transformers 5 deprecates (a FutureWarning on every get_peft_model / from_pretrained); and
    # an 8-bit base gets fp32 activations (PEFT keeps norms in fp32), which LLM.int8() quantizes
    # through fp16 by design.
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message="MatMul8bitLt: inputs will be cast from torch.float32 to float16")
    found = inspect_folder(args.model) if args.model else None
    os.makedirs(args.output, exist_ok=True)
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    texts = tiny_lm.read_corpus(args.corpus)
    found = found or inspect_folder(default_base(args, texts))
    print(f"== {found['path']}: {found['architecture']}, {found['what']}", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(found["path"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    lora = LoraConfig(
        r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    base = load_base(found)
    torch.manual_seed(0)  # after any pre-training: the same adapter init and loss curve whether the base was reused
    model = get_peft_model(base, lora)
    model.print_trainable_parameters()

    train_args = TrainingArguments(
        output_dir=os.path.join(args.output, "trainer"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, args.steps // 10),
        optim="paged_adamw_8bit",
        logging_steps=max(1, args.steps // 20),
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        activation_checkpointing=True,
        activation_checkpointing_kwargs={"use_reentrant": False},
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = Trainer(
        model=model,
        args=train_args,
        train_dataset=dataset(tokenizer, texts, args.seq_len),
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
    )
    print(f"== fine-tuning LoRA adapters for {args.steps} steps with optim=paged_adamw_8bit", flush=True)
    start = time.time()
    trainer.train()
    elapsed = time.time() - start
    history = [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]

    print_memory_table(model, trainer.optimizer)
    print(f"\n== loss: {history[0][1]:.3f} -> {history[-1][1]:.3f} in {elapsed:.0f}s ({args.steps} steps)")
    save_plot(history, os.path.join(args.output, "loss_curve.png"))

    adapter = os.path.join(args.output, "adapter")
    model.save_pretrained(adapter)
    model.eval()
    probe = tokenizer(args.prompt, return_tensors="pt")
    with torch.no_grad():
        trained_logits = model(**probe).logits
    reloaded = PeftModel.from_pretrained(load_base(found), adapter)
    reloaded.eval()
    with torch.no_grad():
        reloaded_logits = reloaded(**probe).logits
    same = torch.equal(trained_logits, reloaded_logits)
    base_kind = f"{found['bits'] or 4}-bit"
    print(
        f"adapter saved to {adapter}; reloaded onto a fresh {base_kind} base: outputs {'identical' if same else 'DIFFER'}"
    )

    with torch.no_grad():
        out = reloaded.generate(
            **probe, max_new_tokens=args.sample_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    print(f"\n== sample: {tokenizer.decode(out[0], skip_special_tokens=True)!r}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
