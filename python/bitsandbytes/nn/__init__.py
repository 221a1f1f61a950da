"""bitsandbytes.nn: layers. (The optimizer branch adds Embedding and StableEmbedding; the lead merges
this file with the other nn modules.)"""

from .stable_embedding import Embedding, StableEmbedding

__all__ = ["Embedding", "StableEmbedding"]
