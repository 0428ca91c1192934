"""Django's Argon2 password hasher, taking its turn among the process's memory-hard derivations
(``lib.memory_hard``). Same algorithm name and parameters: stored hashes are unchanged and verify as before."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

from waystation.lib.memory_hard import turn


class TurnTakingArgon2PasswordHasher(Argon2PasswordHasher):
    def encode(self, password: str, salt: str) -> str:
        with turn():
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with turn():
            return super().verify(password, encoded)

    def harden_runtime(self, password: str, encoded: str) -> None:
        with turn():
            super().harden_runtime(password, encoded)
