"""The DETR-family core shared by ``qd_detr`` and ``mesm`` (and any later Moment-DETR / CG-DETR /
TR-DETR style model), one concept per file:

- ``span_ops``: (centre, width) <-> (start, end), IoU / gIoU, inverse sigmoid;
- ``matcher``: the Hungarian matcher over span L1, gIoU and class costs;
- ``set_criterion``: span L1, gIoU and label losses with auxiliary decoder layers;
- ``saliency_losses``: QD-DETR's negative-pair, rank-contrastive and margin terms;
- ``multi_head``: multi-head attention with its projections, on ``grounding.layers.attend``;
- ``feed_forward``, ``input_projection``: the FFN block and QD-DETR's input projection;
- ``t2v_layer``: the text-to-video cross-attention encoder layer;
- ``global_encoder``: the self-attention encoder with a learnable global token;
- ``anchor_decoder``: the DAB-style decoder with (centre, width) anchors refined per layer;
- ``heads``: class / span / saliency heads;
- ``sine_positions``: sine embeddings of snippets and of span anchors.
"""

from grounding.layers.detr.anchor_decoder import AnchorDecoder, AnchorDecoderLayer
from grounding.layers.detr.feed_forward import FeedForward
from grounding.layers.detr.global_encoder import GlobalTokenEncoder, SelfAttentionLayer
from grounding.layers.detr.heads import FOREGROUND, ClassHead, SaliencyHead, SpanHead
from grounding.layers.detr.input_projection import InputProjection
from grounding.layers.detr.matcher import HungarianMatcher
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.detr.saliency_losses import margin_loss, negative_pair_loss, rank_contrastive_loss, sample_pairs
from grounding.layers.detr.set_criterion import SetCriterion
from grounding.layers.detr.sine_positions import frame_positions, span_embedding
from grounding.layers.detr.span_ops import (
    cw_to_se,
    generalized_span_iou,
    inverse_sigmoid,
    pairwise_generalized_iou,
    pairwise_iou,
    se_to_cw,
    span_iou,
)
from grounding.layers.detr.t2v_layer import T2VLayer, T2VStack

__all__ = [
    "FOREGROUND",
    "AnchorDecoder",
    "AnchorDecoderLayer",
    "ClassHead",
    "FeedForward",
    "GlobalTokenEncoder",
    "HungarianMatcher",
    "InputProjection",
    "ProjectedAttention",
    "SaliencyHead",
    "SelfAttentionLayer",
    "SetCriterion",
    "SpanHead",
    "T2VLayer",
    "T2VStack",
    "cw_to_se",
    "frame_positions",
    "generalized_span_iou",
    "inverse_sigmoid",
    "margin_loss",
    "negative_pair_loss",
    "pairwise_generalized_iou",
    "pairwise_iou",
    "rank_contrastive_loss",
    "sample_pairs",
    "se_to_cw",
    "span_embedding",
    "span_iou",
]
