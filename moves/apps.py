from django.apps import AppConfig
from django.conf import settings


def resume_every() -> float:
    """Seconds between runs of the pending steps of moves in each task worker (moves.services.moves_resume):
    MOVES_RESUME_EVERY_SECONDS, default a minute (tests across instances make it shorter)."""
    return float(getattr(settings, "MOVES_RESUME_EVERY_SECONDS", 60))


class MovesConfig(AppConfig):
    name = "moves"
    verbose_name = "Moves between instances"

    def ready(self) -> None:
        from core.nav import PROFILE, NavLink, register_nav
        from core.periodic import register_periodic
        from moves.services import moves_resume

        register_periodic("moves.resume", resume_every(), moves_resume)
        register_nav(NavLink(label="Moves", url_name="moves", place=PROFILE, order=47))
