import sys

from baton_sla_monitor.cli import main

sys.exit(main())
