"""Fakes of outside systems for tests: `github.py` serves a fake GitHub REST API over HTTP."""
