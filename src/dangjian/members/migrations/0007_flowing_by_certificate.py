"""Flowing members are told by their flow certificate, no longer by the status "flowing".

A member recorded with the status "flowing" gets back their standing — full when the register has the
date they became full, else probationary — with a status history entry saying why, and, unless they
already hold one, an active flow certificate (流动党员活动证) from the day they went flowing (the history's
date, else today), its host "not recorded" for the branch to complete. The old history entries stay.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.utils import translation
from django.utils.translation import gettext


def _texts():
    with translation.override(settings.LANGUAGE_CODE):
        return (
            gettext("A flowing member keeps their standing; being away is recorded by the flow certificate"),
            gettext("Not recorded (from the former status “flowing”)"),
        )


def forwards(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    Change = apps.get_model("members", "MemberStatusChange")
    Certificate = apps.get_model("transfers", "FlowCertificate")
    today = dt.date.today()
    reason, host = _texts()
    numbers = {}

    def number(year):
        if year not in numbers:
            taken = Certificate.objects.filter(number__startswith=f"LD{year}-").values_list("number", flat=True)
            numbers[year] = max((int(n.rsplit("-", 1)[1]) for n in taken if n.rsplit("-", 1)[1].isdigit()), default=0)
        numbers[year] += 1
        return f"LD{year}-{numbers[year]:05d}"

    for member in Member.objects.filter(status="flowing").select_related("org").order_by("pk"):
        standing = "full" if member.full_date else "probationary"
        since = (
            Change.objects.filter(member=member, to_status="flowing")
            .order_by("-date", "-id")
            .values_list("date", flat=True)
            .first()
        )
        start = min(since or today, today)
        Member.objects.filter(pk=member.pk).update(status=standing)
        Change.objects.create(member=member, from_status="flowing", to_status=standing, date=today, reason=reason)
        if not Certificate.objects.filter(member=member, status="active").exists():
            Certificate.objects.create(
                member=member,
                home_org=member.org,
                home_org_path=member.org.path,
                outside_host_name=host,
                fixed_place=False,  # unknown: no transfer prompt until the branch records it
                number=number(start.year),
                start=start,
                status="active",
            )


def backwards(apps, schema_editor):
    """Nothing to undo: the standing restored is right under both designs, and the certificates stay."""


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0006_member_last_contact"),
        ("transfers", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
