from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """These tensors are tiny: on a busy 2-core machine a second intra-op thread only spins
    (measured: the overfit test took 400 s with 2 threads under load, 3 s with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
