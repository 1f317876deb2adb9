from owners.selectors import unread_count


def inbox(request) -> dict:
    """Unread count for the header badge, lazily: pages that don't render the header don't pay for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_unread": lambda: unread_count(owner=user)}
