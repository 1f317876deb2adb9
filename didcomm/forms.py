"""Forms of the Connections pages."""

from __future__ import annotations

from django import forms

# RFC 0095 sets no limit; ours keeps a message readable in an inbox and well inside any agent's body limit.
BASIC_MESSAGE_MAX = 2000
# An RFC 0434 invitation URL carries the whole invitation (base64url): a few hundred to a few thousand bytes.
INVITATION_URL_MAX = 8000


class InvitationAcceptForm(forms.Form):
    invitation_url = forms.CharField(
        label="Invitation URL",
        max_length=INVITATION_URL_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Paste the link another agent gave you (it contains <code>?oob=</code>).",
    )


class BasicMessageForm(forms.Form):
    content = forms.CharField(
        label="Message",
        max_length=BASIC_MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
