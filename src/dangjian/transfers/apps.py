from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransfersConfig(AppConfig):
    name = "dangjian.transfers"
    verbose_name = _("Relation transfers")

    def ready(self) -> None:
        from dangjian.transfers import receivers  # noqa: F401 (connects the signal receivers)
