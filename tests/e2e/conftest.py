import sys
from pathlib import Path

# The webhook signing helpers and the test policy live with the router's tests; the shared
# end-to-end set-up lives beside these tests (no packages under tests/: importlib mode).
sys.path.insert(0, str(Path(__file__).parent.parent / "router"))
sys.path.insert(0, str(Path(__file__).parent))
