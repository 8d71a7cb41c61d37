"""`manage.py import_automations FILE [--replace] [--dry-run]`: automations from portable JSON.

FILE is what export_automations writes (`-` reads standard input). The whole file is checked first
and every problem reported at once; then all of it is saved in one transaction, or nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from automations.portable import save_import, validate_import
from core.errors import DomainError


class Command(BaseCommand):
    help = ("Import automations from a JSON file written by export_automations ('-' reads standard input). "
            "Checks the whole file first; saves all of it or nothing.")
    # call_command(..., stdin=stream) in tests; the command line uses sys.stdin.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The JSON file, or - for standard input.")
        parser.add_argument("--replace", action="store_true",
                            help="Update an existing automation of the same name instead of refusing the file.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check the file and say what would happen, without saving anything.")

    def handle(self, *args, file: str, replace: bool, dry_run: bool, **options) -> None:
        data = self._parse(self._read(file, options.get("stdin")), file)
        try:
            planned = validate_import(data, replace=replace)
            if not dry_run:
                save_import(planned)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        created = [item.name for item in planned if item.creates]
        updated = [item.name for item in planned if not item.creates]
        if dry_run:
            self.stdout.write(_("Dry run: the file is valid; nothing was saved. Importing it would create "
                                "%(created)d and update %(updated)d automation(s).") % {
                "created": len(created), "updated": len(updated)})
        else:
            self.stdout.write(self.style.SUCCESS(ngettext(
                "Imported %(count)d automation: %(created)d created, %(updated)d updated.",
                "Imported %(count)d automations: %(created)d created, %(updated)d updated.",
                len(planned),
            ) % {"count": len(planned), "created": len(created), "updated": len(updated)}))
        verb_created = _("would create") if dry_run else _("created")
        verb_updated = _("would update") if dry_run else _("updated")
        for item in planned:
            self.stdout.write(f"  {verb_created if item.creates else verb_updated}: {item.name}")

    def _read(self, file: str, stdin: Any) -> bytes | str:
        if file == "-":
            stream = stdin if stdin is not None else sys.stdin
            buffer = getattr(stream, "buffer", None)
            return (buffer if buffer is not None else stream).read()
        try:
            return Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(error)s") % {
                "file": file, "error": exc.strerror or exc}) from None

    def _parse(self, raw: bytes | str, file: str) -> Any:
        source = _("standard input") if file == "-" else file
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise CommandError(_("%(file)s is not UTF-8 text (byte %(position)d).") % {
                    "file": source, "position": exc.start + 1}) from None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(_("%(file)s is not valid JSON: %(error)s at line %(line)d, column %(column)d.") % {
                "file": source, "error": exc.msg, "line": exc.lineno, "column": exc.colno}) from None
        except (ValueError, RecursionError) as exc:  # a number too long to read, nesting too deep
            raise CommandError(_("%(file)s cannot be read as JSON: %(error)s") % {
                "file": source, "error": exc}) from None
