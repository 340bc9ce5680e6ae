"""Fixtures for the render tests: where golden files live and whether to rewrite them.

Run with SHOPMESH_UPDATE_GOLDEN=1 to regenerate every golden file from the current
render code; review the diff before keeping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN_DIR


@pytest.fixture
def update_golden() -> bool:
    return os.environ.get("SHOPMESH_UPDATE_GOLDEN") == "1"
