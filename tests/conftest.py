from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data folder is missing: {SHARED}")
    return SHARED


# The training tests' fixtures live in a module of their own: a second conftest.py (tests/train)
# would be imported under the same module name and shadow this one for `from conftest import`.
from train_fixtures import mix_dir, one_group_dir, tokenizer_dir  # noqa: E402,F401
