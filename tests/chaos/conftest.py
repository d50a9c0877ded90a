import sys
from pathlib import Path

# The webhook signing helpers live with the router's tests; the chaos harness lives beside
# these tests (no packages under tests/: importlib mode).
sys.path.insert(0, str(Path(__file__).parent.parent / "router"))
sys.path.insert(0, str(Path(__file__).parent))
