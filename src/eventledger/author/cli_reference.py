"""docs/cli.md: the --help of every command, so the reference cannot fall behind the code.

The command group is passed in by whoever holds it (the CLI, or a test), so this module
never imports the CLI that calls it.
"""

from __future__ import annotations

import click

WIDTH = 88


def _context(
    group: click.Group, command: click.Command, name: str, parent: click.Context | None = None
) -> click.Context:
    # Settings given explicitly so the text is the same whether or not a CLI run is in progress.
    settings = {**group.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def commands(group: click.Group) -> dict[str, click.Command]:
    ctx = _context(group, group, "eventledger")
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


def cli_markdown(group: click.Group) -> str:
    root = _context(group, group, "eventledger")
    lines = [
        "# Command reference",
        "",
        "Generated from the commands' own help by `eventledger generate`; do not edit by hand.",
        "",
        "## eventledger",
        "",
        "```",
        group.get_help(root),
        "```",
        "",
    ]
    for name, command in commands(group).items():
        help_text = command.get_help(_context(group, command, name, root))
        lines += [f"## eventledger {name}", "", "```", help_text, "```", ""]
    return "\n".join(lines)
