from __future__ import annotations

import pytest

from worker.queue import DirectoryQueue


@pytest.fixture
def queue(tmp_path) -> DirectoryQueue:
    return DirectoryQueue(tmp_path / "spool")
