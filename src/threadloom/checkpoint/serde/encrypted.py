"""EncryptedSerializer: checkpoints encrypted at rest with AES-GCM (``pip install 'threadloom[encryption]'``).

Give it keys you hold: ``EncryptedSerializer.from_aes_gcm([key])`` with 16-, 24-
or 32-byte keys, or set ``THREADLOOM_AES_KEY`` and call it with no keys. Every
value a saver stores through its serializer (channel values, pending writes, the
checkpoint header, metadata) is encrypted with the first key and authenticated
together with its type; the stored row carries the id of the key used, so old
rows stay readable while you rotate: put the new key first and keep the old
ones after it.

A row that fails to authenticate (tampered, truncated, moved from another type)
or that needs a key you did not give raises
:class:`~threadloom.errors.DecryptionError` (a ``SerializationError``). So does a
plaintext row, unless you pass ``allow_plaintext=True`` (for instance while a
database written before encryption is still in use).

``THREADLOOM_AES_KEY`` holds a key as text (its UTF-8 bytes are the key, so 16,
24 or 32 bytes, as ``LANGGRAPH_AES_KEY`` in LangGraph) or as ``base64:<key>``;
several keys are separated by commas, the first one writing. What it does not
hide: which threads, checkpoints and channels exist and how large the values
are; PostgresSaver also keeps metadata as plain JSON so that ``list(filter=...)``
can query it. A row copied to another place by someone with write access still
decrypts (rows are not bound to their place).

Example::

    import os
    from threadloom.checkpoint.memory import InMemorySaver
    from threadloom.checkpoint.serde.encrypted import EncryptedSerializer

    old_key, new_key = os.urandom(32), os.urandom(32)
    old = EncryptedSerializer.from_aes_gcm([old_key])
    stored = old.dumps_typed({"secret": "tea"})
    assert b"tea" not in stored[1]

    rotated = EncryptedSerializer.from_aes_gcm([new_key, old_key])  # writes with new_key
    assert rotated.loads_typed(stored) == {"secret": "tea"}
    saver = InMemorySaver(serde=rotated)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import os
from collections.abc import Sequence
from typing import Any

from threadloom.checkpoint.serde.base import CipherProtocol, SerializerProtocol
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer
from threadloom.errors import DecryptionError

__all__ = ["ENV_VAR", "AesGcmCipher", "EncryptedSerializer"]

ENV_VAR = "THREADLOOM_AES_KEY"
"""The environment variable :meth:`EncryptedSerializer.from_aes_gcm` reads when given no keys."""

_CIPHER = "aesgcm"
_VERSION = b"\x01"  # envelope: version (1) | key id (8) | nonce (12) | ciphertext and tag
_KEY_ID = 8
_NONCE = 12
_HEADER = 1 + _KEY_ID + _NONCE


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise ImportError(
            "encryption needs the 'cryptography' package: pip install 'threadloom[encryption]'"
        ) from None
    return AESGCM


def _key_id(key: bytes) -> bytes:
    """The 8 bytes stored with each row to say which key encrypted it (a hash, not the key)."""
    return hashlib.sha256(b"threadloom key id\x00" + key).digest()[:_KEY_ID]


class AesGcmCipher:
    """AES-GCM with one or more keys: encrypts with the first, decrypts with whichever a row names.

    Keys are ``bytes`` (or ``str``, taken as UTF-8) of 16, 24 or 32 bytes.
    """

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if isinstance(keys, (bytes, str)):
            raise TypeError("AesGcmCipher takes a list of keys, e.g. [key]")
        aesgcm = _aesgcm()
        raw = [k.encode() if isinstance(k, str) else k for k in keys]
        if not raw:
            raise ValueError("AesGcmCipher needs at least one key")
        self._by_id: dict[bytes, Any] = {}
        for i, key in enumerate(raw):
            if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
                raise ValueError(f"AES key {i} must be 16, 24 or 32 bytes long, not {len(key) if isinstance(key, bytes) else type(key).__name__}")
            self._by_id.setdefault(_key_id(key), aesgcm(key))
        self._current_id = _key_id(raw[0])
        self._current = self._by_id[self._current_id]

    def encrypt(self, plaintext: bytes, *, associated: bytes = b"") -> tuple[str, bytes]:
        """``("aesgcm", envelope)``; ``associated`` is authenticated with it."""
        head = _VERSION + self._current_id
        nonce = os.urandom(_NONCE)  # random 96-bit nonces: safe for far more rows than a database holds per key
        return _CIPHER, head + nonce + self._current.encrypt(nonce, plaintext, head + associated)

    def decrypt(self, ciphername: str, ciphertext: bytes, *, associated: bytes = b"") -> bytes:
        """The plaintext of an envelope from :meth:`encrypt`; :class:`DecryptionError` if it does not authenticate."""
        if ciphername != _CIPHER:
            raise DecryptionError(f"stored value is encrypted with {ciphername!r}, not {_CIPHER!r}")
        if len(ciphertext) < _HEADER + 16 or ciphertext[:1] != _VERSION:
            raise DecryptionError("stored encrypted value is truncated or of an unknown version")
        head, nonce, body = ciphertext[: 1 + _KEY_ID], ciphertext[1 + _KEY_ID : _HEADER], ciphertext[_HEADER:]
        cipher = self._by_id.get(head[1:])
        if cipher is None:
            raise DecryptionError(f"stored value was encrypted with a key that was not given (key id {head[1:].hex()})")
        from cryptography.exceptions import InvalidTag

        try:
            result: bytes = cipher.decrypt(nonce, body, head + associated)
        except InvalidTag:
            raise DecryptionError("stored encrypted value does not authenticate: it was changed") from None
        return result


def _keys_from_env(var: str = ENV_VAR) -> list[bytes]:
    """The keys in environment variable ``var``: comma-separated, each text or ``base64:<key>``."""
    text = os.environ.get(var)
    if not text:
        raise ValueError(f"no encryption key given and the {var} environment variable is not set")
    keys = []
    for part in text.split(","):
        if part.startswith("base64:"):
            try:
                keys.append(base64.b64decode(part[7:], validate=True))
            except binascii.Error:
                raise ValueError(f"{var}: a base64: key is not valid base64") from None
        else:
            keys.append(part.encode())
    for i, key in enumerate(keys):
        if len(key) not in (16, 24, 32):
            raise ValueError(f"{var}: key {i} must be 16, 24 or 32 bytes long, not {len(key)}")
    return keys


class EncryptedSerializer:
    """Encrypts what ``serde`` (default :class:`JsonPlusSerializer`) writes; see the module docstring.

    ``cipher`` is any :class:`~threadloom.checkpoint.serde.base.CipherProtocol`,
    usually built for you by :meth:`from_aes_gcm`. The stored type is
    ``"<inner type>+<cipher name>"``.
    """

    def __init__(
        self,
        cipher: CipherProtocol,
        serde: SerializerProtocol | None = None,
        *,
        allow_plaintext: bool = False,
    ) -> None:
        self.cipher = cipher
        self.serde: SerializerProtocol = serde if serde is not None else JsonPlusSerializer()
        self.allow_plaintext = allow_plaintext
        # A cipher written for LangGraph's protocol takes no associated data: it then cannot bind the type.
        self._binds_type = "associated" in inspect.signature(cipher.encrypt).parameters

    @classmethod
    def from_aes_gcm(
        cls,
        keys: Sequence[bytes | str] | None = None,
        *,
        serde: SerializerProtocol | None = None,
        allow_plaintext: bool = False,
        env_var: str = ENV_VAR,
    ) -> EncryptedSerializer:
        """AES-GCM with ``keys`` (the first writes), or with the keys in ``env_var`` when ``keys`` is None."""
        return cls(AesGcmCipher(_keys_from_env(env_var) if keys is None else keys), serde, allow_plaintext=allow_plaintext)

    @classmethod
    def from_pycryptodome_aes(cls, serde: SerializerProtocol | None = None, **kwargs: Any) -> EncryptedSerializer:
        """LangGraph's name: AES (GCM here, from ``cryptography``) with ``key=`` or ``THREADLOOM_AES_KEY``.

        Only ``key`` is accepted: pycryptodome's mode options do not apply.
        """
        key = kwargs.pop("key", None)
        if kwargs:
            raise TypeError(f"from_pycryptodome_aes() accepts only key=; threadloom always uses AES-GCM (got {sorted(kwargs)})")
        return cls.from_aes_gcm(None if key is None else [key], serde=serde)

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize with the inner serializer, then encrypt; the type is bound to the ciphertext."""
        type_tag, data = self.serde.dumps_typed(obj)
        if self._binds_type:
            name, ciphertext = self.cipher.encrypt(data, associated=type_tag.encode())
        else:
            name, ciphertext = self.cipher.encrypt(data)
        return f"{type_tag}+{name}", ciphertext

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decrypt and deserialize; :class:`DecryptionError` for a tampered, foreign-key or (by default) plaintext row."""
        try:
            type_tag, payload = data
        except (TypeError, ValueError):
            raise DecryptionError("stored value is not a (type, data) pair") from None
        if not isinstance(type_tag, str) or not isinstance(payload, (bytes, bytearray, memoryview)):
            raise DecryptionError("stored encrypted value has the wrong types")
        if "+" not in type_tag:
            if not self.allow_plaintext:
                raise DecryptionError(
                    "stored value is not encrypted; pass allow_plaintext=True to read rows written without encryption"
                )
            return self.serde.loads_typed((type_tag, bytes(payload)))
        inner, name = type_tag.split("+", 1)
        if self._binds_type:
            plaintext = self.cipher.decrypt(name, bytes(payload), associated=inner.encode())
        else:
            plaintext = self.cipher.decrypt(name, bytes(payload))
        return self.serde.loads_typed((inner, plaintext))
