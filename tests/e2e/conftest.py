import sys
from pathlib import Path

# The webhook signing helpers and the test policy live with the router's tests.
sys.path.insert(0, str(Path(__file__).parent.parent / "router"))
