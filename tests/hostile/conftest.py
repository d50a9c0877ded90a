import sys
from pathlib import Path

# The webhook signing helpers and the test policy live with the router's tests; shared
# hostile-input helpers live beside these tests (no packages under tests/: importlib mode).
sys.path.insert(0, str(Path(__file__).parent.parent / "router"))
sys.path.insert(0, str(Path(__file__).parent))
# The SLA monitor's test policy and records, for seeding a lead with a deadline.
sys.path.append(str(Path(__file__).parent.parent / "sla_monitor"))
