"""The lock: what `make` and the image install is pinned with hashes, and agrees with pyproject.toml.

A dependency added to pyproject.toml without `make lock` fails here, before a fresh install does."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(name: str) -> dict[str, tuple[Version, int]]:
    """{package: (version, number of hashes)} of requirements/<name>."""
    found: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            assert current not in found, f"{name}: {current} pinned twice"
            found[current] = (Version(match.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            assert line.startswith("    "), f"{name}: unexpected line {line!r}"
    return found


def _requirements(*groups: str) -> list[Requirement]:
    texts = list(PROJECT["build-system"]["requires"])
    for group in groups:
        texts += PROJECT["project"]["dependencies"] if group == "main" else PROJECT["project"]["optional-dependencies"][group]
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize(("lock", "groups"), [("dev.txt", ("main", "dev")), ("main.txt", ("main",))])
def test_the_lock_pins_every_dependency_of_pyproject(lock, groups):
    pinned = pins(lock)

    problems = []
    for requirement in _requirements(*groups):
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            problems.append(f"{name} is not in requirements/{lock}")
        elif not requirement.specifier.contains(pinned[name][0], prereleases=True):
            problems.append(f"{name}=={pinned[name][0]} does not satisfy {requirement}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


@pytest.mark.parametrize("lock", ["dev.txt", "main.txt", "pip.txt"])
def test_every_pin_has_hashes(lock):
    pinned = pins(lock)

    assert pinned
    assert not [name for name, (_, hashes) in pinned.items() if hashes == 0]


def test_the_image_gets_the_same_versions_as_the_tests():
    development = pins("dev.txt")

    assert {name: version for name, (version, _) in pins("main.txt").items()} == {
        name: development[name][0] for name in pins("main.txt")}


def test_make_installs_the_lock_with_hashes_and_reinstalls_when_it_changes():
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(VENV\)/\.installed:(.*)$", makefile, re.MULTILINE)

    assert stamp is not None
    assert {"$(LOCK)", "$(LOCK_PIP)", "pyproject.toml"} <= set(stamp.group(1).split())
    assert "LOCK     := requirements/dev.txt" in makefile
    assert "LOCK_PIP := requirements/pip.txt" in makefile
    assert "--require-hashes --only-binary :all: -r $(LOCK)" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", makefile, re.MULTILINE), "the lock tool is pinned"


def test_the_image_installs_the_runtime_lock_with_hashes():
    dockerfile = (ROOT / "platform" / "Dockerfile").read_text()

    assert "--require-hashes --only-binary :all: -r requirements/main.txt" in dockerfile
    assert "--no-deps --no-build-isolation --editable ." in dockerfile
    assert "pip install ." not in dockerfile.replace("pip install --no-deps", "")


def test_the_license_is_an_spdx_expression_and_the_backend_understands_it():
    assert isinstance(PROJECT["project"]["license"], str)
    (setuptools,) = [r for r in _requirements() if r.name == "setuptools"]
    assert not setuptools.specifier.contains("76.9"), "setuptools 77 is the first to read an SPDX license"
