"""QLoRA fine-tuning on the CPU: a frozen NF4 base, LoRA adapters, paged 8-bit AdamW.

    python examples/qlora_finetune.py                   # the embedded default (a few minutes on 2 cores)
    python examples/qlora_finetune.py --model DIR       # any local causal-LM folder instead

By default a small Llama is built from a config and briefly pre-trained on the
shipped corpus (so the base knows something), saved, then loaded back with
BitsAndBytesConfig(load_in_4bit=True) exactly as one would load a Hub model. The
Transformers Trainer fine-tunes LoRA adapters with optim="paged_adamw_8bit". The
script prints a memory table, saves a loss-curve plot, reloads the adapter onto a
freshly quantized base (checking the outputs are identical) and prints a sample.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

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
    return p.parse_args()


def base_model_dir(args, texts):
    """The folder of the full-precision base model (built and saved on first use)."""
    if args.model:
        return args.model
    path = os.path.join(args.output, "base")
    if not os.path.exists(os.path.join(path, "config.json")):
        print(f"== building a small Llama and pre-training it for {args.pretrain_steps} steps")
        tokenizer = tiny_lm.build_tokenizer(texts)
        model = tiny_lm.build_model(tokenizer, hidden=args.hidden, layers=args.layers)
        losses = tiny_lm.pretrain(model, tokenizer, texts, steps=args.pretrain_steps)
        print(f"   pre-training loss {losses[0]:.2f} -> {losses[-1]:.2f}")
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def load_4bit(path):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=config, dtype=torch.float32)


def dataset(tokenizer, texts, seq_len):
    from datasets import Dataset

    ids = tokenizer("\n".join(texts)).input_ids
    chunks = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len, seq_len)]
    return Dataset.from_dict({"input_ids": chunks, "labels": chunks})


def weight_bytes(model):
    """(bytes as 16-bit, bytes as stored) of the quantized linear layers' weights."""
    import bitsandbytes as bnb

    full = stored = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            w = module.weight
            full += module.in_features * module.out_features * 2
            stored += w.numel() * w.element_size()
            for t in w.quant_state.as_dict(packed=True).values():
                stored += t.numel() * t.element_size()
    return full, stored


def optimizer_bytes(optimizer):
    """(bytes of 32-bit Adam states for the same parameters, bytes of this optimizer's states)."""
    params = sum(p.numel() for group in optimizer.param_groups for p in group["params"] if p.requires_grad)
    ours = 0
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.numel() > 1:
                ours += v.numel() * v.element_size()
    return params * 8, ours


def main() -> None:
    args = parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.manual_seed(0)
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    texts = tiny_lm.read_corpus(args.corpus)
    base = base_model_dir(args, texts)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    print("== loading the base model in 4-bit (NF4, double quantization)")
    model = load_4bit(base)
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
    )
    lora = LoraConfig(
        r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
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
    print(f"== fine-tuning LoRA adapters for {args.steps} steps with optim=paged_adamw_8bit")
    start = time.time()
    trainer.train()
    elapsed = time.time() - start
    history = [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]

    full_w, stored_w = weight_bytes(model)
    adam32, adam8 = optimizer_bytes(trainer.optimizer)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n== memory")
    print(f"{'':28s} {'16/32-bit':>12s} {'bitsandbytes':>13s} {'saved':>7s}")
    print(
        f"{'linear weights (16-bit/4-bit)':28s} {full_w / 2**20:10.2f}MiB {stored_w / 2**20:11.2f}MiB {100 * (1 - stored_w / full_w):6.1f}%"
    )
    print(
        f"{'optimizer state (32/8-bit)':28s} {adam32 / 2**20:10.2f}MiB {adam8 / 2**20:11.2f}MiB {100 * (1 - adam8 / adam32):6.1f}%"
    )
    print(f"{'peak RSS of this process':28s} {'':>12s} {peak_rss:10.0f}MiB")
    print(f"\n== loss: {history[0][1]:.3f} -> {history[-1][1]:.3f} in {elapsed:.0f}s ({args.steps} steps)")

    plot = os.path.join(args.output, "loss_curve.png")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s for s, _ in history], [v for _, v in history], marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("QLoRA (NF4 base, LoRA, paged_adamw_8bit)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    print(f"loss curve saved to {plot}")

    adapter = os.path.join(args.output, "adapter")
    model.save_pretrained(adapter)
    model.eval()
    probe = tokenizer(args.prompt, return_tensors="pt")
    with torch.no_grad():
        trained_logits = model(**probe).logits
    reloaded = PeftModel.from_pretrained(load_4bit(base), adapter)
    reloaded.eval()
    with torch.no_grad():
        reloaded_logits = reloaded(**probe).logits
    same = torch.equal(trained_logits, reloaded_logits)
    print(f"adapter saved to {adapter}; reloaded onto a fresh 4-bit base: outputs {'identical' if same else 'DIFFER'}")

    with torch.no_grad():
        out = reloaded.generate(**probe, max_new_tokens=30, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    print(f"\n== sample: {tokenizer.decode(out[0], skip_special_tokens=True)!r}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
