"""``python -m bot`` is the same as the ``runway-bot`` command."""

from bot.cli import main

raise SystemExit(main())
