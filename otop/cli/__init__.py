"""The `otop` command: its fast entry, argument parser, subcommands and checks."""
