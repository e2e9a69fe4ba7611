"""Pace writes per credential across every worker process, through the database.

Two rules, both kept in one short locked transaction per write (a HostThrottle row reserved with
SELECT ... FOR UPDATE; on SQLite the IMMEDIATE transaction serialises the same way):

- **Spacing**: two writes with one credential are at least `spacing` seconds apart (HostThrottle.next_at).
- **Rolling-hour budget**: in ANY 60-minute window at most `per_hour` writes (GitHub's secondary
  limit is 500 an hour per credential; Slipway keeps headroom for other writers of the same token).

The budget is a sliding log: a HostWriteSlot row per reserved write. Slots are handed out in
non-decreasing time order (each new slot is at or after HostThrottle.next_at, which is at or after the
previous slot), so only the window that ends at the new slot can gain a write. That window, the hour
before slot t, holds fewer than N slots exactly when the N-th most recent slot is at least an hour
before t; so the new slot is

    t = max(now, next_at, (N-th most recent slot) + 1 hour)

and then, for any two slots N positions apart in time order, s[i + N] - s[i] >= 1 hour: no half-open
hour holds more than N. Slots an hour old or older can never share a window with a future slot, so
each reservation deletes them first; the table keeps the last hour's slots and the few reserved
ahead (at most 2N rows per credential). (A fixed clock
hour would let 2N through across the hour's boundary; GCRA with a burst of N lets 2N - 1 through in an
hour: neither keeps the "any window" promise.)

A worker is never held for long: when t is further away than `max_sleep` seconds, nothing is
reserved and WriteSlotDeferred (a TransientHostError) tells the runner when to come back; the runner
hands the step back to the queue until then, exactly as for a rate-limit answer with Retry-After, and
does not count it as a failed attempt. Runs deferred together compete again at that time: each gets
a near slot (and sleeps at most `max_sleep`) or a later resume time. Nothing is lost or done twice.

Leaks: only slots within `max_sleep` are reserved, by the process that is about to send the write.
If that write is never sent (the process dies while it sleeps, the connection fails), its slot still
counts until it is an hour old and is then pruned like any other: the budget errs on the side of
fewer writes for at most an hour, never forever (a request that failed on the way may well have
been counted by GitHub too). A deferred step holds no slot at all.

Clock: each process's `django.utils.timezone.now()`; workers on several hosts need synchronised
clocks (NTP), and the headroom under GitHub's 500 absorbs the small gap between a slot and the moment
GitHub receives the request.
"""

from __future__ import annotations

import datetime
import hashlib
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from services.hosts.base import TransientHostError
from services.models import HostThrottle, HostWriteSlot

WINDOW = datetime.timedelta(hours=1)
RESERVE_TRIES = 3

# The sleep between reserving a slot and sending the write; tests replace it to move a fake clock.
_sleep = time.sleep


BUDGET_REASON = "GitHub write budget used up"
QUEUE_REASON = "GitHub writes are queued behind other runs"


class WriteSlotDeferred(TransientHostError):
    """The credential's next write slot is more than the allowed sleep away: come back at `resume_at`.

    Not a fault: the runner reschedules the step for `resume_at` without counting an attempt."""

    def __init__(self, *, resume_at: datetime.datetime, now: datetime.datetime, budget: bool) -> None:
        at = resume_at.astimezone(datetime.UTC)
        reason = BUDGET_REASON if budget else QUEUE_REASON
        super().__init__(f"{reason}; resuming at {at:%H:%M:%S} UTC",
                         retry_after=max((resume_at - now).total_seconds(), 0.0))
        self.resume_at = resume_at
        self.budget = budget


def credential_key(*parts: str) -> str:
    """A stable, non-secret key for a credential."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def write_slot_reserve(key: str, *, spacing: float, per_hour: int = 0,
                       max_sleep: float = 30.0) -> datetime.datetime:
    """Reserve the next write slot for `key` and answer its time; WriteSlotDeferred (nothing
    reserved) when that slot is more than `max_sleep` seconds away. `per_hour` 0: no budget."""
    gap = datetime.timedelta(seconds=max(spacing, 0.0))
    for _ in range(RESERVE_TRIES):
        try:
            with transaction.atomic():
                row = HostThrottle.objects.select_for_update().filter(key=key).first()
                now = timezone.now()  # read under the lock: the slot is never before it
                if row is None:
                    # Another process creating the row at once makes this insert fail: try again.
                    row = HostThrottle.objects.create(key=key, next_at=now)
                slot = max(now, row.next_at)
                budget_bound = False
                if per_hour > 0:
                    HostWriteSlot.objects.filter(key=key, at__lte=now - WINDOW).delete()
                    nth_latest = (HostWriteSlot.objects.filter(key=key).order_by("-at")
                                  .values_list("at", flat=True)[per_hour - 1:per_hour].first())
                    if nth_latest is not None and nth_latest + WINDOW > slot:
                        slot, budget_bound = nth_latest + WINDOW, True
                if (slot - now).total_seconds() > max_sleep:
                    deferred = WriteSlotDeferred(resume_at=slot, now=now, budget=budget_bound)
                else:
                    deferred = None
                    row.next_at = slot + gap
                    row.save(update_fields=["next_at"])
                    if per_hour > 0:
                        HostWriteSlot.objects.create(key=key, at=slot)
        except IntegrityError:
            continue
        if deferred is not None:
            raise deferred  # after commit: the pruning stays done, nothing was reserved
        return slot
    raise TransientHostError("could not reserve a GitHub write slot; trying again shortly")


def throttle_wait(key: str, spacing: float, *, per_hour: int = 0, max_sleep: float = 30.0) -> datetime.datetime | None:
    """Reserve the next write slot for `key` and sleep until it (at most `max_sleep` seconds); answers
    the slot, or None when neither spacing nor budget is on. Raises WriteSlotDeferred instead of
    sleeping longer."""
    if spacing <= 0 and per_hour <= 0:
        return None
    slot = write_slot_reserve(key, spacing=spacing, per_hour=per_hour, max_sleep=max_sleep)
    wait = (slot - timezone.now()).total_seconds()
    if wait > 0:
        _sleep(wait)
    return slot
