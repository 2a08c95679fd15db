"""Shared fixtures. Dataset tests skip on a developer machine without the data,
but fail under CI (GRU_EXPLORER_REQUIRE_DATA=1, set by .ci/run)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gru_core.archs import NAMES
from gru_core.data import DataNotFoundError, resolve_imdb_path, resolve_rt_path
from gru_core.predictor import SentimentModel

from .tiny import tiny_model

REQUIRE_DATA = os.environ.get("GRU_EXPLORER_REQUIRE_DATA") == "1"


def _need(resolve, what: str) -> Path:
    try:
        return resolve()
    except DataNotFoundError as e:
        if REQUIRE_DATA:
            pytest.fail(f"{what} is required here (GRU_EXPLORER_REQUIRE_DATA=1): {e}")
        pytest.skip(f"{what} not available: {e}")


@pytest.fixture(scope="session")
def imdb_path() -> Path:
    return _need(resolve_imdb_path, "the IMDB dataset")


@pytest.fixture(scope="session")
def rt_path() -> Path:
    return _need(resolve_rt_path, "the Rotten Tomatoes sentences")


@pytest.fixture(scope="session")
def imdb_test(imdb_path):
    from gru_core.data import load_imdb

    return load_imdb("test", imdb_path)


@pytest.fixture(scope="session")
def imdb_train(imdb_path):
    from gru_core.data import load_imdb

    return load_imdb("train", imdb_path)


@pytest.fixture(scope="module", params=NAMES)
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def tiny_arch_model(arch) -> SentimentModel:
    """A tiny random model of each architecture (``arch``), seeded by its place in NAMES."""
    return tiny_model(arch, seed=NAMES.index(arch))
