"""ExampleSlots: a few clean training crops kept in a generator's buffers (saved with its weights), so
G(z) without inputs can preview what the model does on them (super-resolution, restoration)."""
from __future__ import annotations

import torch
import torch.nn as nn


class ExampleSlots(nn.Module):
    """Call `make_slots(k, c, p, name)` in __init__: buffers `name` (k, c, p, p) and `examples_n`."""

    def make_slots(self, k: int, channels: int, patch: int, name: str = "examples_hr") -> None:
        self._slots = name
        self.register_buffer(name, torch.zeros(k, channels, patch, patch))
        self.register_buffer("examples_n", torch.zeros((), dtype=torch.long))

    @property
    def stored_examples(self) -> torch.Tensor:
        return getattr(self, self._slots)

    @property
    def examples_full(self) -> bool:
        return int(self.examples_n) >= self.stored_examples.shape[0]

    @torch.no_grad()
    def remember_examples(self, x: torch.Tensor) -> None:
        n, slots = int(self.examples_n), self.stored_examples
        take = min(slots.shape[0] - n, x.shape[0])
        if take > 0 and x.shape[-1] == slots.shape[-1]:
            slots[n:n + take] = x[:take].to(slots.dtype)
            self.examples_n += take

    def cycled_examples(self, k: int) -> torch.Tensor:
        """k stored examples (cycled): (k, c, p, p)."""
        idx = torch.arange(k, device=self.stored_examples.device) % self.stored_examples.shape[0]
        return self.stored_examples[idx]
