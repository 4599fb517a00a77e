"""Fixtures shared by the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository root (where pyproject.toml and lessons/ are)."""
    return REPO_ROOT
