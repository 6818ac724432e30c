"""``masra``: MASRA (MLLM-Assisted Semantic-Relational Consistent Alignment, arXiv 2605.03398)
attached to a base model. Only the abstract is public; this is the design of
``shared/methods/masra.md`` (section numbers below), every choice there marked as ours, and
every change to it marked "Ours" here or in the layer it concerns.

The MLLM is used at training time only: its event descriptions with spans and its clip captions
shape the base's query-agnostic video features through two alignment losses, and inference reads
no prior at all (``required_keys`` are the base's; the priors are ``loss_keys``, loaded for the
training split only and only when a loss needs them).

    h    = the base's query-agnostic video (once per video)   span: prepare (guided conv + X <- A(X, X))
                                                               qd_detr: the input projection
    h    = SORA(h)        second-order relational attention (2.4) on r = norm(W_rel x) of its input;
                          r  <- LRCA (2.2): its caption-grid relation matrix matches the captions'
    u    = W_sem h        semantic head  <- ESTA (2.1): each event's span pools it, InfoNCE with
                          the event's description
    h    = SGE(h, u)      semantic-guided enhancement (2.3)
    out  = the base's grounding on h, with DAI (2.5) as its video <- query cross-attention
           (span: X <- A(X, Y) of its Attn block; qd_detr: the attention of each T2V aligner layer)

    L = L_base + w_esta L_ESTA + w_lrca L_LRCA + w_dai (L_fg + L_neg) + w_orth L_orth   (2.6)

Each part has a switch (``use_esta`` ... ``use_dai``); with every switch off the model is the base
(same parameters, same outputs). SGE without ESTA and SORA without LRCA still run (their heads are
then trained only through the grounding loss).

Ours, for cost (the issue caps the parts at 1.5x the base's epoch):

- SORA takes the base's own query-agnostic self-attention slot when it has one (``span``: its
  first X <- A(X, X)), biasing it instead of adding an attention layer after it (the design
  note's placement, kept for ``qd_detr``, which has no such slot); an extra attention unit costs
  about a fifth of a ``span`` training step on CPU;
- the semantic vectors u are never built per snippet: u is an affine map of h, so ESTA pools h
  over each event's span before W_sem and SGE folds W_p W_sem into one d x d map (same values
  and gradients);
- the mismatched-pair term (CG-DETR's negative pairs: each query's words against another
  video) reuses the main pass's projections (``span``: the batch's previous query, pairs of the
  same video skipped) or the base's own negative pass (``qd_detr`` already runs each query's
  aligner against a query of another video), in training only.

Bases plug in through an ``Attachment`` (``ATTACHMENTS``): how to build the base with DAI in its
cross-attention slot(s) and SORA in its self-attention slot, and how to run it with MASRA's
query-agnostic parts (``VideoPath``) applied to its video, through the base's own hooks
(``span``: ``encode`` / ``prepare`` / ``ground_prepared``; ``qd_detr``: ``video_refiner``), so no
base is copied. The base's own config fields go beside MASRA's in the same ``model`` section
(``hidden``, ``heads``, ``dropout`` are declared here and passed to the base; any other field is
validated by the base's config class).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, ValidationError, model_validator
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.data.targets import TargetConfig
from grounding.layers import AttentionUnit, AttnBlock, zero_padded
from grounding.layers.context_codebook import CodebookContext, ContextCodebook, orthogonality_loss
from grounding.layers.decoupled_cross_attention import DecoupledCrossAttention, DecoupledProjectedAttention
from grounding.layers.event_alignment import event_alignment_loss
from grounding.layers.relation_alignment import RelationLoss, relation_alignment_loss
from grounding.layers.relational_attention import RelationalAttention, RelationMode
from grounding.layers.semantic_enhance import SemanticEnhance
from grounding.models.base import GroundingModel, ModelConfig, register_model
from grounding.models.qd_detr import QDDetrConfig, QDDetrModel
from grounding.models.span import SpanConfig, SpanModel
from groundwork.registry import Registry
from groundwork.settings import explain

EVENT_KEYS = ("events", "event_mask", "event_spans")
CAPTION_KEYS = ("clip_captions", "clip_caption_mask", "clip_caption_spans")
SHARED_BASE_FIELDS = ("hidden", "heads", "dropout")
Decoupled = DecoupledCrossAttention | DecoupledProjectedAttention


class MasraConfig(ModelConfig):
    """MASRA's fields; the base's own fields (e.g. span's ``use_guided_conv``) may be given
    beside them and are checked by the base's config class."""

    model_config = ConfigDict(extra="allow")

    base: str = Field(
        "span",
        description="base model MASRA attaches to: span (Charades-STA, ActivityNet, TACoS) or "
        "qd_detr (QVHighlights); its own fields go beside MASRA's",
    )
    hidden: int | None = Field(None, gt=0, description="hidden size of the base and MASRA's parts (None: the base's)")
    heads: int | None = Field(
        None, gt=0, description="attention heads of the base and MASRA's parts (None: the base's)"
    )
    dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="dropout of the base and MASRA's parts (None: the base's)"
    )
    use_esta: bool = Field(True, description="ESTA: event-span contrastive alignment of the semantic head (2.1)")
    esta_weight: float = Field(0.5, ge=0.0, description="weight of L_ESTA (design: 0.5; sweep 0.1, 0.5, 1)")
    esta_temperature: float = Field(0.07, gt=0.0, description="InfoNCE temperature of ESTA (CLIP / CG-DETR: 0.07)")
    esta_duplicate_cos: float = Field(
        0.95, gt=-1.0, le=1.0, description="descriptions this alike (cosine) are not each other's negatives"
    )
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
    codebook_context: CodebookContext = Field(
        "query+video", description="what the codebook is conditioned on: none, query, query+video"
    )
    codebook_layers: int = Field(
        1,
        ge=1,
        description="attention units through which the codebook reads the query "
        "(CG-DETR: a 2-layer joint encoder; ours: entries <- words, see context_codebook)",
    )
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


class Attachment:
    """How MASRA attaches to one base. ``build(config, make_dai, sora)`` makes the base with the
    DAI units ``make_dai()`` gives in its video <- query cross-attention slot(s) and ``sora`` in its
    query-agnostic self-attention slot (None: the base's own units); ``run(base, batch, path)``
    runs it with ``path`` (MASRA's query-agnostic parts, (h, mask) -> h) applied to its
    query-agnostic video, once per video."""

    config_cls: ClassVar[type[ModelConfig]]
    self_slot: ClassVar[bool]  # the base has a query-agnostic self-attention unit SORA can take
    negatives: ClassVar[Literal["roll", "base"]]  # mismatched pairs: rolled queries / the base's own pass

    def dims(self, config: Any) -> tuple[int, int, float]:
        """(hidden, heads, dropout) of the base."""
        return config.hidden, config.heads, config.dropout

    def make_dai(self, dim: int, heads: int, dropout: float, codebook: ContextCodebook | None) -> nn.Module:
        """A DAI unit of the flavour that fits the base's cross-attention slot."""
        raise NotImplementedError

    def build(self, config: Any, make_dai: Callable[[], nn.Module] | None, sora: nn.Module | None) -> GroundingModel:
        raise NotImplementedError

    def run(self, base: Any, batch: dict[str, Any], path: Callable[[Tensor, Tensor], Tensor]) -> dict[str, Tensor]:
        raise NotImplementedError

    def foreground(self, batch: dict[str, Any]) -> Tensor:
        """(B, L) labels in [0, 1] that DAI's word mass is trained on."""
        raise NotImplementedError


ATTACHMENTS: Registry[Attachment] = Registry("masra base")


class SpanAttachment(Attachment):
    """``span``: DAI is X <- A(X, Y) and SORA is X <- A(X, X) of its Attn block (Eq. 8); the path
    runs on ``prepare``'s output."""

    config_cls = SpanConfig
    self_slot, negatives = True, "roll"

    def make_dai(self, dim: int, heads: int, dropout: float, codebook: ContextCodebook | None) -> nn.Module:
        return DecoupledCrossAttention(dim, heads, dropout, codebook)  # TEA's unit of Eq. (6)

    def build(self, config: SpanConfig, make_dai: Callable[[], nn.Module] | None, sora: nn.Module | None) -> SpanModel:
        if make_dai is None and sora is None:
            return SpanModel(config)
        c = config
        unit = lambda: AttentionUnit(c.hidden, c.heads, c.dropout)  # noqa: E731
        return SpanModel(config, attn=AttnBlock(sora or unit(), make_dai() if make_dai else unit(), unit(), unit()))

    def run(
        self, base: SpanModel, batch: dict[str, Any], path: Callable[[Tensor, Tensor], Tensor]
    ) -> dict[str, Tensor]:
        vm = batch["video_mask"]
        v, q = base.encode(batch)
        h = path(base.prepare(v, vm), vm)  # query-agnostic: once per row of batch["video"]
        return base.ground_prepared(per_query(h, batch), per_query(vm, batch), q, batch["query_mask"])

    def foreground(self, batch: dict[str, Any]) -> Tensor:
        return batch["highlight_label"]


class QDDetrAttachment(Attachment):
    """``qd_detr``: DAI is the attention of every T2V aligner layer (CG-DETR's place for it); the
    path runs on the projected video through the base's ``video_refiner`` hook, and SORA is a
    layer of that path (the base has no query-agnostic self-attention)."""

    config_cls = QDDetrConfig
    self_slot, negatives = False, "base"

    def make_dai(self, dim: int, heads: int, dropout: float, codebook: ContextCodebook | None) -> nn.Module:
        return DecoupledProjectedAttention(dim, heads, codebook)  # attention weights have no dropout there

    def build(
        self, config: QDDetrConfig, make_dai: Callable[[], nn.Module] | None, sora: nn.Module | None
    ) -> QDDetrModel:
        base = QDDetrModel(config)
        first = None
        for layer in base.aligner.layers if make_dai is not None else ():
            dai = make_dai()
            if first is None:
                first = dai
            else:  # one codebook for the stack (CG-DETR's): the later layers use the first's
                dai.follow(first)
            dai.load_state_dict(layer.attn.state_dict(), strict=False)  # the base's (Xavier) initialisation
            layer.attn = dai
        return base

    def run(
        self, base: QDDetrModel, batch: dict[str, Any], path: Callable[[Tensor, Tensor], Tensor]
    ) -> dict[str, Tensor]:
        mask = per_query(batch["video_mask"], batch)
        for layer in base.aligner.layers:
            if isinstance(layer.attn, DecoupledProjectedAttention):
                layer.attn.target_mask = mask  # the T2V layer does not pass the frames' mask
        base.video_refiner = path
        try:
            return base(batch)
        finally:
            base.video_refiner = None

    def foreground(self, batch: dict[str, Any]) -> Tensor:
        return (batch["saliency_label"] > 0).float()  # QVHighlights' summed scores or 0/1


ATTACHMENTS.register("span")(SpanAttachment())
ATTACHMENTS.register("qd_detr")(QDDetrAttachment())


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


# -- MASRA's query-agnostic parts ------------------------------------------------------------------


class VideoPath(nn.Module):
    """What MASRA does to the base's query-agnostic video (h, mask) -> h, keeping what its losses
    read: ``relation`` (r of SORA's input, or of h when LRCA runs without SORA) and ``context``
    (h before SGE, which ESTA pools). ``sora`` is None when SORA sits in the base's slot."""

    def __init__(
        self, c: MasraConfig, dim: int, sora: RelationalAttention | None, relation_head: nn.Module | None
    ) -> None:
        super().__init__()
        self.sora, self.relation_head = sora, relation_head
        self.semantic_head = nn.Linear(dim, c.text_dim) if c.use_esta or c.use_sge else None  # W_sem
        self.enhance = SemanticEnhance(dim, c.text_dim, c.dropout or 0.0) if c.use_sge else None
        self.keep_context = c.use_esta
        self.relation: Tensor | None = None
        self.context: Tensor | None = None

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        if self.sora is not None:
            h = self.sora(h, mask, h, mask)  # SORA (2.4), a layer of its own
            self.relation = self.sora.last_relation
        elif self.relation_head is not None and self.training:  # only LRCA reads it
            self.relation = zero_padded(F.normalize(self.relation_head(h), dim=-1), mask)  # r_t (2.2)
        if self.keep_context and self.training:
            self.context = h  # ESTA pools it over each event's span, then u = W_sem (2.1)
        if self.enhance is not None:
            h = self.enhance(h, mask, self.semantic_head)  # SGE (2.3), with u = W_sem h
        return h


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
        relation_head = nn.Linear(dim, dim) if c.use_lrca or c.use_sora else None  # W_rel
        sora = (
            RelationalAttention(AttentionUnit(dim, heads, dropout), relation_head, c.sora_mode, c.sora_temperature)
            if c.use_sora
            else None
        )
        in_slot = sora if self.attachment.self_slot else None
        self.base = self.attachment.build(
            base_cfg, self._dai_factory(dim, heads, dropout) if c.use_dai else None, in_slot
        )
        self.video_path = VideoPath(
            c.model_copy(update={"dropout": dropout}),
            dim,
            sora if in_slot is None else None,
            relation_head if sora is None else None,
        )
        # units inside the base, found once (held by the base only: shared tensors cannot be saved)
        self._dai: list[Decoupled] = [
            m for m in self.base.modules() if isinstance(m, (DecoupledCrossAttention, DecoupledProjectedAttention))
        ]
        self._slot = [m for m in self.base.modules() if isinstance(m, RelationalAttention)]

    def _dai_factory(self, dim: int, heads: int, dropout: float) -> Callable[[], nn.Module]:
        c = self.config

        def make() -> nn.Module:
            book = (
                ContextCodebook(dim, c.codebook_size, heads, dropout, c.codebook_context, c.codebook_layers)
                if (c.codebook_size > 0)
                else None
            )
            return self.attachment.make_dai(dim, heads, dropout, book)

        return make

    @property
    def dai(self) -> list[Decoupled]:
        """The DAI units inside the base (one for ``span``, one per T2V layer for ``qd_detr``)."""
        return self._dai

    @property
    def sora(self) -> RelationalAttention | None:
        return self._slot[0] if self._slot else self.video_path.sora

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
            CAPTION_KEYS if c.use_lrca and c.lrca_weight > 0 else ()
        )
        return self.base.loss_keys + extra

    def target_maker(self, config: TargetConfig) -> Callable[..., dict[str, np.ndarray]] | None:
        return self.base.target_maker(config)

    def batch_sampler(self, dataset: Any, batch_size: int, seed: int) -> Iterable[list[int]] | None:
        return self.base.batch_sampler(dataset, batch_size, seed)

    def fit_data(self, dataset: Any) -> dict[str, Any]:
        return self.base.fit_data(dataset)

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
        for unit in self._dai:
            unit.calls.clear()
        out = dict(self.attachment.run(self.base, batch, self.video_path))
        path, sora = self.video_path, self.sora
        relation = sora.last_relation if sora is not None else path.relation
        if relation is not None:
            out["relation"] = relation
        if path.context is not None:
            out["video_context"] = path.context
        path.relation = path.context = None
        if sora is not None:
            sora.last_relation = None
        if self._dai:
            out |= self._dai_outputs(batch)
        return out

    def _dai_outputs(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Word mass (mean over the DAI units), codebooks, and in training the mismatched pairs'
        word mass with its pair mask; clears the units' records."""
        mains = [unit.calls[0] for unit in self._dai]
        out = {
            "dai_word_mass": torch.stack([m.word_mass for m in mains]).mean(dim=0),
            "codebook": mains[0].codebook,
        }  # (B, K, d); units that follow another share its codebook
        if self.training and self.config.dai_weight > 0:
            if self.attachment.negatives == "roll":
                order = torch.arange(len(mains[0].word_mass), device=mains[0].word_mass.device).roll(1)
                neg = torch.stack([u.word_mass_with(m, order) for u, m in zip(self._dai, mains, strict=True)])
                out["dai_word_mass_neg"], out["dai_neg_pairs"] = neg.mean(dim=0), mismatched_pairs(batch)
            elif all(len(unit.calls) > 1 for unit in self._dai):  # the base ran its negative queries
                neg = torch.stack([unit.calls[1].word_mass for unit in self._dai]).mean(dim=0)
                out["dai_word_mass_neg"] = neg
                out["dai_neg_pairs"] = torch.ones(len(neg), dtype=torch.bool, device=neg.device)
        for unit in self._dai:
            unit.calls.clear()
        return out

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
                outputs["video_context"][rows],
                vm,
                batch["events"][rows],
                batch["event_mask"][rows],
                batch["event_spans"][rows],
                duration,
                c.esta_temperature,
                c.esta_duplicate_cos,
                self.video_path.semantic_head,
            )
            total = total + c.esta_weight * parts["esta"]
        if c.use_lrca and c.lrca_weight > 0:
            parts["lrca"] = relation_alignment_loss(
                outputs["relation"][rows],
                vm,
                batch["clip_captions"][rows],
                batch["clip_caption_mask"][rows],
                batch["clip_caption_spans"][rows],
                duration,
                c.lrca_window_s,
                c.lrca_temperature,
                c.lrca_loss,
            )
            total = total + c.lrca_weight * parts["lrca"]
        if "dai_word_mass" in outputs:
            total = total + self._dai_loss(outputs, batch, parts)
        parts["total"] = total
        return parts

    def _dai_loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor], parts: dict[str, Tensor]) -> Tensor:
        """L_fg = BCE(r, foreground), L_neg = -log(1 - r_neg) over mismatched pairs, L_orth (2.5)."""
        c, eps = self.config, 1e-6
        mask = per_query(batch["video_mask"], batch)
        mass = outputs["dai_word_mass"].clamp(eps, 1 - eps)
        label = self.attachment.foreground(batch).to(mass.dtype)
        parts["dai_fg"] = _masked_mean(F.binary_cross_entropy(mass, label, reduction="none"), mask)
        total = c.dai_weight * parts["dai_fg"]
        if "dai_word_mass_neg" in outputs:
            neg_mask = mask & (outputs["dai_neg_pairs"] > 0)[:, None]  # the loop may have cast it to float
            parts["dai_neg"] = _masked_mean(-torch.log1p(-outputs["dai_word_mass_neg"].clamp(max=1 - eps)), neg_mask)
            total = total + c.dai_weight * parts["dai_neg"]
        parts["dai_orth"] = orthogonality_loss(outputs["codebook"])
        return total + c.orth_weight * parts["dai_orth"]
