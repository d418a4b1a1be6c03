"""Run otop as `python -m otop`."""

from otop.cli.entry import command

command()
