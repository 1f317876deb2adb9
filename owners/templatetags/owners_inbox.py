from django import template

from owners.replies import reply_links

register = template.Library()


@register.simple_tag
def inbox_replies(item) -> list[tuple[str, str]]:
    """Reply links (mailto/tel/sms) for an inbox item that carries a finder's contact; [] otherwise."""
    subject = f"Re: {item.title}"
    return reply_links(item.sender_contact, subject=subject)
