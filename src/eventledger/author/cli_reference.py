"""docs/cli.md: the --help of every command, so the reference cannot fall behind the code."""

from __future__ import annotations

import click

WIDTH = 88


def _group() -> click.Group:
    from eventledger.cli import main  # imported late: cli imports the generator that calls this

    return main


def _context(
    command: click.Command, name: str, parent: click.Context | None = None
) -> click.Context:
    # Settings given explicitly so the text is the same whether or not a CLI run is in progress.
    settings = {**_group().context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def commands() -> dict[str, click.Command]:
    main = _group()
    ctx = _context(main, "eventledger")
    found = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


def cli_markdown() -> str:
    main = _group()
    root = _context(main, "eventledger")
    lines = [
        "# Command reference",
        "",
        "Generated from the commands' own help by `eventledger generate`; do not edit by hand.",
        "",
        "## eventledger",
        "",
        "```",
        main.get_help(root),
        "```",
        "",
    ]
    for name, command in commands().items():
        help_text = command.get_help(_context(command, name, root))
        lines += [f"## eventledger {name}", "", "```", help_text, "```", ""]
    return "\n".join(lines)
