from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("事件")

    def ready(self) -> None:
        # Connect the calendar's signal receivers (cache invalidation, calendar_changed).
        from . import calendar  # noqa: F401
