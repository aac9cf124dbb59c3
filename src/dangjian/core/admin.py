from django.contrib import admin

from dangjian.core.models import Alert, AuditEntry, Job, Notification, RuleOverride


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


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["kind", "severity", "status", "org", "due_date", "created_at"]
    list_filter = ["kind", "severity", "status"]
    search_fields = ["message", "dedupe_key"]
    raw_id_fields = ["org", "member", "dismissed_by"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "title", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user"]
