"""The embedding MLP of grokking studies on modular arithmetic (e.g. Liu et al. 2022, Omnigrok):
one shared embedding table for both operands, concatenated, one hidden ReLU layer, p logits.

Inputs are one-hot (N, 2, p) floats and the table is a bias-free ``nn.Linear`` initialised
N(0, 1) like ``nn.Embedding``: the same function as an embedding lookup, but input-space
methods (mixup) then interpolate one-hot codes instead of failing on integer indices.
"""

from __future__ import annotations


def embedding_mlp(p: int, dim: int = 64, hidden: int = 256):
    import torch
    from torch import nn

    class EmbeddingMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(p, dim, bias=False)
            nn.init.normal_(self.embed.weight)  # nn.Embedding's N(0, 1)
            self.hidden = nn.Linear(2 * dim, hidden)
            self.out = nn.Linear(hidden, p)  # the last nn.Linear: the harmonic losses replace it

        def forward(self, x):
            return self.out(torch.relu(self.hidden(self.embed(x).flatten(1))))

    return EmbeddingMLP()
