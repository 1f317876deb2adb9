from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.utils import timezone


def _stamp_last_login(sender, user, **kwargs) -> None:
    user.last_login = timezone.now()
    type(user).objects.filter(pk=user.pk).update(last_login=user.last_login)


class OwnersConfig(AppConfig):
    name = "owners"
    verbose_name = "Owners"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from owners import keys, recent_auth
        from owners.models import Owner

        del recent_auth  # imported for its login-time receiver
        post_save.connect(keys.keys_for_new_owner, sender=Owner, dispatch_uid="owners.keys_for_new_owner")
        # Django saves the whole account on each login to stamp last_login, and every post_save of an Owner
        # drops the cached public pages of their tags (which need Redis). A login changes nothing a page shows:
        # stamp it with an UPDATE, which sends no signal, so signing in neither churns the cache nor fails while
        # Redis is down.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(_stamp_last_login, dispatch_uid="owners.stamp_last_login")
