import sys
from pathlib import Path
from typing import Any

import pytest

# The shared helpers live beside these tests (no packages under tests/: importlib mode).
sys.path.insert(0, str(Path(__file__).parent))

from deploy_support import (
    COMPOSE_FILE,
    K8S_BASE,
    K8S_PRODUCTION,
    load_yaml,
    render_kustomization,
)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """The base and the production overlay, rendered once for the session."""
    return {
        "base": render_kustomization(K8S_BASE),
        "production": render_kustomization(K8S_PRODUCTION),
    }
