"""The masked multi-head attention primitive every attention layer of the project shares: TEA's
attention unit (``attention_unit.py``, Eq. 6) and the DETR-family layers (``grounding.layers.detr``:
the text-to-video layer, the global-token encoder, the anchor decoder's self- and conditional
cross-attention). Each layer owns its projections; this function owns the scores, the mask, the
softmax and the weighted sum:

    attend(q, k, v, mask) = softmax(q k^T / sqrt(e) + bias, masked keys excluded) v

in one fused ``scaled_dot_product_attention`` call (4x faster on CPU than scores -> masked
softmax -> product). The value width may differ from the query/key width (DAB-DETR's conditional
cross-attention concatenates content and position per head: keys of 2e, values of e).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# CPU SDPA is 2-5x slower when the reference is shorter than one 16-float vector (a query of
# < 16 words): its softmax runs on a partial vector. Masked zero keys added up to 16 are never
# attended to, so the output is unchanged.
MIN_CPU_REF = 16
# CPU SDPA in bfloat16 / float16 (as autocast gives it) is 1.8-3.5x slower, forward + backward, than
# in float32 at the DETR family's sizes (bench/README.md, "DETR family"): there it runs in float32
# (autocast off for the call) and its output is cast back to the input's type.
CPU_LOW_PRECISION = (torch.bfloat16, torch.float16)


def pad_reference(k: Tensor, v: Tensor, attn_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """k (B, h, Lr, e), v (B, h, Lr, e_v) and mask (B, 1, 1, Lr) padded with masked zero keys to 16."""
    extra = MIN_CPU_REF - k.shape[2]
    k, v = F.pad(k, (0, 0, 0, extra)), F.pad(v, (0, 0, 0, extra))
    return k, v, F.pad(attn_mask, (0, extra), value=False)


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, n, h * e) -> (B, h, n, e): head j holds channels [j * e, (j + 1) * e)."""
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, h, n, e) -> (B, n, h * e), the inverse of ``split_heads``."""
    b, h, n, e = x.shape
    return x.transpose(1, 2).reshape(b, n, h * e)


def attend(q: Tensor, k: Tensor, v: Tensor, ref_mask: Tensor, bias: Tensor | None = None) -> Tensor:
    """q (B, h, Lt, e), k (B, h, Lr, e), v (B, h, Lr, e_v), ref_mask (B, Lr) bool (True: a key
    that may be attended) -> (B, h, Lt, e_v), scale 1 / sqrt(e).

    ``bias``: an optional additive score bias broadcastable to (B, h, Lt, Lr), added to the scaled
    scores before the softmax. A batch row with no valid key attends everything and is zeroed
    after, so its output is 0 as with a masked softmax."""
    has_ref = ref_mask.any(dim=1)
    attn_mask = (ref_mask | ~has_ref[:, None])[:, None, None, :]
    if k.device.type == "cpu" and k.shape[2] < MIN_CPU_REF:
        if bias is not None:
            bias = F.pad(bias, (0, MIN_CPU_REF - k.shape[2]))
        k, v, attn_mask = pad_reference(k, v, attn_mask)
    dtype = q.dtype
    in_float32 = q.device.type == "cpu" and (dtype in CPU_LOW_PRECISION or torch.is_autocast_enabled("cpu"))
    if in_float32:
        q, k, v = q.float(), k.float(), v.float()
    if bias is not None:  # one float mask: the bias on valid keys, -inf on masked ones
        attn_mask = bias.to(q.dtype).masked_fill(~attn_mask, float("-inf"))
    if in_float32:
        with torch.autocast("cpu", enabled=False):
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask).to(dtype)
    else:
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    if not bool(has_ref.all()):
        ctx = torch.where(has_ref[:, None, None, None], ctx, 0.0)
    return ctx
