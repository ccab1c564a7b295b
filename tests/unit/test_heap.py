"""heap.settle: what exists after start-up is frozen out of the collector's sight; what comes later is not."""
from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway.server import heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settle_freezes_the_objects_that_survive_start_up(unfrozen: None) -> None:
    loaded = [[i] for i in range(1000)]  # long-lived containers, like a policy table's
    frozen = heap.settle()
    assert frozen >= len(loaded) and gc.get_freeze_count() == frozen
    watched = {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}
    assert not any(id(x) in watched for x in loaded)  # no collection walks them any more
    later = [[1]]
    assert any(o is later[0] for o in gc.get_objects(generation=0))  # what calls create is collected as before
