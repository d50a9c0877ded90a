import sys

from baton_feedback.cli import main

sys.exit(main())
