from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("事件")

    def ready(self) -> None:
        # Connect the calendar's signal receivers (cache invalidation, calendar_changed).
        # The county rollup's triggers: installed (and the counts rebuilt) when their SQL changes.
        from django.db.models.signals import post_migrate

        from . import calendar  # noqa: F401
        from .dashboard import rollup

        post_migrate.connect(rollup.on_post_migrate, sender=self, dispatch_uid="cases.rollup.install")
