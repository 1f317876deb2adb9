"""Signals of the owners domain: the seam features above it hang on (owners imports none of them).

- ``owner_key_registered(sender=Owner, owner=…)``: an owner registered keys they hold themselves, so their
  current key, and with it their DID as a holder (the did:key of that key), changed. Sent inside the
  registration's transaction: a receiver's writes (an ownership credential re-issued to the new DID, the old
  one revoked) commit or roll back with the registration, and a receiver that raises undoes it.
"""

from __future__ import annotations

from django.dispatch import Signal

owner_key_registered = Signal()
