"""Run otop as `python -m otop`."""

from otop.cli import main

raise SystemExit(main())
