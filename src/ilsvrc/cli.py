"""The `ilsvrc` command: the parser built from the table in ilsvrc.commands, and the one place errors
become one line on stderr and an exit status.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from ilsvrc import __version__, progress
from ilsvrc.commands import COMMANDS
from ilsvrc.errors import IlsvrcError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage itself is one `--help` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ilsvrc", description="ILSVRC 2012 and the road to it: datasets, models, training, evaluation.")
    parser.add_argument("--version", action="version", version=f"ilsvrc {__version__}")
    groups = {(): parser.add_subparsers(metavar="COMMAND", parser_class=Parser)}
    for command in COMMANDS:
        for depth in range(1, len(command.path)):
            prefix = command.path[:depth]
            if prefix not in groups:
                group = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                group.set_defaults(_group=group)
                groups[prefix] = group.add_subparsers(metavar="COMMAND", parser_class=Parser)
        sub = groups[command.path[:-1]].add_parser(
            command.path[-1], help=command.help, description=command.help, epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter if command.epilog else argparse.HelpFormatter)
        for names, kwargs in command.args:
            sub.add_argument(*names, **kwargs)
        sub.set_defaults(_target=command.target)
    parser.set_defaults(_group=parser)
    return parser


def call(target: str, options: dict):
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)(**options)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    group = args.pop("_group")
    target = args.pop("_target", None)
    if target is None:
        group.print_help()
        return 2
    progress.set_quiet(args.pop("quiet", False))  # the one switch for bars and progress lines
    try:
        result = call(target, args)
    except IlsvrcError as e:
        _close_progress_bars()
        print(f"ilsvrc: {getattr(e, 'label', 'error')}: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except KeyboardInterrupt:
        _close_progress_bars()
        print("ilsvrc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)


def _close_progress_bars() -> None:
    """Close the bars an interrupt or an error left open, so that the message starts a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()
