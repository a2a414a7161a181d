"""`long_lived_frozen`: objects alive at `freeze()` leave the collector's passes for the batch
only, and come back to it when the batch ends, also when it fails."""

from __future__ import annotations

import gc

import pytest

from agent.collector import BATCH_THRESHOLDS, long_lived_frozen


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



def test_the_batch_thresholds_hold_during_the_batch_only() -> None:
    before = gc.get_threshold()
    assert before != BATCH_THRESHOLDS
    with pytest.raises(RuntimeError), long_lived_frozen():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        raise RuntimeError("the batch stopped")
    assert gc.get_threshold() == before


def test_overlapping_batches_restore_the_thresholds_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first, second = long_lived_frozen(), long_lived_frozen()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == BATCH_THRESHOLDS  # the second batch still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
