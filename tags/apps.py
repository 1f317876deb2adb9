from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Tags"

    def ready(self) -> None:
        from tags import public_cache  # noqa: F401  (connects the page-cache invalidation receivers)
