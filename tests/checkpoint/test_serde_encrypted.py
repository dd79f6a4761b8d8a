"""EncryptedSerializer: AES-GCM at rest with keys the user holds, rotation, and no silent plaintext or tampering."""

from __future__ import annotations

import base64
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hostile import CONFIG, seed, state_graph
from langchain_core.messages import HumanMessage

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.serde import JsonPlusSerializer
from threadloom.checkpoint.serde.encrypted import ENV_VAR, AesGcmCipher, EncryptedSerializer
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import DecryptionError, SerializationError
from threadloom.testing.checkpoint import rich_value

KEY, OLD_KEY = os.urandom(32), os.urandom(16)


@pytest.fixture
def serde() -> EncryptedSerializer:
    return EncryptedSerializer.from_aes_gcm([KEY])


def test_values_round_trip_and_are_not_readable(serde: EncryptedSerializer) -> None:
    """Every promised type round-trips; the stored bytes do not contain the plaintext."""
    value = {**rich_value(), "secret": "the-password-is-tea"}
    type_tag, data = serde.dumps_typed(value)
    assert type_tag == "json+aesgcm" and b"the-password-is-tea" not in data
    assert serde.loads_typed((type_tag, data)) == value


def test_rotation_writes_with_the_first_key_and_reads_with_any() -> None:
    """Old rows stay readable after a new key is put first; new rows need the new key."""
    old = EncryptedSerializer.from_aes_gcm([OLD_KEY])
    stored_old = old.dumps_typed("before")
    rotated = EncryptedSerializer.from_aes_gcm([KEY, OLD_KEY])
    stored_new = rotated.dumps_typed("after")
    assert rotated.loads_typed(stored_old) == "before" and rotated.loads_typed(stored_new) == "after"
    with pytest.raises(DecryptionError, match="key that was not given"):
        old.loads_typed(stored_new)


def test_a_tampered_row_is_refused(serde: EncryptedSerializer) -> None:
    """A changed byte, a truncated row, another cipher name or another inner type fails to authenticate."""
    type_tag, data = serde.dumps_typed({"a": 1})
    flipped = bytes([*data[:-1], data[-1] ^ 1])
    for stored in [(type_tag, flipped), (type_tag, data[:20]), ("json+aes", data), ("other+aesgcm", data), (type_tag, b"")]:
        with pytest.raises(DecryptionError):
            serde.loads_typed(stored)
    assert issubclass(DecryptionError, SerializationError)


def test_plaintext_rows_are_refused_unless_allowed(serde: EncryptedSerializer) -> None:
    """A row written without encryption is an error by default, readable with allow_plaintext=True."""
    plain = JsonPlusSerializer().dumps_typed({"a": 1})
    with pytest.raises(DecryptionError, match="not encrypted"):
        serde.loads_typed(plain)
    lenient = EncryptedSerializer.from_aes_gcm([KEY], allow_plaintext=True)
    assert lenient.loads_typed(plain) == {"a": 1}
    assert lenient.dumps_typed({"a": 1})[0] == "json+aesgcm"  # it still writes encrypted


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """THREADLOOM_AES_KEY holds text keys (their UTF-8 bytes) or base64: keys, comma-separated, the first writing."""
    monkeypatch.setenv(ENV_VAR, "0123456789abcdef0123456789abcdef")
    written = EncryptedSerializer.from_aes_gcm().dumps_typed("x")
    assert EncryptedSerializer.from_aes_gcm([b"0123456789abcdef0123456789abcdef"]).loads_typed(written) == "x"
    monkeypatch.setenv(ENV_VAR, "base64:" + base64.b64encode(KEY).decode() + ",0123456789abcdef0123456789abcdef")
    rotated = EncryptedSerializer.from_aes_gcm()
    assert rotated.loads_typed(written) == "x"
    assert EncryptedSerializer.from_aes_gcm([KEY]).loads_typed(rotated.dumps_typed("y")) == "y"
    for bad in ("short", "base64:!!", ""):
        monkeypatch.setenv(ENV_VAR, bad)
        with pytest.raises(ValueError):
            EncryptedSerializer.from_aes_gcm()
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(ValueError, match=ENV_VAR):
        EncryptedSerializer.from_aes_gcm()


def test_keys_are_checked() -> None:
    """Keys must be 16, 24 or 32 bytes, at least one, given as a list."""
    for keys in ([], [b"short"], [KEY, b"x" * 20]):
        with pytest.raises(ValueError):
            AesGcmCipher(keys)
    with pytest.raises(TypeError):
        AesGcmCipher(KEY)


def test_the_langgraph_constructor_name_means_aes(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_pycryptodome_aes(key=...) is AES-GCM with that key, or THREADLOOM_AES_KEY; mode options are refused."""
    serde = EncryptedSerializer.from_pycryptodome_aes(key=KEY)
    assert EncryptedSerializer.from_aes_gcm([KEY]).loads_typed(serde.dumps_typed("x")) == "x"
    monkeypatch.setenv(ENV_VAR, "0123456789abcdef")
    assert EncryptedSerializer.from_pycryptodome_aes().loads_typed(EncryptedSerializer.from_aes_gcm(["0123456789abcdef"]).dumps_typed(1)) == 1
    with pytest.raises(TypeError, match="GCM"):
        EncryptedSerializer.from_pycryptodome_aes(key=KEY, mode=2)


def test_a_missing_cryptography_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the cryptography package, building the cipher raises ImportError naming threadloom[encryption]."""
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(ImportError, match=r"threadloom\[encryption\]"):
        EncryptedSerializer.from_aes_gcm([KEY])


def test_a_cipher_of_langgraphs_protocol_still_works() -> None:
    """A cipher whose encrypt/decrypt take no associated data plugs in too."""

    class Xor:
        def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
            return "xor", bytes(b ^ 7 for b in plaintext)

        def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
            return bytes(b ^ 7 for b in ciphertext)

    serde = EncryptedSerializer(Xor())  # type: ignore[arg-type]
    assert serde.loads_typed(serde.dumps_typed({"a": 1})) == {"a": 1}


# --- with the savers -------------------------------------------------------------------


def _graph_turns(saver: Any) -> Any:
    graph = seed(saver)
    graph.invoke({"messages": [HumanMessage("my secret is tea", id="h9")]}, CONFIG)
    return graph


def test_in_memory_saver_stores_only_ciphertext(serde: EncryptedSerializer) -> None:
    """InMemorySaver with the encrypted serializer: the graph works and no stored payload holds plaintext."""
    saver = InMemorySaver(serde=serde)
    graph = _graph_turns(saver)
    assert graph.get_state(CONFIG).values["messages"][-2].content == "my secret is tea"
    assert len(list(saver.list(CONFIG, filter={"source": "loop"}))) >= 3
    for spaces in saver._threads.values():
        for space in spaces.values():
            stored = [s.header[1] for s in space.checkpoints.values()] + [b.data for b in space.blobs.values()]
            assert all(b"secret is tea" not in data for data in stored)


def test_sqlite_saver_file_holds_no_plaintext(tmp_path: Path, serde: EncryptedSerializer) -> None:
    """SqliteSaver: turns, state, filtered lists work; the file holds no plaintext; a tampered row is refused."""
    path = str(tmp_path / "threads.db")
    with SqliteSaver.from_conn_string(path, serde=serde) as saver:
        saver.setup()
        graph = _graph_turns(saver)
        assert graph.get_state(CONFIG).values["messages"][-2].content == "my secret is tea"
        assert len(list(saver.list(CONFIG, filter={"source": "loop"}))) >= 3
        assert len(list(saver.list(CONFIG, filter={"source": "loop"}, limit=1))) == 1
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"secret is tea" not in Path(path).read_bytes()
    with closing(sqlite3.connect(path)) as conn, conn:
        for version, data in conn.execute("SELECT version, data FROM checkpoint_blobs WHERE channel = 'messages'").fetchall():
            changed = data[:30] + bytes([data[30] ^ 1]) + data[31:]
            conn.execute("UPDATE checkpoint_blobs SET data = ? WHERE channel = 'messages' AND version = ?", (changed, version))
    with SqliteSaver.from_conn_string(path, serde=serde) as saver, pytest.raises(DecryptionError, match="channel 'messages'"):
        saver.get_tuple(CONFIG)


def test_a_plaintext_database_needs_allow_plaintext(tmp_path: Path) -> None:
    """A thread written without encryption is refused by an encrypting saver, unless plaintext is allowed."""
    path = str(tmp_path / "threads.db")
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
        seed(saver)
    strict = EncryptedSerializer.from_aes_gcm([KEY])
    with SqliteSaver.from_conn_string(path, serde=strict) as saver, pytest.raises(DecryptionError, match="not encrypted"):
        saver.get_tuple(CONFIG)
    lenient = EncryptedSerializer.from_aes_gcm([KEY], allow_plaintext=True)
    with SqliteSaver.from_conn_string(path, serde=lenient) as saver:
        graph = seed(saver)  # continues the old thread, now writing encrypted rows
        assert len(graph.get_state(CONFIG).values["messages"]) > 4
        assert saver.get_tuple(CONFIG) is not None


async def test_async_sqlite_saver_reads_and_refuses_like_the_sync_one(tmp_path: Path, serde: EncryptedSerializer) -> None:
    """AsyncSqliteSaver round-trips encrypted turns, and a reader without the key gets DecryptionError."""
    from threadloom.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = str(tmp_path / "threads.db")
    async with AsyncSqliteSaver.from_conn_string(path, serde=serde) as saver:
        graph = state_graph(saver)
        await graph.ainvoke({"messages": [HumanMessage("my secret is tea", id="h1")]}, CONFIG)
        assert (await graph.aget_state(CONFIG)).values["messages"][0].content == "my secret is tea"
    async with AsyncSqliteSaver.from_conn_string(path, serde=EncryptedSerializer.from_aes_gcm([OLD_KEY])) as saver:
        with pytest.raises(DecryptionError, match="key that was not given"):
            await saver.aget_tuple(CONFIG)
