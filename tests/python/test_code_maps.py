"""Code tables: SPEC.md's values, the original's tables (golden), and the native
builder against a pure-PyTorch rendering of SPEC's algorithm."""

import pytest
import torch

import bitsandbytes.functional as F
from bitsandbytes import cextension

import reference as ref
from conftest import load_fixture


def test_4bit_tables_equal_spec():
    assert torch.equal(F.get_4bit_type("nf4"), ref.NF4)
    assert torch.equal(F.get_4bit_type("fp4"), ref.FP4)
    assert F.get_4bit_type("nf4").device.type == "cpu"  # the original defaults to "cuda"
    assert torch.equal(
        F.get_4bit_type("int4"), torch.tensor([7, 6, 5, 4, 3, 2, 1, 0, -0.0, -1, -2, -3, -4, -5, -6, -7]) / 7
    )


def test_python_reads_tables_from_native_library():
    assert ref.NF4.tolist() == cextension._C.NF4_CODE
    assert ref.FP4.tolist() == cextension._C.FP4_CODE


def _dynamic_map_reference(signed=True, max_exponent_bits=7, total_bits=8):
    # SPEC §5, step by step, in torch's own fp32 arithmetic
    nsb = total_bits - 1
    data = []
    for i in range(max_exponent_bits):
        items = 2 ** (i + nsb - max_exponent_bits) + 1 if signed else 2 ** (i + nsb - max_exponent_bits + 1) + 1
        b = torch.linspace(0.1, 1, items)
        means = (b[:-1] + b[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    extra = 2 ** (nsb - max_exponent_bits) - 1
    if extra > 0:
        b = torch.linspace(0.1, 1, extra + 1)
        means = (b[:-1] + b[1:]) / 2.0
        data += means.tolist() + ((-means).tolist() if signed else [])
    data += [0.0, 1.0]
    assert len(data) == 2**total_bits
    data += [0.0] * (256 - len(data))
    data.sort()
    return torch.tensor(data)


@pytest.mark.parametrize("signed,meb,bits", [(True, 7, 8), (False, 7, 8), (True, 5, 8), (True, 4, 6), (False, 5, 6)])
def test_dynamic_map_matches_spec_algorithm(signed, meb, bits):
    assert torch.equal(F.create_dynamic_map(signed, meb, bits), _dynamic_map_reference(signed, meb, bits))


def test_dynamic_map_landmarks():
    s = F.create_dynamic_map(True)
    assert s[0].item() == pytest.approx(-0.99296875) and s[127] == 0 and s[255] == 1
    assert s[126].item() == pytest.approx(-5.5e-7) and s[128].item() == pytest.approx(5.5e-7)
    assert s[254].item() == pytest.approx(0.99296875)
    assert not (s == -1).any()
    u = F.create_dynamic_map(False)
    assert (
        u[0] == 0
        and u[1].item() == pytest.approx(3.25e-7)
        and u[254].item() == pytest.approx(0.99648438)
        and u[255] == 1
    )


def test_dynamic_map_rejects_what_does_not_fit():
    with pytest.raises(ValueError, match="do not describe exactly 256 values"):
        F.create_dynamic_map(False, 4, 8)


GOLDEN = {
    "dynamic_signed": lambda: F.create_dynamic_map(True),
    "dynamic_unsigned": lambda: F.create_dynamic_map(False),
    "dynamic_signed_meb5": lambda: F.create_dynamic_map(True, 5, 8),
    "dynamic_unsigned_meb5_bits6": lambda: F.create_dynamic_map(False, 5, 6),
    "dynamic_signed_meb4_bits6": lambda: F.create_dynamic_map(True, 4, 6),
    "linear_signed": lambda: F.create_linear_map(True),
    "linear_unsigned": lambda: F.create_linear_map(False),
    "linear_signed_4bit": lambda: F.create_linear_map(True, 4),
    "linear_signed_nozero": lambda: F.create_linear_map(True, 8, False),
    "normal_default": lambda: F.create_normal_map(),
    "normal_no_extra": lambda: F.create_normal_map(use_extra_value=False),
    "fp8_e5m2": lambda: F.create_fp8_map(True, 5, 2, 8),
    "fp8_e4m3": lambda: F.create_fp8_map(True, 4, 3, 8),
    "fp8_unsigned_e4m4": lambda: F.create_fp8_map(False, 4, 4, 8),
    "fp4_e2m1": lambda: F.create_fp8_map(True, 2, 1, 4),
    "4bit_nf4": lambda: F.get_4bit_type("nf4"),
    "4bit_fp4": lambda: F.get_4bit_type("fp4"),
    "4bit_af4": lambda: F.get_4bit_type("af4"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_maps_equal_the_originals(name):
    pytest.importorskip("scipy")
    expected = load_fixture("code_maps")[name]
    # bit for bit (torch.equal would take -0.0 for +0.0)
    assert torch.equal(GOLDEN[name]().view(torch.int32), expected.view(torch.int32))


def test_normal_map_contains_nf4():
    pytest.importorskip("scipy")
    m = F.create_normal_map()
    nonzero = torch.cat([m[:7], m[m.numel() - 8 :]])
    torch.testing.assert_close(torch.cat([nonzero[:7], torch.zeros(1), nonzero[7:]]), ref.NF4)


def test_get_4bit_type_errors():
    with pytest.raises(NotImplementedError, match="Typename xx not supported"):
        F.get_4bit_type("xx")
    with pytest.raises(NotImplementedError, match="only support blocksize 64"):
        F.get_4bit_type("af4", blocksize=128)
