"""Thingstead's reference device client: what docs/devices.md describes, as a small pure-Python package.

A device (a Raspberry Pi, a gateway) records readings, signs each with its own Ed25519 key, keeps them in an
on-disk queue that survives a crash or a power cut, and sends them to Thingstead over HTTP or MQTT, signed with the
source's Standard Webhooks secret, in order, each message with a webhook-id that a retry reuses (the server
stores a message once per id). No Django: it needs ``ssi`` (and so PyNaCl), the standard library, and paho-mqtt
for MQTT only; ``qrcode`` is used when installed.

    python -m device init --server https://things.example.org --source <id> --secret whsec_… --thing bedroom
    python -m device register          # the key the owner pastes on the thing's Device keys page
    python -m device send --kind temp 21.5
    python -m device watch             # one reading per line on stdin
    python -m device status

From Python: ``device.client.Client.open(home)`` then ``record()``, ``flush()``, ``watch()``.
"""
