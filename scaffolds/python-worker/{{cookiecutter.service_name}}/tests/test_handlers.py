from __future__ import annotations

import pytest

from worker.handlers import PermanentError, handle


def test_word_count():
    assert handle({"kind": "word_count", "payload": {"text": "to be or not"}}) == {
        "words": 4,
        "characters": 12,
    }


def test_echo():
    assert handle({"kind": "echo", "payload": {"a": 1}}) == {"echo": {"a": 1}}


@pytest.mark.parametrize(
    "job",
    [
        {"kind": "no-such-task"},
        {"payload": {}},
        {"kind": ["echo"]},
        {"kind": "echo", "payload": "not an object"},
        {"kind": "word_count", "payload": {"text": 42}},
    ],
)
def test_a_job_that_cannot_succeed_is_a_permanent_error(job):
    with pytest.raises(PermanentError):
        handle(job)
