"""Deterministic weights for fixed-weight numeric tests (torchtune's fixed_init_model idea):
every parameter gets a sine pattern of its own phase, so heads and gates all differ."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def fixed_init(module: nn.Module, scale: float = 0.3) -> None:
    with torch.no_grad():
        for i, (_, p) in enumerate(sorted(module.named_parameters())):
            values = scale * torch.sin(1.7 * torch.arange(p.numel(), dtype=torch.float64) + 1.3 * i)
            p.copy_(values.view_as(p).to(p.dtype))


def np_params(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in module.named_parameters()}


def linear(x: np.ndarray, p: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]


def softmax(x: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """Softmax over valid entries; zeros where the row has none."""
    x = np.where(mask, x, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(mask, np.exp(x - m), 0.0)
    s = e.sum(axis=axis, keepdims=True)
    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * weight + bias


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
