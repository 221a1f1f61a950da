"""One rank of a 2-process QLoRA run on the CPU (launched by test_accelerate_ddp.py
through torchrun): NF4 base, LoRA, bitsandbytes PagedAdamW8bit, Accelerate over gloo.
Each rank trains on its own batches; it saves its adapter weights and losses."""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(out_dir: str) -> None:
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    import bitsandbytes as bnb

    from conftest import FIXTURES

    accelerator = Accelerator(cpu=True)
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    model = AutoModelForCausalLM.from_pretrained(
        os.path.join(FIXTURES, "tiny_llama_fp32"), quantization_config=quant, dtype=torch.float32
    )
    torch.manual_seed(0)  # the same LoRA initialisation on every rank
    model = get_peft_model(model, LoraConfig(r=64, lora_alpha=64, target_modules="all-linear", lora_dropout=0.0))
    optimizer = bnb.optim.PagedAdamW8bit([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    model, optimizer = accelerator.prepare(model, optimizer)
    g = torch.Generator().manual_seed(100 + accelerator.process_index)  # different data on each rank
    losses = []
    model.train()
    for _ in range(4):
        ids = torch.randint(3, 256, (2, 16), generator=g)
        loss = model(input_ids=ids, labels=ids).loss
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    unwrapped = accelerator.unwrap_model(model)
    lora = {n: p.detach().contiguous() for n, p in unwrapped.named_parameters() if p.requires_grad}
    lora["losses"] = torch.tensor(losses)
    lora["world_size"] = torch.tensor(accelerator.num_processes)
    save_file(lora, os.path.join(out_dir, f"rank{accelerator.process_index}.safetensors"))
    # every rank done with its collectives before the group goes (as in fsdp_qlora_worker.py: a gloo
    # thread still talking to a rank that already left aborts the process)
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
