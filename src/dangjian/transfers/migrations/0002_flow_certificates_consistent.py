"""Flow certificates agree with the register before "one active certificate per member" is enforced.

The active certificate is now the one record that a member is flowing, so: a member with several active
certificates keeps the latest; a member who is no longer a current member has none active; an active
certificate's home is the member's branch (a relation moved before certificates followed it).
"""

from django.conf import settings
from django.db import migrations
from django.utils import translation
from django.utils.translation import gettext

CURRENT = ("probationary", "full", "flowing")


def forwards(apps, schema_editor):
    Certificate = apps.get_model("transfers", "FlowCertificate")
    with translation.override(settings.LANGUAGE_CODE):
        replaced = gettext("Replaced by a later certificate")
        former = gettext("The member is no longer a current member")
    seen = set()
    for cert in Certificate.objects.filter(status="active").select_related("member__org").order_by("-start", "-id"):
        member = cert.member
        reason = ""
        if member.pk in seen:
            reason = replaced
        elif member.status not in CURRENT:
            reason = former
        seen.add(member.pk)
        if reason:
            Certificate.objects.filter(pk=cert.pk).update(status="ended", ended_reason=reason, end=cert.end or cert.start)
        elif cert.home_org_id != member.org_id:
            Certificate.objects.filter(pk=cert.pk).update(home_org=member.org, home_org_path=member.org.path)


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0001_initial"),
        ("members", "0007_flowing_by_certificate"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
