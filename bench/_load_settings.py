"""bench/load.py's settings: production's (config.settings, from the environment), with one change: outgoing
DIDComm may go to loopback, where the ACA-Py peer of the load run listens (core/netguard.py refuses private
addresses in production; tests/interop's settings lift it the same way). Not a benchmark (run_all.py skips files
starting with "_")."""

from config.settings import *  # noqa: F403

OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
