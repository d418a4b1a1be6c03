"""Run otop as `python -m otop`."""

from otop.entry import main

raise SystemExit(main())
