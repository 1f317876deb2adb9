from datetime import timedelta

from django.apps import AppConfig

# How often each task worker runs the pending steps of moves (moves.services.moves_resume).
RESUME_EVERY = timedelta(minutes=1)


class MovesConfig(AppConfig):
    name = "moves"
    verbose_name = "Moves between instances"

    def ready(self) -> None:
        from core.nav import PROFILE, NavLink, register_nav
        from core.periodic import register_periodic
        from moves.services import moves_resume

        register_periodic("moves.resume", RESUME_EVERY, moves_resume)
        register_nav(NavLink(label="Moves", url_name="moves", place=PROFILE, order=47))
