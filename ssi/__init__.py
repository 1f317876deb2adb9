"""Thingstead's pure identity library.

Keys, multibase, did:key, did:peer, did:webvh logs, Data Integrity proofs and the
signed twin history. Nothing here imports Django: a twin can be verified offline
with only PyNaCl installed (``python -m ssi.verify FILE``: ``ssi.jcs`` implements RFC 8785 itself), and the
server calls the very same functions.
"""
