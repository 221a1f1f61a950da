"""One rank of the FSDP2 runs of test_fsdp.py (torchrun, gloo, on the CPU).

``train``: QLoRA on the tiny Llama (NF4 base with quant_storage=bf16, LoRA through PEFT,
activation checkpointing) sharded with ``fully_shard`` through Accelerate's FSDP plugin
(fsdp_version 2), LoRA A trained with AdamW8bit and LoRA B with PagedAdamW8bit. It runs
STEPS steps, saving model (trainable part) and optimizers with torch.distributed.checkpoint
after SAVE_AT; rank 0 first runs the same steps in one process without FSDP (the
reference). Then the 8-bit (Linear8bitLt) base through the same plugin, and the bad-input
cases. ``resume``: loads that checkpoint on this number of ranks and runs the rest.

Every step trains on the same global batch of ROWS sequences whatever the number of ranks
(rank r takes its slice), so the loss of a step (the mean over ranks) is comparable.
Each rank writes ``rank<r>.json`` into the output folder.
"""

import json
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STEPS = 6
SAVE_AT = 3
ROWS = 4
SEQ = 16
LR = 5e-3
LAYER = "LlamaDecoderLayer"


def global_batch(step: int) -> torch.Tensor:
    return torch.randint(3, 256, (ROWS, SEQ), generator=torch.Generator().manual_seed(1000 + step))


def rank_and_world() -> tuple[int, int]:
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def build(bits: int, storage: torch.dtype = torch.bfloat16):
    """The tiny Llama with a 4-bit (NF4, ``storage``) or 8-bit base and LoRA on every linear layer."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from conftest import FIXTURES

    if bits == 4:
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
            bnb_4bit_quant_storage=storage,
        )
    else:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    model = AutoModelForCausalLM.from_pretrained(
        os.path.join(FIXTURES, "tiny_llama_fp32"), quantization_config=quant, dtype=torch.float32
    )
    torch.manual_seed(0)  # the same LoRA initialisation in every process
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0))
    model.train()
    return model


def optimizers(model) -> list:
    import bitsandbytes as bnb

    a = [p for n, p in model.named_parameters() if p.requires_grad and "lora_A" in n]
    b = [p for n, p in model.named_parameters() if p.requires_grad and "lora_B" in n]
    # min_8bit_size=256: every LoRA matrix (256 elements or more) gets 8-bit states
    return [bnb.optim.AdamW8bit(a, lr=LR, min_8bit_size=256), bnb.optim.PagedAdamW8bit(b, lr=LR, min_8bit_size=256)]


def step(model, opts, s: int, backward=None, alone: bool = False) -> float:
    """One training step on this rank's slice of the global batch (all of it when ``alone``);
    returns the mean loss over the ranks."""
    rank, world = (0, 1) if alone else rank_and_world()
    rows = ROWS // world
    ids = global_batch(s)[rank * rows : (rank + 1) * rows]
    loss = model(input_ids=ids, labels=ids).loss
    (backward or torch.Tensor.backward)(loss)
    for opt in opts:
        opt.step()
        opt.zero_grad()
    mean = loss.detach().clone()
    if world > 1:
        dist.all_reduce(mean)
        mean /= world
    return mean.item()


def reference(bits: int, steps: int) -> list[float]:
    """The same training in this process alone, without FSDP (gradient checkpointing as HF does it)."""
    model = build(bits)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    opts = optimizers(model)
    return [step(model, opts, s, alone=True) for s in range(steps)]


def accelerator():
    """Accelerate with its FSDP plugin at fsdp_version 2. Accelerate 1.15 turns the plugin on only
    for accelerator devices: on the CPU it silently stays MULTI_CPU (DDP), so the FSDP type is set
    here by hand; the rest (wrapping, Params4bit handling, optimizer remapping) is Accelerate's."""
    from accelerate import Accelerator, FullyShardedDataParallelPlugin
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    plugin = FullyShardedDataParallelPlugin(
        fsdp_version=2,
        auto_wrap_policy="transformer_based_wrap",
        transformer_cls_names_to_wrap=[LAYER],
        activation_checkpointing=True,
    )
    acc = Accelerator(cpu=True, fsdp_plugin=plugin)
    on_cpu = str(acc.distributed_type)
    # AcceleratorState() copies PartialState's shared state again whenever it is built
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    acc.state.distributed_type = DistributedType.FSDP
    acc.state.fsdp_plugin = plugin
    return acc, plugin, on_cpu


def prepare(acc, model):
    model, *opts = acc.prepare(model, *optimizers(model))
    return model, opts, [o.optimizer for o in opts]


def checkpoint_state(model, opts):
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    options = StateDictOptions(ignore_frozen_params=True)  # the 4-bit base reloads from its checkpoint
    msd, osd = get_state_dict(model, opts, options=options)
    return {"model": msd, "optim": osd}


def shard_report(model, opts) -> list[dict]:
    """Per LoRA matrix: the global and local sizes and the sizes of this rank's optimizer states."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = []
    for opt in opts:
        for p in opt.param_groups[0]["params"]:
            st = opt.state[p]
            out.append(
                {
                    "name": names[id(p)],
                    "global": p.numel(),
                    "local": p.to_local().numel(),
                    "state1": st["state1"].numel(),
                    "state1_dtype": str(st["state1"].dtype),
                    "absmax1": st["absmax1"].numel(),
                    "is_dtensor": type(p).__name__ == "DTensor",
                }
            )
    return out


def train(out_dir: str) -> dict:
    import torch.distributed.checkpoint as dcp

    rank, world = rank_and_world()
    result = {"reference": reference(4, STEPS) if rank == 0 else None}
    acc, plugin, result["accelerate_type_on_cpu"] = accelerator()
    model, opts, inner = prepare(acc, build(4))
    q_proj = model.get_submodule("base_model.model.model.layers.0._checkpoint_wrapped_module.self_attn.q_proj")
    result["base_weight_type"] = type(q_proj.base_layer.weight).__name__
    losses = []
    for s in range(STEPS):
        losses.append(step(model, opts, s, acc.backward))
        if s == 0:
            result["shards"] = shard_report(model, inner)
        if s + 1 == SAVE_AT:
            dcp.save(checkpoint_state(model, inner), checkpoint_id=os.path.join(out_dir, "ckpt"))
    result["losses"] = losses
    result["accelerate_mp_fp32_storage_error"] = mixed_precision_case(acc, plugin)
    result.update(int8_cases(acc, plugin))
    result.update(bad_input_cases())
    return result


def resume(ckpt: str) -> dict:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    acc, _, _ = accelerator()
    model, opts, inner = prepare(acc, build(4))
    state = checkpoint_state(model, inner)
    dcp.load(state, checkpoint_id=ckpt)
    options = StateDictOptions(ignore_frozen_params=True, strict=False)  # the frozen base is not in it
    keys = set_state_dict(
        model, inner, model_state_dict=state["model"], optim_state_dict=state["optim"], options=options
    )
    assert not keys.unexpected_keys and not any("lora" in k for k in keys.missing_keys), keys
    return {"losses": [step(model, opts, s, acc.backward) for s in range(SAVE_AT, STEPS)]}


def _error_of(fn) -> str | None:
    try:
        fn()
    except Exception as err:  # the message is what the test checks
        return f"{type(err).__name__}: {err}"
    return None


def mixed_precision_case(acc, plugin) -> str | None:
    """Accelerate's bf16 mixed precision with a 4-bit base stored as fp32: Accelerate skips its fp32
    upcast when a Params4bit is present, but still hands fully_shard a bf16 MixedPrecisionPolicy."""
    plugin.set_mixed_precision("bf16", override=True)
    model, opts, _ = prepare(acc, build(4, torch.float32))
    plugin.mixed_precision_policy = None
    return _error_of(lambda: step(model, opts, 0, acc.backward))


def int8_cases(acc, plugin) -> dict:
    """The 8-bit base through the same plugin: sharded (a clear error at the first forward), then
    with the Linear8bitLt layers kept out of sharding (ignored_modules) against the reference."""
    steps = 3
    rank, _ = rank_and_world()
    out = {"int8_reference": reference(8, steps) if rank == 0 else None}
    model, opts, _ = prepare(acc, build(8))
    out["int8_sharded_error"] = _error_of(lambda: step(model, opts, 0, acc.backward))
    plugin.ignored_modules = r".*\.base_layer"  # every LoRA-wrapped Linear8bitLt
    model, opts, _ = prepare(acc, build(8))
    out["int8_losses"] = [step(model, opts, s, acc.backward) for s in range(steps)]
    plugin.ignored_modules = None
    return out


def bad_input_cases() -> dict:
    """fully_shard on small Linear4bit stacks: packed weights cast by a MixedPrecisionPolicy, and
    mixed quant_storage across layers (which FSDP2 all-gathers as bytes)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    import bitsandbytes as bnb

    def stack(storages, mp=None):
        torch.manual_seed(0)
        layers = [
            bnb.nn.Linear4bit(64, 64, bias=False, compute_dtype=torch.float32, quant_type="nf4", quant_storage=s)
            for s in storages
        ]
        model = torch.nn.Sequential(*layers).to("cpu")
        x = torch.randn(3, 64)
        before = model(x)
        for layer in model:
            fully_shard(layer, **({} if mp is None else {"mp_policy": mp}))
        fully_shard(model, **({} if mp is None else {"mp_policy": mp}))
        return model, x, before

    def cast(storage):
        model, x, _ = stack([storage], MixedPrecisionPolicy(param_dtype=torch.bfloat16))
        model(x)

    def lamb_step():
        layer = torch.nn.Linear(64, 64)
        fully_shard(layer)
        opt = bnb.optim.LAMB8bit(layer.parameters(), min_8bit_size=256)
        layer(torch.randn(3, 64)).sum().backward()
        opt.step()

    model, x, before = stack([torch.bfloat16, torch.float32, torch.uint8, torch.float16])
    return {
        "lamb_sharded_error": _error_of(lamb_step),
        "mp_cast_fp32_error": _error_of(lambda: cast(torch.float32)),
        "mp_cast_fp16_error": _error_of(lambda: cast(torch.float16)),
        "mixed_storage_max_diff": (model(x) - before).abs().max().item(),
    }


def main(mode: str, out_dir: str, ckpt: str | None = None) -> None:
    dist.init_process_group("gloo")
    try:
        result = train(out_dir) if mode == "train" else resume(ckpt)
        rank, world = rank_and_world()
        result["world_size"] = world
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(result, f, indent=1)
        # every rank done with its collectives before any tears the group down: a gloo worker thread
        # still talking to a rank that already left aborts the process ("terminate called without an
        # active exception")
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
