"""A twin's DIDComm v1 agent: its pairwise connections and the messages that pass over them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from twins.models import Twin


class Agent(models.Model):
    """The DIDComm agent of one twin or one owner (exactly one of the two).

    A twin's agent answers to the twin's own agent key (the key its DID document names); an owner's agent has
    its own key, sealed here. Each connection gets a fresh pairwise key of its own (``Connection.my_key_sealed``).
    """

    twin = models.OneToOneField(Twin, null=True, blank=True, on_delete=models.CASCADE, related_name="agent")
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="agent"
    )
    key_sealed = models.BinaryField(null=True, blank=True)  # owners only: a twin's key lives on the twin
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(twin__isnull=False, owner__isnull=True) | Q(twin__isnull=True, owner__isnull=False),
                name="didcomm_agent_twin_xor_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"agent of {self.twin or self.owner}"

    @property
    def label(self) -> str:
        """What peers see as our label in invitations and requests."""
        if self.twin is not None:
            return self.twin.name
        return self.owner.get_full_name() or self.owner.username


class RecipientKey(models.Model):
    """A base58 verkey one of our agents answers to, so an inbound envelope finds its agent (and connection) by
    the ``kid`` in its header without unsealing every key. Filled when a key is handed out: an invitation's key
    (``connection`` empty) or a connection's pairwise key."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="recipient_keys")
    connection = models.ForeignKey(
        "Connection", null=True, blank=True, on_delete=models.CASCADE, related_name="recipient_keys"
    )
    verkey = models.CharField(max_length=64, unique=True)  # unique: the inbound lookup by kid
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.verkey


class Connection(models.Model):
    """One pairwise relationship (RFC 0023 states, as DID Exchange names them)."""

    class State(models.TextChoices):
        INVITED = "invited"
        REQUESTED = "requested"
        RESPONDED = "responded"
        COMPLETED = "completed"
        ABANDONED = "abandoned"

    class Role(models.TextChoices):
        RESPONDER = "responder"  # we invited; they request
        REQUESTER = "requester"  # they invited; we request

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="connections")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESPONDER)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INVITED)
    protocol = models.CharField(max_length=8, blank=True)  # "1.0" or "1.1": the DID Exchange version in use
    thread_id = models.CharField(max_length=255, blank=True)  # the exchange's thid (the request's @id)
    my_did = models.CharField(max_length=4096, blank=True)  # our pairwise DID (did:peer:4 long form, or 1.0 DID)
    my_key_sealed = models.BinaryField(null=True, blank=True)  # our pairwise key, sealed
    their_routing_keys = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)  # why it was abandoned
    invitation_id = models.CharField(max_length=255, blank=True)
    invitation_url = models.TextField(blank=True)
    their_label = models.CharField(max_length=255, blank=True)
    their_did = models.CharField(max_length=2048, blank=True)
    their_verkey = models.CharField(max_length=64, blank=True)
    my_verkey = models.CharField(max_length=64)
    their_endpoint = models.URLField(max_length=2048, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_rtt_ms = models.PositiveIntegerField(null=True, blank=True)
    # RFC 0794, while our DID rotation waits for the peer's ack: the new pairwise key (sealed), its verkey and
    # did:peer:4, and the rotate message's @id. Both keys open envelopes until the ack; then the new one replaces
    # my_key_sealed/my_verkey/my_did and the old one opens nothing.
    next_key_sealed = models.BinaryField(null=True, blank=True)
    next_verkey = models.CharField(max_length=64, blank=True)
    next_did = models.CharField(max_length=4096, blank=True)
    next_thread_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Inbound: the connection an envelope belongs to, by our key and the sender's.
            models.Index(fields=["my_verkey", "their_verkey"], name="didcomm_conn_keys"),
        ]

    def __str__(self) -> str:
        return f"{self.their_label or self.their_did or 'pending'} ({self.state})"


class InboundMessage(models.Model):
    """Every plaintext message received, once per ``@id`` on a connection (SECURITY 14)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="inbound")
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound")
    sender_verkey = models.CharField(max_length=64, blank=True)  # "" for Anoncrypt
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "message_id"], name="didcomm_inbound_once"),
            # NULLs are distinct in a unique constraint: messages outside any connection are kept once per
            # twin and sender instead.
            models.UniqueConstraint(
                fields=["agent", "sender_verkey", "message_id"],
                condition=Q(connection__isnull=True),
                name="didcomm_inbound_once_unconnected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class OutboundMessage(models.Model):
    """A plaintext message for the peer; the delivery task packs and sends it and records the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"  # a permanent refusal, or every retry used up

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="outbound")
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound"
    )
    in_reply_to = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    to_verkey = models.CharField(max_length=64, blank=True)
    # An answer outside any connection (a refused DID Exchange request): where the sender's DID says to deliver
    # it. On a connection, the connection's endpoint and routing keys are used instead.
    to_endpoint = models.URLField(max_length=2048, blank=True)
    to_routing_keys = models.JSONField(default=list, blank=True)
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    body = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # A worker's claim while it sends (set and checked in one conditional UPDATE, so two workers never send the
    # same message); a lease rather than a flag, so a worker that dies mid-send does not strand the message.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Trust ping: the ping a ping_response answers (its thid), for the round-trip time.
            models.Index(fields=["connection", "message_id"], name="didcomm_outbound_by_id"),
            # The delivery sweep: queued messages whose next attempt is due.
            models.Index(fields=["status", "next_attempt_at"], name="didcomm_outbound_due"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id} ({self.status})"


class CredentialExchange(models.Model):
    """One RFC 0453 Issue Credential 2.0 exchange in which one of our agents hands a peer a credential it already
    holds, signed (didcomm.issue_credential): the offer's thread, the credential to issue on the peer's request,
    and how far it got."""

    class State(models.TextChoices):
        OFFER_SENT = "offer-sent"
        CREDENTIAL_ISSUED = "credential-issued"
        DONE = "done"  # the holder acknowledged it
        ABANDONED = "abandoned"  # a problem report, either way; `error` says why

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="credential_exchanges")
    thread_id = models.CharField(max_length=255)  # the offer's @id
    document = models.TextField()  # the signed credential, byte for byte as offered
    state = models.CharField(max_length=24, choices=State.choices, default=State.OFFER_SENT)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An answer finds its exchange by connection and thread.
            models.UniqueConstraint(fields=["connection", "thread_id"], name="didcomm_credex_thread"),
        ]

    def __str__(self) -> str:
        return f"credential exchange {self.thread_id} ({self.state})"
