"""PostgresSaver with EncryptedSerializer: the graph works, the tables hold ciphertext, tampering is refused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest
from langchain_core.messages import HumanMessage

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.serde.encrypted import EncryptedSerializer
from threadloom.errors import DecryptionError

sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))  # the shared hostile.py
from hostile import CONFIG, seed


def test_postgres_saver_stores_only_ciphertext(pg_dsn: str) -> None:
    """Turns, state and filtered lists work; no value column holds plaintext; a changed byte is refused."""
    serde = EncryptedSerializer.from_aes_gcm([os.urandom(32)])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        saver = PostgresSaver(conn, serde=serde)
        saver.setup()
        graph = seed(saver)
        graph.invoke({"messages": [HumanMessage("my secret is tea", id="h9")]}, CONFIG)
        assert graph.get_state(CONFIG).values["messages"][-2].content == "my secret is tea"
        assert len(list(saver.list(CONFIG, filter={"source": "loop"}))) >= 3
        stored = conn.execute(
            "SELECT checkpoint FROM threadloom_checkpoints UNION ALL SELECT metadata FROM threadloom_checkpoints "
            "UNION ALL SELECT blob FROM threadloom_checkpoint_blobs UNION ALL SELECT blob FROM threadloom_checkpoint_writes"
        ).fetchall()
        assert stored and all(b"secret is tea" not in bytes(data) and b"seen" not in bytes(data) for (data,) in stored)
        conn.execute(
            "UPDATE threadloom_checkpoint_blobs SET blob = set_byte(blob, 30, get_byte(blob, 30) # 1) "
            "WHERE channel = 'messages'"
        )
        with pytest.raises(DecryptionError, match="channel 'messages'"):
            saver.get_tuple(CONFIG)
