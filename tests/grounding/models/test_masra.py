"""What is MASRA's own: every switch off is the base, the priors are training-only fields that
inference never reads (nor does it import the pipeline or transformers), ESTA / LRCA see each
video once, DAI's word mass and mismatched pairs, the base's own fields, one batch overfit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grounding.config import load_config
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.models import build_model
from grounding.models.masra import CAPTION_KEYS, EVENT_KEYS, MasraModel, distinct_videos, mismatched_pairs
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus
from tests.grounding.models.batches import make_batch, make_items, model_batch, tiny_config

REPO = Path(__file__).resolve().parents[3]
ALL_OFF = {"use_esta": False, "use_lrca": False, "use_sge": False, "use_sora": False, "use_dai": False}
PRIOR_KEYS = (*EVENT_KEYS, *CAPTION_KEYS)


def _masra(**overrides: object) -> MasraModel:
    torch.manual_seed(0)
    return build_model("masra", **tiny_config(**overrides))


@pytest.mark.parametrize("base", ["span", "qd_detr"])
def test_every_switch_off_is_the_base_model(base: str) -> None:
    torch.manual_seed(0)
    plain = build_model(base, **tiny_config()).eval()
    masra = _masra(base=base, **ALL_OFF).eval()
    assert sum(p.numel() for p in masra.parameters()) == sum(p.numel() for p in plain.parameters())
    assert (masra.required_keys, masra.loss_keys) == (plain.required_keys, plain.loss_keys)
    masra.base.load_state_dict(plain.state_dict())
    batch = model_batch(plain, make_items(lengths=[8, 5, 7], q_lengths=[4, 3, 2]))
    got, want = masra(batch), plain(batch)
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    losses = []
    for model, out in ((masra, got), (plain, want)):
        torch.manual_seed(1)  # qd_detr draws its margin pairs in the loss
        losses.append(model.loss(out, batch)["total"])
    torch.testing.assert_close(*losses)
    assert masra.predict(batch) == plain.predict(batch)


def test_dai_without_a_codebook_keeps_qd_detr_outputs() -> None:
    """K = 0: every T2V layer's DAI is the layer's plain attention, loaded with its weights."""
    torch.manual_seed(0)
    plain = build_model("qd_detr", **tiny_config()).eval()
    masra = _masra(base="qd_detr", **{**ALL_OFF, "use_dai": True, "codebook_size": 0}).eval()
    assert len(masra.dai) == plain.config.t2v_layers
    assert all(layer.attn is unit for layer, unit in zip(masra.base.aligner.layers, masra.dai, strict=True))
    masra.base.load_state_dict(plain.state_dict())
    batch = model_batch(plain, make_items(lengths=[8, 5, 7], q_lengths=[4, 3, 2]))
    got, want = masra(batch), plain(batch)
    torch.testing.assert_close(got["pred_spans"], want["pred_spans"])
    torch.testing.assert_close(got["dai_word_mass"], batch["video_mask"].float())


def test_each_switch_adds_its_part_and_its_fields() -> None:
    esta = _masra(**{**ALL_OFF, "use_esta": True})
    path = esta.video_path
    assert path.semantic_head is not None and path.enhance is None and path.relation_head is None
    assert set(EVENT_KEYS) <= set(esta.loss_keys) and not set(CAPTION_KEYS) & set(esta.loss_keys)
    lrca = _masra(**{**ALL_OFF, "use_lrca": True})
    assert lrca.video_path.relation_head is not None and lrca.sora is None
    assert set(CAPTION_KEYS) <= set(lrca.loss_keys)
    sge, sora = _masra(**{**ALL_OFF, "use_sge": True}), _masra(**{**ALL_OFF, "use_sora": True})
    assert sge.video_path.enhance is not None and not set(PRIOR_KEYS) & set(sge.loss_keys)
    assert sora.sora is sora.base.attn.x_self and sora.video_path.sora is None  # the base's query-agnostic slot
    assert sora.video_path.relation_head is None and sora.sora.relation_head is not None
    assert not set(PRIOR_KEYS) & set(sora.loss_keys)
    qd_sora = _masra(base="qd_detr", **{**ALL_OFF, "use_sora": True})
    assert qd_sora.sora is qd_sora.video_path.sora  # no slot in qd_detr: a layer of MASRA's video path
    dai = _masra(**{**ALL_OFF, "use_dai": True})
    assert dai.dai == [dai.base.attn.x_cross] and dai.dai[0].codebook.size == 45
    assert _masra(**{**ALL_OFF, "use_dai": True, "codebook_size": 0}).dai[0].codebook is None
    weightless = _masra(esta_weight=0.0, lrca_weight=0.0)  # heads still feed SGE / SORA, no prior is loaded
    assert not set(PRIOR_KEYS) & set(weightless.loss_keys)
    full = _masra()
    assert full.required_keys == ("video", "video_mask", "query_tokens", "query_mask")  # never a prior
    assert _masra(base="qd_detr").required_keys == build_model("qd_detr", **tiny_config()).required_keys


def test_base_fields_are_validated_by_the_base() -> None:
    model = _masra(use_guided_conv=False, highlight_weight=2.0)
    assert model.base.guided_conv is None and model.base.config.highlight_weight == 2.0
    assert model.base.config.hidden == 16 and model.base.config.heads == 4
    with pytest.raises(ValueError, match="use_guided_cnv.*did you mean 'use_guided_conv'"):
        _masra(use_guided_cnv=False)
    with pytest.raises(ValueError, match="unknown masra base 'spam'; did you mean 'span'"):
        _masra(base="spam")
    cfg = load_config(None, {"model": {"name": "masra", "hidden": 16, "heads": 4, "use_guided_conv": False}})
    assert cfg.model.validated().model_dump()["use_guided_conv"] is False  # reaches the base from YAML / flags


def test_predicts_from_a_batch_with_no_prior_fields() -> None:
    model = _masra()
    items = make_items(lengths=[8, 5, 7], q_lengths=[4, 3, 2], seed=2)
    full = model_batch(model, items)
    bare = {k: v for k, v in full.items() if k not in PRIOR_KEYS and k not in ("narratives", "narrative_mask")}
    model.eval()
    assert model.predict(bare, k=3) == model.predict(full, k=3)
    model.train()
    out = model(bare)  # training forward reads no prior either; only the loss does
    with pytest.raises(KeyError, match="events"):
        model.loss(out, bare)


def test_esta_and_lrca_see_each_video_once() -> None:
    model = _masra(dropout=0.0).train()  # the heads' inputs are kept for the loss in training only
    once = make_items(lengths=[8, 6], q_lengths=[4, 3], seed=3)
    other = make_items(lengths=[8], q_lengths=[2], seed=9)[0]  # another query of video v0
    twice = [
        once[0],
        {**once[0], "query_id": "qx", "query_tokens": other["query_tokens"], "query_sentence": other["query_sentence"]},
        once[1],
    ]
    a, b = model_batch(model, once), model_batch(model, twice)
    rows, durations = distinct_videos(b)
    assert rows.tolist() == [0, 2] and durations.tolist() == [8.0, 6.0]
    la, lb = model.loss(model(a), a), model.loss(model(b), b)
    torch.testing.assert_close(la["esta"], lb["esta"])
    torch.testing.assert_close(la["lrca"], lb["lrca"])
    shared = model_batch(model, twice, share_videos=True)  # video rows are distinct already
    assert [t.tolist() for t in distinct_videos(shared)] == [[0, 1], [8.0, 6.0]]


def test_shared_videos_give_the_per_query_outputs() -> None:
    model = _masra().eval()
    items = make_items(lengths=[8, 8, 6], q_lengths=[4, 2, 3], seed=4, videos=[0, 0, 2])
    per_query = model_batch(model, items, labels=False)
    shared = model_batch(model, items, labels=False, share_videos=True)
    a, b = model(per_query), model(shared)
    for key in ("start_logits", "end_logits", "highlight_logits", "dai_word_mass"):
        torch.testing.assert_close(a[key], b[key])
    assert model.predict(per_query) == model.predict(shared)


def test_dai_word_mass_and_mismatched_pairs() -> None:
    model = _masra().train()
    items = make_items(lengths=[8, 8, 6], q_lengths=[4, 2, 3], seed=5, videos=[0, 0, 2])
    batch = model_batch(model, items)
    assert mismatched_pairs(batch).tolist() == [True, False, True]  # query 1 with query 0's words: same video
    out = model(batch)
    mask = batch["video_mask"]
    assert ((out["dai_word_mass"] > 0) & (out["dai_word_mass"] < 1))[mask].all()
    assert out["dai_neg_pairs"].tolist() == [True, False, True]  # the same-video pair is left out of L_neg
    assert (out["dai_word_mass_neg"][0][mask[0]] > 0).all()
    parts = model.loss(out, batch)
    assert {"dai_fg", "dai_neg", "dai_orth", "esta", "lrca", "vmr", "highlight"} <= set(parts)
    assert "dai_word_mass_neg" not in model.eval()(batch)  # the extra pass is training-only
    curves = model.curves(model(batch), batch)
    assert len(curves[2]["word_mass"]) == 6


def test_qd_detr_base_gives_the_mismatched_pairs_from_its_negative_pass() -> None:
    model = _masra(base="qd_detr").train()
    items = make_items(lengths=[8, 8, 6], q_lengths=[4, 2, 3], seed=5, videos=[0, 0, 2])
    batch = model_batch(model, items)
    out = model(batch)
    assert out["dai_neg_pairs"].all() and out["dai_word_mass_neg"].shape == out["dai_word_mass"].shape
    assert out["codebook"].shape == (3, 45, 16)  # one codebook for the T2V stack, as CG-DETR's
    first, second = model.dai
    assert first.codebook is not None and second.codebook is None and second.follows is first
    assert not any(".1.attn.codebook" in name for name, _ in model.named_parameters())  # held once
    parts = model.loss(out, batch)
    assert {"dai_fg", "dai_neg", "dai_orth", "esta", "lrca", "saliency_rank"} <= set(parts)
    assert all(not unit.calls for unit in model.dai)  # records are read and cleared every forward
    one_video = model_batch(model, [items[0], items[1]])
    assert "dai_word_mass_neg" not in model(one_video)  # qd_detr has no other video to pair with


@pytest.mark.slow
def test_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = build_model("masra", **tiny_config(hidden=32, dropout=0.0))
    batch = make_batch(lengths=[12, 10, 8, 12], q_lengths=[4, 3, 5, 2], seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = model.loss(model(batch), batch)
    for _ in range(120):
        loss = model.loss(model(batch), batch)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
    final = {k: v.item() for k, v in model.loss(model(batch), batch).items()}
    assert first["total"].item() > 5.0 and first["esta"].item() > 1.0
    assert final["vmr"] < 0.01 and final["highlight"] < 0.005, final
    assert final["esta"] < 0.05 and final["lrca"] < 0.01 and final["dai_fg"] < 0.02 and final["dai_neg"] < 0.02, final
    assert final["dai_orth"] < first["dai_orth"].item()  # 45 entries in 32 dims cannot all be orthogonal


@pytest.mark.slow
def test_overfits_one_batch_on_qd_detr() -> None:
    torch.manual_seed(0)
    model = build_model(
        "masra", base="qd_detr", input_dropout=0.0, ffn_dim=64, **tiny_config(hidden=32, heads=4, dropout=0.0)
    )
    batch = model_batch(model, make_items(lengths=[12, 10, 8, 12], q_lengths=[4, 3, 5, 2], seed=1))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    first = {k: v.item() for k, v in model.loss(model(batch), batch).items()}
    for _ in range(150):
        loss = model.loss(model(batch), batch)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
    final = {k: v.item() for k, v in model.loss(model(batch), batch).items()}
    assert final["span"] < 0.1 * first["span"] and final["giou"] < 0.3 * first["giou"], (first, final)
    assert final["total"] < 0.1 * first["total"], (first, final)
    assert final["esta"] < 0.05 * first["esta"] and final["lrca"] < 0.05 * first["lrca"], (first, final)
    assert final["dai_fg"] < 0.5 * first["dai_fg"], (first, final)


# -- through the real data path: priors for the training split only, none at inference ------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("masra")
    corpus = build_tiny_corpus(root, n_videos=4)
    cfg = load_config(
        None,
        {
            "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
            "model": {"name": "masra", "hidden": 16, "heads": 2, "codebook_size": 4},
            "optim": {"batch_size": 4, "epochs": 1},
            "out_dir": str(root / "run"),
            "device": "cpu",
        },
    )
    result = fit(cfg, progress=False)
    return corpus, root / "run", result


def test_priors_are_loaded_for_training_only(trained) -> None:
    corpus, _, result = trained
    assert {"loss/esta", "loss/lrca", "loss/dai_fg"} <= set(result.history[0])
    model = build_model("masra", video_dim=corpus.video_dim, text_dim=corpus.text_dim, hidden=16, heads=2)
    info = read_manifest(corpus.manifest)
    store = open_video_store(info, [str(corpus.features)])
    train = GroundingDataset(info, "train", store, 16, fields=(*model.required_keys, *model.loss_keys))
    assert set(train.priors) == {"event", "clip_caption"}
    item = train[0]
    assert item["events"].shape == (2, corpus.text_dim) and item["clip_captions"].shape[0] >= 2
    val = GroundingDataset(info, "val", store, 16, fields=model.required_keys)
    assert val.priors == {} and not set(PRIOR_KEYS) & set(val[0])


@pytest.mark.slow
def test_inference_reads_no_prior_and_imports_neither_pipeline_nor_transformers(trained) -> None:
    _, path, _ = trained
    code = f"""
import json, sys
from grounding.predict import Predictor
p = Predictor.from_checkpoint({str(path)!r})
w = p.predict("vid01", "person does thing 0 in vid01", k=2)
kinds = sorted({{k for ds in p._datasets.values() for k in ds.priors}})
fields = sorted(p._items([("vid01", "person does thing 0 in vid01")])[0])
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("pipeline", "transformers", "vllm"))
print(json.dumps({{"windows": w, "bad": bad, "kinds": kinds, "fields": fields}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bad"] == [] and report["kinds"] == [] and len(report["windows"]) == 2
    assert not set(PRIOR_KEYS) & set(report["fields"]) and "video" in report["fields"]


def test_qd_detr_base_trains_saves_and_predicts_without_priors(tmp_path: Path) -> None:
    from grounding.predict import Predictor

    corpus = build_tiny_corpus(tmp_path, n_videos=4)
    cfg = load_config(
        None,
        {
            "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
            "model": {"name": "masra", "base": "qd_detr", "hidden": 16, "heads": 2, "ffn_dim": 32, "codebook_size": 4},
            "optim": {"batch_size": 2, "epochs": 1},
            "out_dir": str(tmp_path / "run"),
            "device": "cpu",
        },
    )
    result = fit(cfg, progress=False)
    assert {"loss/esta", "loss/lrca", "loss/dai_fg", "loss/span"} <= set(result.history[0])
    predictor = Predictor.from_checkpoint(tmp_path / "run")  # safetensors: every tensor held once
    assert len(predictor.model.dai) == 2 and predictor.model.dai[1].follows is predictor.model.dai[0]
    windows = predictor.predict("vid01", "person does thing 0 in vid01", k=3)
    assert len(windows) == 3 and all(0 <= s <= e <= corpus.videos["vid01"] for s, e, _ in windows)
    assert all(not ds.priors for ds in predictor._datasets.values())
