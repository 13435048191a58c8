"""Allow ``python -m smartstreet_geo.cli``."""

import sys

from . import main

sys.exit(main())
