from django.apps import AppConfig


class OwnersConfig(AppConfig):
    name = "owners"
    verbose_name = "Owners"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from owners import keys, recent_auth
        from owners.models import Owner

        del recent_auth  # imported for its login-time receiver
        post_save.connect(keys.keys_for_new_owner, sender=Owner, dispatch_uid="owners.keys_for_new_owner")
