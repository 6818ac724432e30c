"""Prompt templates: every shipped file loads, and every kind of broken file is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from groundwork.errors import InputError
from pipeline.prompts import PROMPTS_ROOT, PromptError, load_prompt, validate_all

SHIPPED = {
    "narrate_frame",
    "caption_clip",
    "describe_events",
    "rewrite_query",
    "caption_for_query",
    "rewrite_query_pairs",
    "caption_key_frame",
    "caption_frame",
    "select_key_frames",  # these four: GranAlign
    "reason_when_what",
}  # Bridge-STG's temporal reasoning prior
TEA_PROMPT = (
    "This is one image frame sampled from a video. Please caption this frame in two or three sentences, "
    "to describe this frame with some details but without any analysis."
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the shipped prompts/ folder that a test may break."""
    copy = tmp_path / "prompts"
    shutil.copytree(PROMPTS_ROOT, copy)
    return copy


def edit(root: Path, prompt_id: str, **changes: object) -> Path:
    path = root / f"{prompt_id}.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def test_all_five_ship_and_render_their_examples() -> None:
    prompts = validate_all()
    assert set(prompts) == SHIPPED
    for prompt in prompts.values():
        assert prompt.render(**prompt.variables).strip()
        assert len(prompt.sha256) == 64


def test_narrate_frame_is_teas_wording() -> None:
    prompt = load_prompt("narrate_frame")
    assert prompt.render() == TEA_PROMPT
    assert prompt.n_images == 1 and prompt.json_schema is None


def test_structured_and_text_only_templates() -> None:
    events = load_prompt("describe_events")
    text = events.render(timestamps=[0.0, 2.5], duration=5.0)
    assert "2.5 s" in text and "5.0 seconds" in text
    assert events.parse_output('[{"start": 0, "end": 2.5, "description": "a red ball appears"}]')[0]["end"] == 2.5
    with pytest.raises(ValueError, match="does not match its json_schema"):
        events.parse_output('[{"start": 0, "description": "no end"}]')
    rewrite = load_prompt("rewrite_query")
    assert rewrite.n_images == 0
    assert '"a man jumps"' in rewrite.render(query="a man jumps")
    assert rewrite.parse_output('{"coarse": "a", "original": "b", "fine": "c"}')["fine"] == "c"
    assert "the dog barks" in load_prompt("caption_for_query").render(query="the dog barks")


def test_sha256_changes_with_template_and_version_only(root: Path) -> None:
    before = load_prompt("caption_clip", root=root).sha256
    assert load_prompt("caption_clip", root=root).sha256 == before
    edit(root, "caption_clip", description="another description")
    assert load_prompt("caption_clip", root=root).sha256 == before
    edit(root, "caption_clip", template="Describe the clip {{ clip_start }}-{{ clip_end }}.")
    assert load_prompt("caption_clip", root=root).sha256 != before


def test_unknown_id_and_version() -> None:
    with pytest.raises(PromptError, match=r"narate_frame.yaml: field 'id': unknown prompt id .*narrate_frame"):
        load_prompt("narate_frame")
    with pytest.raises(PromptError, match=r"narrate_frame.yaml: field 'version': version 7 is not available"):
        load_prompt("narrate_frame", version=7)
    assert load_prompt("narrate_frame", version=1).version == 1


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"template": None}, "template", "Field required"),
        ({"version": "two"}, "version", "valid integer"),
        ({"template": "Caption {% for x in %}"}, "template", "does not parse"),
        ({"template": "Caption at {{ clip_middle }} s"}, "template", r"\['clip_middle'\] not declared"),
        ({"template": "{{ clip_start.missing }}"}, "template", "does not render"),
        ({"json_schema": {"type": "arrray"}}, "json_schema", "not a valid JSON schema"),
        ({"changelog": [{"version": 2, "note": "x"}]}, "changelog", "end at the current version 1"),
        ({"id": "caption"}, "id", "does not match the file name"),
        ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_broken_files_name_file_and_field(root: Path, changes: dict, field: str, problem: str) -> None:
    path = edit(root, "caption_clip", **changes)
    with pytest.raises(PromptError, match=problem) as info:
        validate_all(root)
    assert info.value.field == field
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_yaml_that_does_not_parse(root: Path) -> None:
    (root / "rewrite_query.yaml").write_text("id: rewrite_query\ntemplate: [unclosed\n")
    with pytest.raises(PromptError, match=r"rewrite_query.yaml: field 'yaml': does not parse"):
        load_prompt("rewrite_query", root=root)


def test_render_refuses_missing_and_unknown_variables() -> None:
    prompt = load_prompt("caption_for_query")
    with pytest.raises(PromptError, match=r"missing variables \['query'\]"):
        prompt.render()
    with pytest.raises(PromptError, match=r"unknown variables \['qeury'\]"):
        prompt.render(query="x", qeury="x")


def test_sandbox_blocks_unsafe_attribute_access(root: Path) -> None:
    edit(root, "rewrite_query", template="{{ query.__class__.__mro__ }}")
    with pytest.raises(PromptError, match="field 'template'"):
        load_prompt("rewrite_query", root=root)


@pytest.mark.parametrize(
    "prompt_id",
    ["../../x", "../prompts/narrate_frame", "/etc/passwd", "a/b", "a.b", "", " x", "narrate_frame.yaml", "..", "x\n"],
)
def test_ids_are_names_not_paths(tmp_path: Path, prompt_id: str) -> None:
    """Regression: ``load_prompt("../../x")`` read ``prompts/../../x.yaml``, a file outside prompts/."""
    with pytest.raises(PromptError, match="is not a prompt name") as info:
        load_prompt(prompt_id, root=tmp_path)
    assert info.value.field == "id" and repr(prompt_id) in str(info.value)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)


def test_a_path_id_is_refused_even_when_the_file_exists(tmp_path: Path, root: Path) -> None:
    """Regression: a ``../`` id loaded any YAML it reached that passed the checks."""
    shutil.copy(root / "caption_clip.yaml", tmp_path / "caption_clip.yaml")
    with pytest.raises(PromptError, match="not a prompt name"):
        load_prompt("../caption_clip", root=root)


def test_user_folder_is_searched_before_the_shipped_prompts(tmp_path: Path) -> None:
    """Regression: ``root`` replaced the shipped folder, so a user's folder hid every shipped prompt."""
    mine = tmp_path / "my_prompts"
    mine.mkdir()
    shipped = yaml.safe_load((PROMPTS_ROOT / "caption_clip.yaml").read_text())
    mine_template = {**shipped, "template": "Clip {{ clip_start }}-{{ clip_end }}."}
    (mine / "caption_clip.yaml").write_text(yaml.safe_dump(mine_template))
    (mine / "my_caption.yaml").write_text(yaml.safe_dump({**shipped, "id": "my_caption"}))
    assert load_prompt("caption_clip", root=mine).source == str(mine / "caption_clip.yaml")  # the user's overrides
    assert load_prompt("caption_clip", root=mine).sha256 != load_prompt("caption_clip").sha256
    assert load_prompt("my_caption", root=mine).id == "my_caption"
    assert load_prompt("narrate_frame", root=mine).source == str(PROMPTS_ROOT / "narrate_frame.yaml")  # shipped
    with pytest.raises(PromptError, match=r"unknown prompt id 'nope' \(searched .*my_prompts then .*prompts\)"):
        load_prompt("nope", root=mine)
    with pytest.raises(PromptError, match="field 'prompts_dir': is not a folder"):
        load_prompt("narrate_frame", root=tmp_path / "missing")
