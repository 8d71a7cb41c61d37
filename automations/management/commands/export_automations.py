"""`manage.py export_automations [--output FILE] [--indent 2]`: every automation as portable JSON.

The format is the one `import_automations` reads (see automations.portable). UTF-8, with
non-ASCII text written as it is; standard output unless --output is given.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from automations.portable import export_automations


class Command(BaseCommand):
    help = "Write every automation, with its actions, as JSON (the format import_automations reads)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", metavar="FILE",
                            help="Write to FILE (UTF-8) instead of standard output.")
        parser.add_argument("--indent", type=int, default=2, metavar="N",
                            help="Spaces per indentation level (default 2; 0 writes it all on one line).")

    def handle(self, *args, output: str | None, indent: int, **options) -> None:
        if indent < 0:
            raise CommandError(_("--indent cannot be negative."))
        data = export_automations()
        text = json.dumps(data, indent=indent or None, ensure_ascii=False) + "\n"
        counts = Counter(item["name"] for item in data)
        for name, count in sorted(counts.items()):
            if count > 1:
                self.stderr.write(_("Warning: %(count)d automations are named '%(name)s'; import_automations "
                                    "refuses a file with duplicate names, so rename them first.") % {
                    "count": count, "name": name})
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(_("Cannot write %(file)s: %(error)s") % {
                    "file": output, "error": exc.strerror or exc}) from None
            self.stdout.write(ngettext("Exported %(count)d automation to %(file)s.",
                                       "Exported %(count)d automations to %(file)s.", len(data)) % {
                "count": len(data), "file": output})
            return
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is not None:  # the real standard output: UTF-8 whatever the locale says
            self.stdout.flush()
            buffer.write(text.encode("utf-8"))
            buffer.flush()
        else:
            self.stdout.write(text, ending="")
