"""Dataset adapters. Importing this package registers every adapter in ``DATASETS``:
``DATASETS.get(name)(annotations_dir, video_root=None) -> Annotations``."""

# importing each adapter module registers it in DATASETS
from pipeline.datasets import (  # noqa: F401
    activitynet,
    charades,
    demo,
    demo_stvg,
    folder,
    hcstvg,
    qvhighlights,
    tacos,
    vidstg,
)
from pipeline.datasets.base import DATASETS, Annotations, PolicyReport, Query, Video

__all__ = ["DATASETS", "Annotations", "PolicyReport", "Query", "Video"]
