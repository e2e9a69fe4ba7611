"""An import holds what it keeps of each document, never all the documents of a file at once (issue #14)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

from services.descriptors import importer, parse
from services.descriptors.importer import check_text
from services.descriptors.parse import parse_text


def components(count: int) -> str:
    return "".join(
        f"---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: service-{index}\n"
        f"  description: Service number {index} of the test catalog\n  tags: [python]\n"
        f"  annotations: {{github.com/project-slug: acme/service-{index}}}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-{index % 50}\n"
        f"  system: system-{index % 10}\n  dependsOn: [component:default/service-{index // 2}]\n"
        for index in range(count))


def traced(work: Callable[[], Any]) -> tuple[int, int]:
    """What `work` took at its peak beyond what it keeps, and what it keeps, in bytes."""
    tracemalloc.start()
    try:
        kept_by_work = work()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept_by_work
    return peak - kept, kept


def test_checking_a_file_never_holds_its_documents_all_at_once(monkeypatch) -> None:
    monkeypatch.setattr(parse, "SHARED_STRINGS", 1_000)  # its own bound, small enough to see past here
    text = components(3_000)
    _, documents = traced(lambda: parse_text(text))  # what holding every parsed document costs
    passing, _ = traced(lambda: check_text(text, "catalog.yaml", {}))
    # Checking a list of the parsed documents (as import did before) passed through all of it.
    assert passing < documents / 5


def test_the_forked_half_sends_what_it_checked_in_bounded_parts(monkeypatch) -> None:
    monkeypatch.setattr(importer, "SEND_DOCUMENTS", 100)
    parts: list[int] = []
    results, entities, count, _ = check_text(components(450), "catalog.yaml", {},
                                             sink=lambda part: parts.append(len(part[0])))
    assert parts == [100, 100, 100, 100, 50]
    assert (results, entities, count) == ([], [], 450)
