import sys
from pathlib import Path

# router_support.py lives beside the tests (no packages under tests/: --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))
