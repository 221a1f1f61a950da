"""Every module class, under the original's module path ``bitsandbytes.nn.modules``."""

from .embedding_4bit import Embedding4bit, EmbeddingFP4, EmbeddingNF4
from .embedding_8bit import Embedding8bit
from .linear_4bit import Linear4bit, LinearFP4, LinearNF4
from .linear_8bit import Int8Params, Linear8bitLt
from .outlier_aware_linear import OutlierAwareLinear
from .params_4bit import Params4bit, fix_4bit_weight_quant_state_from_module
from .stable_embedding import Embedding, StableEmbedding

__all__ = [
    "Embedding",
    "Embedding4bit",
    "Embedding8bit",
    "EmbeddingFP4",
    "EmbeddingNF4",
    "Int8Params",
    "Linear4bit",
    "Linear8bitLt",
    "LinearFP4",
    "LinearNF4",
    "OutlierAwareLinear",
    "Params4bit",
    "StableEmbedding",
    "fix_4bit_weight_quant_state_from_module",
]
