"""Transferring many things to one buyer at once: one offer, one acceptance, all or nothing."""
