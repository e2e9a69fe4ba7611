"""`python -m worker`: run the worker until SIGTERM or SIGINT (Ctrl-C)."""

import sys

from worker.runner import main

sys.exit(main())
