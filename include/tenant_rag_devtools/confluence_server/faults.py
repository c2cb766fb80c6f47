"""Switchable fault injection for the local server: 429 + Retry-After, 500, slow answers, dropped connections."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "slow", "drop")


@dataclass(frozen=True)
class FaultSettings:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: float = 0.05
    slow_seconds: float = 0.2
    fail_limit_above: int | None = None  # requests asking for a larger page always get a 500


class FaultInjector:
    """Draws a fault (or none) per request from a seeded RNG, so a run's fault pattern is reproducible."""

    def __init__(self, seed: int = 0) -> None:
        self.settings = FaultSettings()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = dict.fromkeys((*FAULT_KINDS, "limit"), 0)

    def configure(
        self,
        *,
        rate: float = 0.0,
        kinds: Sequence[str] = FAULT_KINDS,
        retry_after: float = 0.05,
        slow_seconds: float = 0.2,
        fail_limit_above: int | None = None,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {FAULT_KINDS}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate {rate} must be within [0, 1]")
        self.settings = FaultSettings(rate, tuple(kinds), retry_after, slow_seconds, fail_limit_above)

    def draw(self, limit: int | None) -> str | None:
        settings = self.settings
        with self._lock:
            if settings.fail_limit_above is not None and limit is not None and limit > settings.fail_limit_above:
                self.injected["limit"] += 1
                return "500"
            if settings.rate <= 0 or not settings.kinds or self._random.random() >= settings.rate:
                return None
            kind = self._random.choice(settings.kinds)
            self.injected[kind] += 1
            return kind
