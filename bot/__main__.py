"""``python -m bot``: the same command line as the ``voice-bot`` script."""

import sys

from bot.cli import main

sys.exit(main())
