"""What the commands share: loading specs or exiting 1 with every diagnostic, and printing what a load says."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from .compile.build import Build
    from .diagnostics import Report, SpecError
    from .model.project import Project

DEFAULT_SPECS = "specs"


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"promspec: {message}", err=True)
    sys.exit(code)


def load_or_exit(specs: tuple[str, ...], strict: bool = False) -> Project:
    """The checked model of the specs (see load_build_or_exit)."""
    return load_build_or_exit(specs, strict).project


def load_build_or_exit(specs: tuple[str, ...], strict: bool = False) -> Build:
    """Load, check and compile specs or exit 1 with every diagnostic; warnings go to stderr."""
    from .diagnostics import SpecError
    from .pipeline import load_build

    try:
        build, report = load_build(specs or (DEFAULT_SPECS,), strict=strict)
    except SpecError as exc:
        exit_spec_errors(exc)
    print_loaded(build, report)
    return build


def exit_spec_errors(exc: SpecError) -> NoReturn:
    for d in exc.diagnostics:
        click.echo(d.format(), err=True)
    n = len(exc.diagnostics)
    fail(f"{n} error{'s' if n != 1 else ''} in specs; nothing written")


def print_loaded(build: Build, report: Report) -> None:
    """What a load that passed prints: its warnings, and the bundled dashboards that specs replaced."""
    for w in report.warnings:
        click.echo(w.format(), err=True)
    for note in replaced_notes(build):
        click.echo(note, err=True)


def replaced_notes(build: Build) -> list[str]:
    """One note per bundled dashboard a spec replaced: a deliberate choice, but never a silent one."""
    notes = []
    for r in build.dashboards.replaced:
        doc = r.by.ref.doc
        # Where the uid was written, if it was (a position, not a read of the document's values).
        written_uid = r.by.uid == r.uid and ("spec", "uid") in doc.positions
        pos = doc.pos(("spec", "uid") if written_uid else ("metadata", "name"))
        why = "of the same uid" if r.by.uid == r.uid else "(its name is that dashboard's uid)"
        notes.append(
            f"{pos}: note: dashboard {r.by.name!r} replaces the bundled dashboard {r.uid!r} ({r.title}) {why}; "
            f"`promspec dashboards eject {r.uid}` prints the bundled one"
        )
    return notes


def recover_output(directory: str) -> None:
    """Before reading rendered output: roll back a `generate` killed half-way, or exit 1 saying why not."""
    from .render.tree import HalfWrittenOutput, recover_for_read

    try:
        recover_for_read(directory)
    except HalfWrittenOutput as exc:
        fail(str(exc))
