from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultConfig(AppConfig):
    name = "consult"
    verbose_name = _("Consultations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .rtc.ice import host_addresses_from_settings
        from .services.sessions import connect_signals

        host_addresses_from_settings()
        connect_signals()
