"""The fault tests' own settings of the shared fixtures."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.django_db


def test_a_run_on_github_is_leased_well_past_the_client_timeout(github):
    # A call that hangs until the client's timeout must not let another worker take the run.
    lease, timeout = int(os.environ["SLIPWAY_RUN_LEASE_SECONDS"]), int(os.environ["SLIPWAY_GITHUB_TIMEOUT_SECONDS"])
    assert lease >= 3 * timeout, (lease, timeout)
