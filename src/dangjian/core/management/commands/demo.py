"""``dangjian demo``: from nothing to a running site with the demo city 示范市, in one command.

1. DATA_DIR (``DANGJIAN_DATA_DIR``, default ``./var``) with a generated secret key and field-encryption
   key (``secret_key``, ``field_key``, mode 0600). The ``dangjian`` launcher (cli.py) creates them
   *before* Django reads its settings, which read these files.
2. ``migrate`` the embedded SQLite database (or ``DANGJIAN_DATABASE_URL``).
3. Load 示范市 once: a second run changes nothing and duplicates nothing. The six demo accounts are
   created if missing; their passwords are set only when they are created or when ``--password`` is
   given explicitly (then on all six).
4. Print the address and the accounts, and serve with gunicorn and an embedded job consumer
   (``--no-serve`` stops after loading).
"""

from __future__ import annotations

import os
import unicodedata
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal column: Chinese characters take two cells."""
    cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - cells, 0)


class Command(BaseCommand):
    help = "Load the demo city 示范市 (once) with its demo accounts, and serve the site."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help=gettext_lazy("address to listen on"))
        parser.add_argument("--port", type=int, default=8000, help=gettext_lazy("port to listen on"))
        parser.add_argument(
            "--password",
            default=None,
            help=gettext_lazy(
                "password of the demo accounts (default Dangjian@2026 for new accounts; when given, "
                "it is set on all six)"
            ),
        )
        parser.add_argument("--no-serve", action="store_true", help=gettext_lazy("stop after loading"))
        parser.add_argument("--workers", type=int, default=2, help=gettext_lazy("web worker processes"))

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            self._handle(**options)

    def _handle(self, **options: Any) -> None:
        from dangjian.demo_all import load_all
        from dangjian.orgs.demo import DEFAULT_PASSWORD

        self._check_keys()
        self.stdout.write(_("Data directory: %(dir)s") % {"dir": settings.DATA_DIR})
        self.stdout.write(_("Preparing the database…"))
        call_command("migrate", interactive=False, verbosity=0)
        self._check_field_key()

        self.stdout.write(_("Loading the demo city 示范市…"))
        everything = load_all(password=options["password"])
        result = everything.city
        if result.created:
            self.stdout.write(
                _("Demo city loaded: %(orgs)d organisations, %(members)d members.")
                % {"orgs": result.organizations, "members": result.members}
            )
        else:
            self.stdout.write(
                _(
                    "The demo city is already loaded (%(orgs)d organisations, %(members)d members): nothing changed."
                )
                % {"orgs": result.organizations, "members": result.members}
            )
        labels = {
            "recruitment": _("recruitment cases"),
            "transfers": _("relation transfers"),
            "dues": _("dues records (declarations, bills, payments)"),
            "meetings": _("organization-life records (meetings, attendance, minutes, appraisals)"),
        }
        for app, made in everything.apps.items():
            if made:
                self.stdout.write(
                    _("Demo %(what)s loaded: %(count)d.") % {"what": labels.get(app, app), "count": made}
                )
        if everything.alerts_created:
            self.stdout.write(_("Alerts raised: %(count)d.") % {"count": everything.alerts_created})

        host, port = options["host"], options["port"]
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(_("Open http://%(host)s:%(port)d/") % {"host": shown_host, "port": port})
        )
        if options["password"] is not None:
            password_note = options["password"]
        elif any(a.password_set for a in result.accounts):
            password_note = DEFAULT_PASSWORD
        else:
            password_note = _("unchanged (%(default)s unless it was changed)") % {"default": DEFAULT_PASSWORD}
        self.stdout.write(_("Demo accounts (password: %(password)s):") % {"password": password_note})
        for account in result.accounts:
            from dangjian.core.scoping import Role

            self.stdout.write(
                f"  {account.username:<10} {_pad(str(Role(account.role).label), 24)} {account.org}"
                + (f" · {account.full_name}" if account.full_name else "")
            )
        self.stdout.write("")
        if options["no_serve"]:
            return

        from dangjian.core.management.commands.serve import run_web

        self.stdout.write(_("Serving; press Ctrl+C to stop."))
        self.stdout.flush()
        run_web(bind=f"{host}:{port}", workers=options["workers"], threads=4, embedded_worker=True)

    def _check_keys(self) -> None:
        """Make sure the generated keys are the ones in use (see cli.ensure_local_keys)."""
        if settings.TESTING:
            return
        from dangjian.cli import ensure_local_keys

        created = ensure_local_keys(settings.DATA_DIR)
        using_default = settings.FIELD_KEY == settings.INSECURE_FIELD_KEY and not os.environ.get(
            "DANGJIAN_FIELD_KEY"
        )
        if created and using_default:
            # Settings were read before the keys existed (not started through the ``dangjian`` launcher):
            # loading now would encrypt with the development key and the next start could not decrypt.
            raise CommandError(
                _("Generated the keys in %(dir)s; run `dangjian demo` again so that they are used.")
                % {"dir": settings.DATA_DIR}
            )

    def _check_field_key(self) -> None:
        """Stop early, with an explanation, if stored personal data was encrypted with another key."""
        from dangjian.members.models import Member

        sample = Member.objects.exclude(id_number_encrypted="").only("id_number_encrypted").first()
        if sample is None:
            return
        try:
            sample.decrypted_id_number()
        except RuntimeError as exc:
            raise CommandError(
                _(
                    "The database in %(dir)s holds ID numbers encrypted with a different field key. "
                    "Restore the matching DATA_DIR/field_key (or DANGJIAN_FIELD_KEY), or use a new "
                    "DANGJIAN_DATA_DIR."
                )
                % {"dir": settings.DATA_DIR}
            ) from exc
