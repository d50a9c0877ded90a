import sys

from baton_router.cli import main

sys.exit(main())
