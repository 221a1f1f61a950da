"""Every module class, under the original's module path ``bitsandbytes.nn.modules``."""

from .embedding_4bit import Embedding4bit, EmbeddingFP4, EmbeddingNF4
from .linear_4bit import Linear4bit, LinearFP4, LinearNF4
from .params_4bit import Params4bit, fix_4bit_weight_quant_state_from_module
from .stable_embedding import Embedding, StableEmbedding

__all__ = [
    "Embedding",
    "StableEmbedding",
    "Embedding4bit",
    "EmbeddingFP4",
    "EmbeddingNF4",
    "Linear4bit",
    "LinearFP4",
    "LinearNF4",
    "Params4bit",
    "fix_4bit_weight_quant_state_from_module",
]
