"""`long_lived_frozen`: objects alive at `freeze()` leave the collector's passes for the batch
only, and come back to it when the batch ends, also when it fails."""

from __future__ import annotations

import gc

import pytest

from agent.collector import long_lived_frozen


def test_freeze_moves_what_is_alive_out_of_the_passes_until_the_batch_ends() -> None:
    assert gc.get_freeze_count() == 0
    with long_lived_frozen() as freeze:
        assert gc.get_freeze_count() == 0  # nothing is frozen before the first case
        kept = [[i] for i in range(1000)]
        freeze()
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        freeze()  # once only: later calls change nothing
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_a_failed_batch_gives_everything_back() -> None:
    with pytest.raises(RuntimeError), long_lived_frozen() as freeze:
        freeze()
        raise RuntimeError("the batch stopped")
    assert gc.get_freeze_count() == 0

