"""python -m jaxnets.experiments: the same as the ``jaxnets`` command."""

import sys

from jaxnets.experiments._cli import main

sys.exit(main())
