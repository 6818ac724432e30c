"""Where a report finds the videos: the manifest records video ids, not paths, so the report looks
for ``<video id>.<ext>`` in folders (``--videos DIR``, else the usual places of the ``folder``
layout) and links each file relative to the page, so the report opens from disk (``file://``)
with no server. A video that is not found is reported, never guessed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

EXTENSIONS = (".mp4", ".webm", ".m4v", ".mov", ".mkv", ".ogv")  # what a browser's <video> may play


def default_video_dirs(dataset: str, manifest: Path) -> list[Path]:
    """Folders tried when ``--videos`` is not given: ``data/<dataset>/videos`` and
    ``data/<dataset>`` under the working directory and beside the manifest's folder (a manifest
    sits in ``manifests/``, the data in ``data/``)."""
    roots = [Path.cwd(), manifest.resolve().parent.parent]
    out: list[Path] = []
    for root in roots:
        for folder in (root / "data" / dataset / "videos", root / "data" / dataset):
            if folder not in out:
                out.append(folder)
    return out


@dataclass
class VideoLinks:
    """Video files found in ``folders``, keyed by video id (the file's stem)."""

    folders: list[Path]
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def scan(cls, folders: Sequence[Path]) -> VideoLinks:
        """One listing per folder (the first folder that holds a video wins)."""
        links = cls([Path(f) for f in folders if Path(f).is_dir()])
        for folder in links.folders:
            with os.scandir(folder) as entries:
                for entry in entries:
                    stem, ext = os.path.splitext(entry.name)
                    if ext.lower() in EXTENSIONS and stem not in links.files and entry.is_file():
                        links.files[stem] = Path(entry.path)
        return links

    def href(self, video_id: str, page_dir: Path) -> str | None:
        """The URL of the video relative to ``page_dir`` (percent-encoded), or an absolute
        ``file://`` URL when no relative path exists; None when the video was not found."""
        path = self.files.get(video_id)
        if path is None:
            return None
        try:
            rel = os.path.relpath(path.absolute(), page_dir.absolute())  # links kept as links (no resolve)
        except ValueError:  # another drive (Windows)
            return path.resolve().as_uri()
        return quote(Path(rel).as_posix())

    def missing(self, video_ids: Iterable[str]) -> list[str]:
        return sorted({v for v in video_ids if v not in self.files})
