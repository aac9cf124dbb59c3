"""Committee terms last 3 to 5 years (党章 第三十一条), no longer 1 to 5.

Every term recorded so far (the demo city: 3 and 5 years) already satisfies this; the check below stops
the migration with a clear message instead of a constraint error if a database holds anything else.
"""

from django.db import migrations, models


def check_existing_terms(apps, schema_editor):
    CommitteeTerm = apps.get_model("orgs", "CommitteeTerm")
    bad = CommitteeTerm.objects.exclude(term_years__gte=3, term_years__lte=5)
    if bad.exists():
        ids = list(bad.values_list("pk", flat=True)[:20])
        raise RuntimeError(
            f"Committee terms outside 3 to 5 years exist (ids {ids}): correct them before migrating."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(check_existing_terms, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="committeeterm",
            name="orgs_committeeterm_years_range",
        ),
        migrations.AddConstraint(
            model_name="committeeterm",
            constraint=models.CheckConstraint(
                condition=models.Q(("term_years__gte", 3), ("term_years__lte", 5)),
                name="orgs_committeeterm_years_3_to_5",
                violation_error_message="A term lasts between 3 and 5 years.",
            ),
        ),
    ]
