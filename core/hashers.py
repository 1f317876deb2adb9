"""Password hashing: Argon2id (Django's recommended hasher) with parameters chosen for a small shared server.

Django's own Argon2 defaults (t=2, 100 MiB, 8 lanes) took ~0.4 s per hash on the 2-core test machine, and the
PBKDF2 default (1.5 M iterations) ~0.9 s, which made sign-up take 1.8-3.0 s and login 1.3-1.9 s. These are
OWASP's Password Storage Cheat Sheet minimum for Argon2id: 19 MiB of memory, 2 passes, 1 lane (~60 ms here, under
load). Memory hardness, not iteration count, is what costs an attacker with GPUs; one lane because extra lanes
only help when cores are idle, and a web server's are not. The algorithm name stays Django's "argon2", so a hash
made with other parameters (or by PBKDF2, listed after it in PASSWORD_HASHERS) is upgraded at the next login.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
