import sys
from pathlib import Path

# The reference service lives beside the tests and also runs as a child process.
sys.path.insert(0, str(Path(__file__).parent))
