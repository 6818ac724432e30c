"""``masra``: MASRA (MLLM-Assisted Semantic-Relational Consistent Alignment, arXiv 2605.03398)
attached to a base model. Only the abstract is public; this is the design of
``shared/methods/masra.md`` (section numbers below), every choice there marked as ours.

The MLLM is used at training time only: its event descriptions with spans and its clip captions
shape the base's query-agnostic video features through two alignment losses, and inference reads
no prior at all (``required_keys`` are the base's; the priors are ``loss_keys``, loaded for the
training split only and only when a loss needs them).

    v, q = base.encode(batch)
    h    = base.prepare(v)          query-agnostic video context (once per video), with SORA (2.4)
                                    as the base's query-agnostic self-attention, biased by the
                                    second-order structure of r = norm(W_rel x) of its input x
                                    relation head r   <- LRCA (2.2), caption-grid relation matrix
    u    = W_sem h                  semantic head     <- ESTA (2.1), events pool it over their spans
    h    = SGE(h, u)                semantic-guided enhancement (2.3)
    out  = base.ground(h, q)        with DAI (2.5) as the base's video <- query cross-attention

    L = L_base + w_esta L_ESTA + w_lrca L_LRCA + w_dai (L_fg + L_neg) + w_orth L_orth   (2.6)

The semantic vectors u are never built per snippet: u is an affine map of h, so ESTA pools h
over each event's span and then applies W_sem, and SGE folds W_p W_sem into one d x d map (same
values and gradients, a third of the cost at Dt = 384, d = 128).

Ours: SORA is not an extra attention layer after ``prepare`` (the design note's placement) but
the base's own query-agnostic self-attention with the relational bias added (a base without such
a slot gets it as an extra layer after ``prepare``). An extra attention unit costs about a fifth
of a ``span`` training step on CPU, and the issue caps all of MASRA's parts at 1.5x the base's
epoch; biasing the existing self-attention keeps the "simple supporting module" the abstract
describes. With a zero bias the slot is the base's plain unit.

Each part has a switch (``use_esta`` ... ``use_dai``); with every switch off the model is the base
(same parameters, same outputs). SGE without ESTA and SORA without LRCA still run (their heads are
then trained only through the grounding loss).

Bases plug in through a small ``Attachment`` (``ATTACHMENTS``): how to build the base with a
given video <- query cross-attention unit (DAI) and query-agnostic self-attention unit (SORA),
and its three hooks (encode, the query-agnostic ``prepare``, the rest of grounding), so no base
is copied. The base's own config fields go beside
MASRA's in the same ``model`` section (``hidden``, ``heads``, ``dropout`` are declared here and
passed to the base; any other field is validated by the base's config class).

The mismatched-pair term (CG-DETR's negative pairs) reruns only DAI, on the same snippet input
with the words of the batch's next query (pairs of the same video skipped), in training only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, ValidationError, model_validator
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.data.targets import TargetConfig
from grounding.layers import AttentionUnit, AttnBlock, zero_padded
from grounding.layers.context_codebook import CodebookContext, ContextCodebook, orthogonality_loss
from grounding.layers.decoupled_cross_attention import DecoupledCrossAttention, DecoupledOutput
from grounding.layers.event_alignment import event_alignment_loss
from grounding.layers.relation_alignment import RelationLoss, relation_alignment_loss
from grounding.layers.relational_attention import RelationalAttention, RelationMode
from grounding.layers.semantic_enhance import SemanticEnhance
from grounding.models.base import GroundingModel, ModelConfig, register_model
from grounding.models.span import SpanConfig, SpanModel
from groundwork.registry import Registry
from groundwork.settings import explain

EVENT_KEYS = ("events", "event_mask", "event_spans")
CAPTION_KEYS = ("clip_captions", "clip_caption_mask", "clip_caption_spans")
SHARED_BASE_FIELDS = ("hidden", "heads", "dropout")


class MasraConfig(ModelConfig):
    """MASRA's fields; the base's own fields (e.g. span's ``use_guided_conv``) may be given
    beside them and are checked by the base's config class."""

    model_config = ConfigDict(extra="allow")

    base: str = Field("span", description="base model MASRA attaches to: span (Charades-STA, ActivityNet) or qd_detr "
                      "(QVHighlights); its own fields go beside MASRA's")
    hidden: int | None = Field(None, gt=0, description="hidden size of the base and MASRA's parts (None: the base's)")
    heads: int | None = Field(None, gt=0, description="attention heads of the base and MASRA's parts "
                              "(None: the base's)")
    dropout: float | None = Field(None, ge=0.0, lt=1.0, description="dropout of the base and MASRA's parts "
                                  "(None: the base's)")
    use_esta: bool = Field(True, description="ESTA: event-span contrastive alignment of the semantic head (2.1)")
    esta_weight: float = Field(0.5, ge=0.0, description="weight of L_ESTA (design: 0.5; sweep 0.1, 0.5, 1)")
    esta_temperature: float = Field(0.07, gt=0.0, description="InfoNCE temperature of ESTA (CLIP / CG-DETR: 0.07)")
    esta_duplicate_cos: float = Field(0.95, gt=-1.0, le=1.0, description="descriptions this alike (cosine) are "
                                      "not each other's negatives")
    use_lrca: bool = Field(True, description="LRCA: local relational consistency with the clip captions (2.2)")
    lrca_weight: float = Field(1.0, ge=0.0, description="weight of L_LRCA (design: 1; sweep 0.3, 1, 3)")
    lrca_temperature: float = Field(0.1, gt=0.0, description="softmax temperature of both relation matrices")
    lrca_window_s: float = Field(8.0, gt=0.0, description="neighbourhood: captions whose centres are this close (s)")
    lrca_loss: RelationLoss = Field("kl", description="kl (row-softmax KL) or mse")
    use_sge: bool = Field(True, description="semantic-guided enhancement: gated residual from the semantic head (2.3)")
    use_sora: bool = Field(True, description="second-order relational attention over the snippets (2.4)")
    sora_mode: RelationMode = Field("second_order", description="relational bias: second_order, two_hop, first_order")
    sora_temperature: float = Field(0.1, gt=0.0, description="softmax temperature of the two_hop bias")
    use_dai: bool = Field(True, description="DAI: decoupled cross-attention with a context-aware codebook (2.5)")
    codebook_size: int = Field(45, ge=0, description="codebook entries K (CG-DETR: 45; 0 = plain cross-attention)")
    codebook_context: CodebookContext = Field("query+video", description="what the codebook is conditioned on: "
                                              "none, query, query+video")
    codebook_layers: int = Field(1, ge=1, description="attention units through which the codebook reads the query "
                                 "(CG-DETR: a 2-layer joint encoder; ours: entries <- words, see context_codebook)")
    dai_weight: float = Field(1.0, ge=0.0, description="weight of the word-mass terms L_fg + L_neg (CG-DETR lw_wattn)")
    orth_weight: float = Field(1.0, ge=0.0, description="weight of the codebook orthogonality term")

    @model_validator(mode="after")
    def _check_base(self) -> MasraConfig:
        attachment = ATTACHMENTS.get(self.base)  # unknown base: "did you mean" error
        try:
            attachment.config_cls.model_validate(self.base_options())
        except ValidationError as err:
            msg = f"base '{self.base}': {explain(err, '', attachment.config_cls)}"
            raise ValueError(msg) from None
        return self

    def base_options(self) -> dict[str, Any]:
        """The base's config fields: the input sizes, the shared fields that are set, the extras."""
        shared = {k: getattr(self, k) for k in SHARED_BASE_FIELDS if getattr(self, k) is not None}
        return {"video_dim": self.video_dim, "text_dim": self.text_dim, **shared, **(self.model_extra or {})}

    def base_config(self) -> ModelConfig:
        return ATTACHMENTS.get(self.base).config_cls.model_validate(self.base_options())


# -- bases ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """How MASRA attaches to one base: ``build(config, cross, self_attn)`` makes the base with
    ``cross`` as its video <- query cross-attention unit and ``self_attn`` as its query-agnostic
    self-attention unit (None: the base's own; ``self_slot`` False: the base has no such slot and
    MASRA runs SORA after ``prepare``), ``dims(config)`` gives (hidden, heads, dropout),
    ``foreground`` the per-snippet labels DAI's word mass is trained on. The hooks default to the
    ``span`` family's methods: ``encode(batch) -> (v, q)``, ``prepare(v, v_mask)`` (query-agnostic,
    once per video), ``ground_prepared(h, v_mask, q, q_mask)`` on per-query rows."""

    config_cls: type[ModelConfig]
    build: Callable[[Any, nn.Module | None, nn.Module | None], GroundingModel]
    dims: Callable[[Any], tuple[int, int, float]]
    foreground: Callable[[dict[str, Any]], Tensor]
    self_slot: bool = True

    @staticmethod
    def encode(base: Any, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return base.encode(batch)

    @staticmethod
    def prepare(base: Any, v: Tensor, v_mask: Tensor) -> Tensor:
        return base.prepare(v, v_mask)

    @staticmethod
    def ground(base: Any, h: Tensor, v_mask: Tensor, q: Tensor, q_mask: Tensor, batch: dict[str, Any]
               ) -> dict[str, Tensor]:
        return base.ground_prepared(per_query(h, batch), per_query(v_mask, batch), q, q_mask)


ATTACHMENTS: Registry[Attachment] = Registry("masra base")


def _build_span(config: SpanConfig, cross: nn.Module | None, self_attn: nn.Module | None) -> SpanModel:
    """``span`` with ``self_attn`` as X <- A(X, X) and ``cross`` as X <- A(X, Y) of its Attn block
    (Eq. 8; the first is the query-agnostic step ``prepare`` runs)."""
    if cross is None and self_attn is None:
        return SpanModel(config)
    c = config
    unit = lambda: AttentionUnit(c.hidden, c.heads, c.dropout)  # noqa: E731
    attn = AttnBlock(self_attn or unit(), cross or unit(), unit(), unit())
    return SpanModel(config, attn=attn)


ATTACHMENTS.register("span")(Attachment(
    SpanConfig, _build_span, lambda c: (c.hidden, c.heads, c.dropout), lambda batch: batch["highlight_label"]))


# -- batch helpers -------------------------------------------------------------------------------

def video_identity(batch: dict[str, Any]) -> Tensor:
    """(B,) long: which video each query belongs to (``video_index`` of a shared batch, else the
    ``video_id`` list; without either every query is its own video)."""
    index = batch.get("video_index")
    if index is not None:
        return index
    b = batch["query_mask"].shape[0]
    ids = batch.get("video_id") or list(range(b))
    seen: dict[Any, int] = {}
    return torch.tensor([seen.setdefault(v, len(seen)) for v in ids], device=batch["query_mask"].device)


def distinct_videos(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """(rows of the video-level arrays holding each distinct video once, their durations)."""
    ident = video_identity(batch)
    n_videos = int(ident.max()) + 1 if ident.numel() else 0
    first = torch.full((n_videos,), len(ident), dtype=torch.long, device=ident.device)
    first = first.scatter_reduce(0, ident, torch.arange(len(ident), device=ident.device), reduce="amin")
    rows = torch.arange(n_videos, device=ident.device) if "video_index" in batch else first
    return rows, batch["duration"][first]


def mismatched_pairs(batch: dict[str, Any]) -> Tensor:
    """(B,) bool: query i paired with query i - 1's words (rolled by one) is of another video."""
    ident = video_identity(batch)
    return ident != ident.roll(1, dims=0)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    weight = mask.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


# -- the model -----------------------------------------------------------------------------------

@register_model("masra", MasraConfig)
class MasraModel(GroundingModel):
    config: MasraConfig

    def __init__(self, config: MasraConfig) -> None:
        super().__init__(config)
        c = config
        self.attachment = ATTACHMENTS.get(c.base)
        base_cfg = c.base_config()
        dim, heads, dropout = self.attachment.dims(base_cfg)
        cross = None
        if c.use_dai:
            book = ContextCodebook(dim, c.codebook_size, heads, dropout, c.codebook_context, c.codebook_layers) if (
                c.codebook_size > 0) else None
            cross = DecoupledCrossAttention(dim, heads, dropout, book)
        relation_head = nn.Linear(dim, dim) if c.use_lrca or c.use_sora else None  # W_rel
        sora = RelationalAttention(AttentionUnit(dim, heads, dropout), relation_head, c.sora_mode,
                                   c.sora_temperature) if c.use_sora else None
        in_slot = sora if self.attachment.self_slot else None
        self.base = self.attachment.build(base_cfg, cross, in_slot)
        # units inside the base are reached through it (held once: shared tensors cannot be saved)
        paths = {id(m): n for n, m in self.base.named_modules()}
        self._cross_path = paths.get(id(cross)) if cross is not None else None
        self._sora_path = paths.get(id(sora)) if in_slot is not None else None
        self.relational = sora if sora is not None and in_slot is None else None  # after prepare
        self.relation_head = relation_head if sora is None else None  # LRCA without SORA: on h
        self.semantic_head = nn.Linear(dim, c.text_dim) if c.use_esta or c.use_sge else None  # W_sem
        self.enhance = SemanticEnhance(dim, c.text_dim, dropout) if c.use_sge else None

    @property
    def dai(self) -> DecoupledCrossAttention | None:
        return self.base.get_submodule(self._cross_path) if self._cross_path else None

    @property
    def sora(self) -> RelationalAttention | None:
        return self.base.get_submodule(self._sora_path) if self._sora_path else self.relational

    # -- the contract: the base's, plus the priors as training-only fields ------------------------
    @property
    def shares_videos(self) -> bool:  # type: ignore[override]
        return self.base.shares_videos

    @property
    def required_keys(self) -> tuple[str, ...]:
        return self.base.required_keys

    @property
    def loss_keys(self) -> tuple[str, ...]:
        c = self.config
        extra = (EVENT_KEYS if c.use_esta and c.esta_weight > 0 else ()) + (
            CAPTION_KEYS if c.use_lrca and c.lrca_weight > 0 else ())
        return self.base.loss_keys + extra

    def target_maker(self, config: TargetConfig) -> Callable[..., dict[str, np.ndarray]] | None:
        return self.base.target_maker(config)

    def batch_sampler(self, dataset: Any, batch_size: int, seed: int) -> Iterable[list[int]] | None:
        return self.base.batch_sampler(dataset, batch_size, seed)

    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        return self.base.decode(outputs, batch, k)

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        """The base's curves, plus DAI's word mass (how much of each snippet's attention the
        query's words get rather than the codebook)."""
        curves = self.base.curves(outputs, batch)
        if "dai_word_mass" in outputs:
            lengths = per_query(batch["video_mask"], batch).sum(dim=1).tolist()
            mass = outputs["dai_word_mass"].float().detach().cpu().numpy()
            for i, n in enumerate(lengths):
                curves[i]["word_mass"] = mass[i, :n]
        return curves

    # -- forward -------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.check_batch(batch)
        a, vm = self.attachment, batch["video_mask"]
        v, q = a.encode(self.base, batch)
        h = a.prepare(self.base, v, vm)  # query-agnostic: once per row of batch["video"]; SORA in its slot
        if self.relational is not None:
            h = self.relational(h, vm, h, vm)  # SORA (2.4) for a base without a slot
        out: dict[str, Tensor] = {}
        sora = self.sora
        if sora is not None:
            out["relation"], sora.last_relation = sora.last_relation, None  # r_t of SORA's input (2.2)
        elif self.relation_head is not None:
            out["relation"] = zero_padded(F.normalize(self.relation_head(h), dim=-1), vm)  # r_t (2.2)
        if self.config.use_esta:
            out["video_context"] = h  # ESTA pools it over each event's span, then u = W_sem (2.1)
        if self.enhance is not None:
            h = self.enhance(h, vm, self.semantic_head)  # SGE (2.3), with u = W_sem h
        out |= a.ground(self.base, h, vm, q, batch["query_mask"], batch)  # DAI inside (2.5)
        dai = self.dai
        if dai is not None and dai.last is not None:
            last, dai.last = dai.last, None
            out["dai_word_mass"], out["codebook"] = last.word_mass, last.codebook
            if self.training and self.config.dai_weight > 0:
                out["dai_word_mass_neg"] = self._mismatched(dai, last, batch)
        return out

    def _mismatched(self, dai: DecoupledCrossAttention, last: DecoupledOutput, batch: dict[str, Any]) -> Tensor:
        """Word mass of each snippet sequence with the previous query's words (CG-DETR's rolled
        negatives); zero for pairs of the same video."""
        order = torch.arange(last.word_mass.shape[0], device=last.word_mass.device).roll(1)
        neg = dai.word_mass_with(last, order)
        return neg * mismatched_pairs(batch).to(neg.dtype)[:, None]

    # -- loss (2.6) ----------------------------------------------------------------------------
    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        c = self.config
        parts = dict(self.base.loss(outputs, batch))
        total = parts["total"]
        if (c.use_esta and c.esta_weight > 0) or (c.use_lrca and c.lrca_weight > 0):
            rows, duration = distinct_videos(batch)
            vm = batch["video_mask"][rows]
        if c.use_esta and c.esta_weight > 0:
            parts["esta"] = event_alignment_loss(
                outputs["video_context"][rows], vm, batch["events"][rows], batch["event_mask"][rows],
                batch["event_spans"][rows], duration, c.esta_temperature, c.esta_duplicate_cos, self.semantic_head)
            total = total + c.esta_weight * parts["esta"]
        if c.use_lrca and c.lrca_weight > 0:
            parts["lrca"] = relation_alignment_loss(
                outputs["relation"][rows], vm, batch["clip_captions"][rows], batch["clip_caption_mask"][rows],
                batch["clip_caption_spans"][rows], duration, c.lrca_window_s, c.lrca_temperature, c.lrca_loss)
            total = total + c.lrca_weight * parts["lrca"]
        if "dai_word_mass" in outputs:
            total = total + self._dai_loss(outputs, batch, parts)
        parts["total"] = total
        return parts

    def _dai_loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor], parts: dict[str, Tensor]) -> Tensor:
        """L_fg = BCE(r, foreground), L_neg = -log(1 - r_neg), L_orth (2.5), weighted."""
        c, eps = self.config, 1e-6
        mask = per_query(batch["video_mask"], batch)
        mass = outputs["dai_word_mass"].clamp(eps, 1 - eps)
        label = self.attachment.foreground(batch).to(mass.dtype)
        parts["dai_fg"] = _masked_mean(F.binary_cross_entropy(mass, label, reduction="none"), mask)
        total = c.dai_weight * parts["dai_fg"]
        if "dai_word_mass_neg" in outputs:
            neg_mask = mask & mismatched_pairs(batch)[:, None]
            parts["dai_neg"] = _masked_mean(-torch.log1p(-outputs["dai_word_mass_neg"].clamp(max=1 - eps)), neg_mask)
            total = total + c.dai_weight * parts["dai_neg"]
        parts["dai_orth"] = orthogonality_loss(outputs["codebook"])
        return total + c.orth_weight * parts["dai_orth"]
