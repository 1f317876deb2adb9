"""Thingstead's pure identity library.

Keys, multibase, did:key, did:peer, did:webvh logs, Data Integrity proofs and the
signed twin history. Nothing here imports Django: a twin can be verified offline
with only PyNaCl installed (``python -m ssi.verify FILE``; rfc8785 is needed only for
documents holding floats, huge integers or characters beyond the BMP), and the
server calls the very same functions.
"""
