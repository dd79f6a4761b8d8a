"""The serializer and cipher protocols a checkpointer and :class:`~.encrypted.EncryptedSerializer` use."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["CipherProtocol", "SerializerProtocol"]


@runtime_checkable
class SerializerProtocol(Protocol):
    """What a checkpointer needs from a serializer.

    ``loads_typed`` must raise :class:`~threadloom.errors.SerializationError` for
    data it cannot load (savers add where the data came from).
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Encode ``obj`` as ``(type_tag, data)``."""
        ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode what :meth:`dumps_typed` returned."""
        ...


class CipherProtocol(Protocol):
    """Encrypts and decrypts bytes for :class:`~.encrypted.EncryptedSerializer`."""

    def encrypt(self, plaintext: bytes, *, associated: bytes = b"") -> tuple[str, bytes]:
        """``(cipher name, ciphertext)``; ``associated`` is authenticated but not encrypted."""
        ...

    def decrypt(self, ciphername: str, ciphertext: bytes, *, associated: bytes = b"") -> bytes:
        """The plaintext; raises :class:`~threadloom.errors.DecryptionError` if it fails to authenticate."""
        ...
