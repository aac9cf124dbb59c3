from django.contrib import admin

from dangjian.core.models import AuditEntry, Job, RuleOverride


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["time", "actor", "action", "object_repr", "org", "ip"]
    list_filter = ["action"]
    search_fields = ["object_repr", "actor__username"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_change_permission(self, request, obj=None):  # the audit log is append-only
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Job)
admin.site.register(RuleOverride)
