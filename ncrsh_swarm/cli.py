"""The ``ncrsh`` command: the client commands (the SDK: login, nodes, train, models, consensus,
network), plus any commands that installed packages register under the ``ncrsh.commands``
entry point (the server's serve and worker). This package imports neither Django nor torch."""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

from ncrsh_swarm.commands import add_client_commands

PLUGINS = "ncrsh.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ncrsh", description="ncrsh-Swarm: cooperative training across machines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for plugin in entry_points(group=PLUGINS):
        plugin.load()(commands)  # the server's load nothing beyond the standard library until run
    add_client_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)
