"""Django's makemessages, also extracting strings marked with ``_l`` (our alias of gettext_lazy).

Some modules import ``gettext_lazy as _l`` because ``_`` is already the eager gettext there; xgettext
only knows the standard names, so without this those labels would never reach the .po file.
"""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_l"]
