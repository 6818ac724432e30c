"""The layers of spatio-temporal grounding (``grounding.models.bridge_stg``), one concept per file:

- ``box_ops``: 2-D box geometry in torch (cxcywh <-> xyxy, element-wise IoU / gIoU) for losses;
- ``frame_sampling``: the positive / negative frame sampling of training;
- ``temporal_mask``: the soft temporal masks of our ETA stand-in (a predicted span's inside
  probability, a prior span as a box with Gaussian-softened edges);
- ``bridge``: the bridge builder (learnable bridging queries reading the temporal branch's states,
  the query and the reasoning prior);
- ``spatial_decoder``: the DETR-style decoder with one query per frame over that frame's patches;
- ``frame_patch_attention``: its per-frame attention over the frame's patches (projections folded).
"""

from grounding.layers.stvg.box_ops import box_cxcywh_to_xyxy, box_iou, box_xyxy_to_cxcywh, generalized_box_iou
from grounding.layers.stvg.bridge import BridgeBuilder, BridgeLayer
from grounding.layers.stvg.frame_patch_attention import FramePatchAttention
from grounding.layers.stvg.frame_sampling import sample_frames
from grounding.layers.stvg.spatial_decoder import SpatialDecoder, SpatialDecoderLayer
from grounding.layers.stvg.temporal_mask import inside_probability, soft_box

__all__ = [
    "BridgeBuilder",
    "BridgeLayer",
    "FramePatchAttention",
    "SpatialDecoder",
    "SpatialDecoderLayer",
    "box_cxcywh_to_xyxy",
    "box_iou",
    "box_xyxy_to_cxcywh",
    "generalized_box_iou",
    "inside_probability",
    "sample_frames",
    "soft_box",
]
