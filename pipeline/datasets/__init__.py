"""Dataset adapters. Importing this package registers every adapter in ``DATASETS``:
``DATASETS.get(name)(annotations_dir, video_root=None) -> Annotations``."""

from pipeline.datasets import activitynet, charades, folder, qvhighlights, tacos, vidstg  # noqa: F401
from pipeline.datasets import demo, demo_stvg, hcstvg  # noqa: F401
from pipeline.datasets.base import DATASETS, Annotations, PolicyReport, Query, Video

__all__ = ["DATASETS", "Annotations", "PolicyReport", "Query", "Video"]
