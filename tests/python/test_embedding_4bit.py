"""Embedding4bit: row lookups equal the dequantized table; saving is refused."""

import pytest
import torch

import bitsandbytes.functional as F
from bitsandbytes.nn import Embedding4bit, EmbeddingFP4, EmbeddingNF4


@pytest.mark.parametrize("dim", [128, 96])  # a multiple of the blocksize (row gather), and not
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_lookup_equals_the_dequantized_table(dim, quant_type, dtype):
    emb = Embedding4bit(50, dim, dtype=dtype, quant_type=quant_type).to("cpu")
    assert emb.weight.bnb_quantized and not emb.weight.quant_state.nested
    table = F.dequantize_4bit(emb.weight.data, emb.weight.quant_state)
    idx = torch.tensor([[0, 3, 49], [7, 7, 1]])
    out = emb(idx)
    assert out.shape == (2, 3, dim) and out.dtype == dtype
    assert torch.equal(out, table[idx])


def test_named_variants():
    assert EmbeddingNF4(10, 64).weight.quant_type == "nf4"
    assert EmbeddingFP4(10, 64).weight.quant_type == "fp4"


def test_saving_is_refused():
    emb = EmbeddingNF4(10, 64).to("cpu")
    with pytest.raises(NotImplementedError, match="Saving Embedding4bit is not supported"):
        emb.state_dict()


def test_float_indices_are_rejected():
    emb = EmbeddingNF4(10, 64).to("cpu")
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        emb(torch.zeros(3))


@pytest.mark.parametrize("dim", [128, 96])  # the row gather, and the dequantized table
@pytest.mark.parametrize("index", [-1, 10, 2**40])
def test_an_index_out_of_range_raises_as_nn_embedding_does(dim, index):
    # a negative index would otherwise pick a row from the end (Python indexing of the packed rows)
    emb = EmbeddingNF4(10, dim).to("cpu")
    with pytest.raises(IndexError, match="out of range"):
        emb(torch.tensor([[0, index]]))
