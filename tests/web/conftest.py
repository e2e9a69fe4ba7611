"""Signed-in browsers (Django's test Client) for the web pages' tests."""

from __future__ import annotations

import pytest
from django.test import Client


def web_client(user) -> Client:
    """A Client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member_web(member) -> Client:
    return web_client(member)


@pytest.fixture
def viewer_web(viewer) -> Client:
    return web_client(viewer)


@pytest.fixture
def staff_web(staff) -> Client:
    return web_client(staff)
