"""Layers shared by every grounding method, one concept per file (TEA equation numbers)."""

from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.attn_block import AttnBlock
from grounding.layers.cq_attention import ContextQueryAttention
from grounding.layers.dropout import Dropout
from grounding.layers.feature_encoder import FeatureEncoder, sinusoidal_positions
from grounding.layers.guided_conv import GuidedConv
from grounding.layers.highlight import HighlightHead
from grounding.layers.masking import MASKED_LOGIT, mask_logits, masked_softmax, zero_padded
from grounding.layers.mlp import MLP
from grounding.layers.span_predictor import SpanPredictor
from grounding.layers.weighted_pool import WeightedPool

__all__ = [
    "MASKED_LOGIT",
    "MLP",
    "AttentionUnit",
    "AttnBlock",
    "ContextQueryAttention",
    "Dropout",
    "FeatureEncoder",
    "GuidedConv",
    "HighlightHead",
    "SpanPredictor",
    "WeightedPool",
    "mask_logits",
    "masked_softmax",
    "sinusoidal_positions",
    "zero_padded",
]
