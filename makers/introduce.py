"""(being written)"""


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
