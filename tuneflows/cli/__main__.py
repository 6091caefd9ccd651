"""``python -m tuneflows.cli``."""

import sys

from tuneflows.cli.main import main

sys.exit(main())
