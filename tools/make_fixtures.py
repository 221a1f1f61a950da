"""Produce golden fixtures from the ORIGINAL bitsandbytes (run inside the reference
environment made by tools/setup_reference_env.sh):

    .venv-reference/bin/python tools/make_fixtures.py [--only NAME ...]

Each fixture is a safetensors file under tests/fixtures/ holding the inputs it
was made from and the original's outputs, so the tests need only this package.
The script uses the original's public API alone.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable

import torch
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
BLOCKSIZES_4BIT = [32, 64, 128, 256, 512, 1024, 2048, 4096]
MAKERS: dict[str, Callable[[], None]] = {}


def maker(fn):
    MAKERS[fn.__name__] = fn
    return fn


def save(name: str, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, f"{name}.safetensors")
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, path, metadata={"bitsandbytes": _bnb_version(), **({"meta": json.dumps(meta)} if meta else {})})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def _bnb_version() -> str:
    import bitsandbytes

    return bitsandbytes.__version__


def special_values(n: int = 192) -> torch.Tensor:
    """Blocks of zeros, NaN, +-Inf, denormals and tiny values (64-element blocks)."""
    x = torch.randn(n)
    x[0:64] = 0.0
    x[70] = float("nan")
    x[130] = float("inf")
    x[131] = -float("inf")
    x[140:150] = 1e-40
    x[150:160] = -3e-39
    return x


def adversarial_4bit(code: torch.Tensor, scale: float = 2.7182817) -> torch.Tensor:
    """Values next to the midpoints between codes (after scaling by the block absmax)."""
    s = code.sort().values
    mids = (s[1:] + s[:-1]) / 2
    vals = [torch.tensor([scale], dtype=torch.float32)]
    for m in mids:
        v = torch.tensor(m.item() * scale, dtype=torch.float32)
        for _ in range(3):
            v = torch.nextafter(v, torch.tensor(-10.0))
        for _ in range(7):
            vals.append(v.reshape(1))
            v = torch.nextafter(v, torch.tensor(10.0))
    return torch.cat(vals)


def adversarial_8bit(count: int = 6000, scale: float = 1.7) -> torch.Tensor:
    """Values next to the 16-bit grid boundaries the CPU path rounds at."""
    k = torch.randint(0, 65535, (count // 3,)).double()
    b = ((k + 0.5) / 32767.5 - 1.0) * scale
    b32 = b.float()
    up = torch.nextafter(b32, torch.full_like(b32, 10.0))
    down = torch.nextafter(b32, torch.full_like(b32, -10.0))
    return torch.cat([torch.tensor([scale]), b32, up, down])


@maker
def code_maps() -> None:
    import bitsandbytes.functional as F

    t = {
        "dynamic_signed": F.create_dynamic_map(True),
        "dynamic_unsigned": F.create_dynamic_map(False),
        "dynamic_signed_meb5": F.create_dynamic_map(True, 5, 8),
        "dynamic_unsigned_meb5_bits6": F.create_dynamic_map(False, 5, 6),
        "dynamic_signed_meb4_bits6": F.create_dynamic_map(True, 4, 6),
        "linear_signed": F.create_linear_map(True),
        "linear_unsigned": F.create_linear_map(False),
        "linear_signed_4bit": F.create_linear_map(True, 4),
        "linear_signed_nozero": F.create_linear_map(True, 8, False),
        "normal_default": F.create_normal_map(),
        "normal_no_extra": F.create_normal_map(use_extra_value=False),
        "fp8_e5m2": F.create_fp8_map(True, 5, 2, 8),
        "fp8_e4m3": F.create_fp8_map(True, 4, 3, 8),
        "fp8_unsigned_e4m4": F.create_fp8_map(False, 4, 4, 8),
        "fp4_e2m1": F.create_fp8_map(True, 2, 1, 4),
    }
    for name in ("nf4", "fp4", "af4"):
        t[f"4bit_{name}"] = F.get_4bit_type(name, device="cpu")
    save("code_maps", t)


@maker
def quantize_4bit() -> None:
    import bitsandbytes.functional as F

    torch.manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    base = torch.cat([torch.randn(1037) * 3, special_values()])
    for qt in ("nf4", "fp4"):
        adv = adversarial_4bit(F.get_4bit_type(qt, device="cpu"))
        for dname, dtype in DTYPES.items():
            for bs in BLOCKSIZES_4BIT:
                key = f"{qt}_{dname}_{bs}"
                x = torch.cat([base, adv]).to(dtype) if bs == 64 else base.to(dtype)
                packed, st = F.quantize_4bit(x, blocksize=bs, quant_type=qt)
                tensors[f"{key}.input"] = x
                tensors[f"{key}.packed"] = packed
                tensors[f"{key}.absmax"] = st.absmax
                tensors[f"{key}.dequant"] = F.dequantize_4bit(packed, st)
    save("quantize_4bit", tensors)


@maker
def quantize_4bit_nested() -> None:
    import bitsandbytes.functional as F

    torch.manual_seed(1)
    tensors: dict[str, torch.Tensor] = {}
    for qt in ("nf4", "fp4"):
        for dname, dtype in DTYPES.items():
            for bs in (32, 64, 256):
                key = f"{qt}_{dname}_{bs}"
                x = (torch.randn(131, 71) * 0.05).to(dtype)
                packed, st = F.quantize_4bit(x, blocksize=bs, quant_type=qt, compress_statistics=True)
                tensors[f"{key}.input"] = x
                tensors[f"{key}.packed"] = packed
                tensors[f"{key}.qabsmax"] = st.absmax
                tensors[f"{key}.offset"] = st.offset
                tensors[f"{key}.nested_absmax"] = st.state2.absmax
                tensors[f"{key}.nested_code"] = st.state2.code
                tensors[f"{key}.dequant"] = F.dequantize_4bit(packed, st)
                for k, v in st.as_dict(packed=True).items():
                    tensors[f"{key}.as_dict.{k}"] = v
    # quant_storage views
    x = torch.randn(64, 96)
    for sname, sdt in (("bfloat16", torch.bfloat16), ("float16", torch.float16), ("float32", torch.float32)):
        packed, st = F.quantize_4bit(x, quant_type="nf4", quant_storage=sdt)
        tensors[f"storage_{sname}.input"] = x
        tensors[f"storage_{sname}.packed"] = packed
    save("quantize_4bit_nested", tensors)


@maker
def quantize_blockwise() -> None:
    import bitsandbytes.functional as F

    torch.manual_seed(2)
    tensors: dict[str, torch.Tensor] = {}
    base = torch.cat([torch.randn(3001) * 2, special_values()])
    adv = adversarial_8bit()
    for dname, dtype in DTYPES.items():
        for bs in (1, 3, 64, 100, 256, 1000, 4096):
            key = f"{dname}_{bs}"
            x = torch.cat([base, adv]).to(dtype) if bs == 4096 else base.to(dtype)
            q, st = F.quantize_blockwise(x, blocksize=bs)
            tensors[f"{key}.input"] = x
            tensors[f"{key}.q"] = q
            tensors[f"{key}.absmax"] = st.absmax
            tensors[f"{key}.dequant"] = F.dequantize_blockwise(q, st)
    # unsigned and linear codes, nested
    x = torch.rand(5000)
    for cname, code in (("unsigned", F.create_dynamic_map(False)), ("linear", F.create_linear_map(True))):
        q, st = F.quantize_blockwise(x, code=code, blocksize=256)
        tensors[f"code_{cname}.input"] = x
        tensors[f"code_{cname}.code"] = code
        tensors[f"code_{cname}.q"] = q
        tensors[f"code_{cname}.absmax"] = st.absmax
    x = torch.randn(20000)
    q, st = F.quantize_blockwise(x, blocksize=256, nested=True)
    tensors["nested.input"] = x
    tensors["nested.q"] = q
    tensors["nested.qabsmax"] = st.absmax
    tensors["nested.offset"] = st.offset
    tensors["nested.nested_absmax"] = st.state2.absmax
    tensors["nested.dequant"] = F.dequantize_blockwise(q, st)
    save("quantize_blockwise", tensors)


# ---------------------------------------------------------------------------
# LLM.int8() (issue 5)
# ---------------------------------------------------------------------------
@maker
def int8_ops() -> None:
    import bitsandbytes as bnb
    import bitsandbytes.functional as F

    torch.manual_seed(5)
    t: dict[str, torch.Tensor] = {}
    base = torch.randn(37, 96) * 2
    base[3, 7] = 9.0
    base[10, 50] = -7.5
    base[20] = 0.0
    for dname, dtype in DTYPES.items():
        x = base.to(dtype)
        for thr in (0.0, 6.0):
            q, s, cols = F.int8_vectorwise_quant(x, threshold=thr)
            key = f"vq_{dname}_{int(thr)}"
            t[f"{key}.input"], t[f"{key}.q"], t[f"{key}.stats"] = x, q, s
            if cols is not None:
                t[f"{key}.cols"] = cols
    q, s, _ = F.int8_vectorwise_quant(base)
    t["dequant.out"] = F.int8_vectorwise_dequant(q, s)
    B = torch.randn(50, 96)
    CB, SCB, _ = F.int8_vectorwise_quant(B.half())
    bias = torch.randn(50)
    t["mm.CA"], t["mm.SCA"], t["mm.CB"], t["mm.SCB"], t["mm.bias"] = q, s, CB, SCB, bias
    t["mm.i32"] = F.int8_linear_matmul(q, CB)
    t["mm.dequant_fp16"] = F.int8_mm_dequant(t["mm.i32"], s, SCB)
    for dname, dtype in DTYPES.items():
        t[f"mm.scaled_{dname}"] = torch.ops.bitsandbytes.int8_scaled_mm(q, CB, s, SCB, bias=bias.to(dtype), dtype=dtype)
    # Linear8bitLt: inference (int8 path) and training (dequantized path) forwards
    W = torch.randn(24, 96)
    t["linear.W"], t["linear.bias"] = W, bias[:24].clone()
    for thr in (0.0, 6.0):
        lin = bnb.nn.Linear8bitLt(96, 24, bias=True, has_fp16_weights=False, threshold=thr)
        lin.weight = bnb.nn.Int8Params(W.clone(), requires_grad=False, has_fp16_weights=False)
        lin.bias.data = bias[:24].clone()
        lin = lin.to("cpu")
        t["linear.CB"], t["linear.SCB"] = lin.weight.data.clone(), lin.weight.SCB.clone()
        lin.eval()
        for dname, dtype in DTYPES.items():
            x = base[:, :].to(dtype)
            t[f"linear_{int(thr)}.eval_{dname}"] = lin(x)
        lin.train()
        t[f"linear_{int(thr)}.train_float32"] = lin(base)
    save("int8_ops", t)


@maker
def int8_llama() -> None:
    """A tiny Llama (fp32 checkpoint), the same model loaded with load_in_8bit and saved by the
    original, and the original's logits."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

    out_dir = os.path.join(FIXTURES, "int8_llama")
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(os.path.join(out_dir, "fp32"))
    ids = torch.randint(0, 128, (2, 12))
    q = AutoModelForCausalLM.from_pretrained(
        os.path.join(out_dir, "fp32"),
        quantization_config=BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=6.0),
        device_map="cpu",
    ).eval()
    with torch.no_grad():
        logits = q(ids).logits
    q.save_pretrained(os.path.join(out_dir, "int8"))
    save("int8_llama_logits", {"input_ids": ids, "logits": logits})


#: 4-bit checkpoint variants: (name, quant_type, double quant, compute dtype, quant_storage)
CHECKPOINTS_4BIT = [
    ("tiny_llama_nf4_dq_bf16", "nf4", True, "bfloat16", "uint8"),
    ("tiny_llama_fp4_fp32_storage_bf16", "fp4", False, "float32", "bfloat16"),
]


def _tiny_models():
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(FIXTURES), "python"))
    import tiny_models

    return tiny_models


@maker
def checkpoints_4bit() -> None:
    """Tiny Llama checkpoints quantized and saved by the original (Transformers
    load_in_4bit + save_pretrained), with the original's logits on PROMPT_IDS."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    tm = _tiny_models()
    source = tm.save_tiny_llama(os.path.join(FIXTURES, "tiny_llama_fp32"))
    for name, quant_type, dq, compute, storage in CHECKPOINTS_4BIT:
        config = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quant_type,
            bnb_4bit_use_double_quant=dq,
            bnb_4bit_compute_dtype=DTYPES[compute],
            bnb_4bit_quant_storage=getattr(torch, storage),
        )
        model = AutoModelForCausalLM.from_pretrained(source, quantization_config=config, dtype=torch.float32)
        out = os.path.join(FIXTURES, name)
        model.save_pretrained(out)
        with torch.no_grad():
            logits = model(tm.PROMPT_IDS).logits
        save(f"{name}_logits", {"logits": logits, "input_ids": tm.PROMPT_IDS})
        print(f"wrote {out}")


# optimizers (tools/optim_fixtures.py)
@maker
def optim_signatures() -> None:
    from optim_fixtures import optim_signatures as make

    make(FIXTURES)


@maker
def optim_adamw8bit_resume() -> None:
    from optim_fixtures import optim_adamw8bit_resume as make

    make(FIXTURES)


@maker
def gemm_4bit() -> None:
    """The original's gemm_4bit outputs on its own packed weights. (Its CPU gemv_4bit expects the weight
    repacked by Linear4bit for AVX512-BF16, so it is not comparable on quantize_4bit's layout.)"""
    import bitsandbytes.functional as F

    torch.manual_seed(3)
    ops = torch.ops.bitsandbytes
    tensors: dict[str, torch.Tensor] = {}
    for qt in ("nf4", "fp4"):
        for dname, dtype in DTYPES.items():
            for compress in (False, True):
                key = f"{qt}_{dname}_{'nested' if compress else 'plain'}"
                w = torch.randn(64, 128, dtype=dtype)
                packed, st = F.quantize_4bit(w, blocksize=64, quant_type=qt, compress_statistics=compress)
                A = torch.randn(3, 128, dtype=dtype)
                bias = torch.randn(64, dtype=dtype)
                tensors[f"{key}.A"] = A
                tensors[f"{key}.bias"] = bias
                tensors[f"{key}.packed"] = packed
                tensors[f"{key}.absmax"] = st.absmax
                if compress:
                    tensors[f"{key}.offset"] = st.offset
                    tensors[f"{key}.nested_absmax"] = st.state2.absmax
                    tensors[f"{key}.nested_code"] = st.state2.code
                    out = ops.gemm_4bit(
                        A,
                        packed,
                        [64, 128],
                        st.state2.absmax,
                        64,
                        qt,
                        bias=bias,
                        absmax_8bit=st.absmax,
                        absmax_code=st.state2.code,
                        absmax_offset=st.offset,
                    )
                else:
                    out = ops.gemm_4bit(A, packed, [64, 128], st.absmax, 64, qt, bias=bias)
                tensors[f"{key}.gemm"] = out
    save("gemm_4bit", tensors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(MAKERS), help="fixtures to (re)make; default all")
    args = parser.parse_args()
    for name in args.only or sorted(MAKERS):
        MAKERS[name]()


if __name__ == "__main__":
    main()
