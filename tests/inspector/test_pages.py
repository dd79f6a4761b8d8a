"""The inspector's pages in process: every view, every action, bad input, CSRF, XSS."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from _world import ASK_THREAD, CHAT_THREAD, XSS_IMG, XSS_SCRIPT, XSS_THREAD, World
from starlette.testclient import TestClient

from threadloom.inspector import create_inspector
from threadloom.inspector._memories import count


def csrf(client: TestClient, page: str = "/threads") -> str:
    """The CSRF token a page embeds in its forms (the cookie is set by the same response)."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(page).text)
    assert found is not None
    return found.group(1)


def checkpoint_ids(client: TestClient, thread_id: str) -> list[str]:
    return re.findall(r"/checkpoints/([0-9a-f-]+)\"", client.get(f"/threads/{thread_id}").text)


def test_threads_list_is_newest_first_and_searchable(client: TestClient) -> None:
    page = client.get("/threads").text
    order = [page.index(html.escape(t)) for t in (XSS_THREAD, ASK_THREAD, CHAT_THREAD)]
    assert order == sorted(order)
    by_id = client.get("/threads", params={"id": ASK_THREAD}).text
    assert ASK_THREAD in by_id and CHAT_THREAD not in by_id
    assert "No threads match" in client.get("/threads", params={"id": "nope"}).text
    by_meta = client.get("/threads", params={"metadata": "user=bob"}).text
    assert CHAT_THREAD in by_meta and ASK_THREAD not in by_meta


def test_threads_list_pages(seeded: World) -> None:
    from threadloom.inspector import _thread_pages

    saved = _thread_pages.THREADS_PER_PAGE
    _thread_pages.THREADS_PER_PAGE = 2
    try:
        with TestClient(create_inspector(seeded.backends)) as c:
            first, second = c.get("/threads").text, c.get("/threads?page=1").text
    finally:
        _thread_pages.THREADS_PER_PAGE = saved
    assert 'id="next"' in first and 'id="next"' not in second
    assert CHAT_THREAD in second and CHAT_THREAD not in first


def test_bad_query_values_are_422(client: TestClient) -> None:
    assert client.get("/threads?page=-1").status_code == 422
    assert client.get("/threads", params={"metadata": "{not json"}).status_code == 422
    assert client.get("/threads", params={"metadata": "novalue"}).status_code == 422
    assert client.get("/memories/search", params={"mode": "magic"}).status_code == 422
    assert client.get("/memories/search", params={"filter": "[1]"}).status_code == 422
    assert (
        client.get("/memories/search", params={"filter": '{"a": {"$regex": 1}}'}).status_code == 422
    )
    assert client.get("/memories?ns=a..b").status_code == 422
    assert client.get("/threads/missing").status_code == 404


def test_timeline_shows_messages_as_chat_and_diffs(client: TestClient) -> None:
    page = client.get(f"/threads/{CHAT_THREAD}").text
    assert page.count('class="checkpoint"') >= 6
    assert 'class="msg role-human"' in page and 'class="msg role-ai"' in page
    assert "remember that I like tea" in page
    # Each row shows only what its checkpoint added: the first message appears once.
    assert page.count("hi, I am Bob") == 1


def test_checkpoint_state_pages_messages(client: TestClient) -> None:
    head = checkpoint_ids(client, CHAT_THREAD)[0]
    page = client.get(f"/threads/{CHAT_THREAD}/checkpoints/{head}").text
    assert "6 messages" in page and "hi, I am Bob" in page
    assert client.get(f"/threads/{CHAT_THREAD}/checkpoints/nope").status_code == 404


def test_interrupt_is_resumed_from_the_form(client: TestClient, seeded: World) -> None:
    page = client.get(f"/threads/{ASK_THREAD}").text
    assert "how many?" in page and 'id="resume"' in page
    token = csrf(client, f"/threads/{ASK_THREAD}")
    r = client.post(
        f"/threads/{ASK_THREAD}/resume", data={"csrf": token, "value": "41", "graph": "asker"}
    )
    assert r.status_code == 200  # followed the redirect to the thread
    state = seeded.backends.graphs["asker"].get_state({"configurable": {"thread_id": ASK_THREAD}})
    assert state.values == {"n": 42} and not state.interrupts


def test_fork_from_a_checkpoint_runs_a_new_branch(client: TestClient, seeded: World) -> None:
    chat = seeded.backends.graphs["chat"]
    config = {"configurable": {"thread_id": CHAT_THREAD}}
    first_turn = next(
        s for s in chat.get_state_history(config) if len(s.values.get("messages", [])) == 2
    )
    cid = first_turn.config["configurable"]["checkpoint_id"]
    token = csrf(client, f"/threads/{CHAT_THREAD}/checkpoints/{cid}")
    r = client.post(
        f"/threads/{CHAT_THREAD}/checkpoints/{cid}/fork",
        data={"csrf": token, "input": "a different question", "graph": "chat"},
    )
    assert r.status_code == 200
    messages = chat.get_state(config).values["messages"]
    assert [m.content for m in messages][:3] == [
        "hi, I am Bob",
        "hello there",
        "a different question",
    ]
    assert len(messages) == 4


def test_mutations_need_the_csrf_token(client: TestClient, seeded: World) -> None:
    for path, data in [
        (f"/threads/{ASK_THREAD}/resume", {"value": "1", "graph": "asker"}),
        ("/memories/item/delete", {"ns": "memories.bob", "key": "name", "confirmed": "yes"}),
        ("/memories/namespace/delete", {"ns": "memories", "confirmed": "yes"}),
    ]:
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data={**data, "csrf": "x" * 43}).status_code == 403
    token = csrf(client)
    r = client.post(
        "/memories/item/delete",
        data={"ns": "memories.bob", "key": "name", "confirmed": "yes", "csrf": token},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    assert seeded.backends.store.get(("memories", "bob"), "name") is not None


def test_read_only_refuses_mutations_and_hides_forms(readonly: TestClient, seeded: World) -> None:
    page = readonly.get("/memories/item?ns=memories.bob&key=name").text
    assert 'id="delete-item"' not in page and "read-only" in page
    token = csrf(readonly)
    r = readonly.post(
        "/memories/item/delete",
        data={"ns": "memories.bob", "key": "name", "confirmed": "yes", "csrf": token},
    )
    assert r.status_code == 403
    assert seeded.backends.store.get(("memories", "bob"), "name") is not None


def test_namespace_tree_counts_and_items(client: TestClient) -> None:
    root = client.get("/memories").text
    assert re.search(r'>memories</a>\s*<span class="count">4</span>', root)
    assert re.search(r'>docs</a>\s*<span class="count">1</span>', root)
    assert "threadloom_server" not in root
    bob = client.get("/memories?ns=memories.bob").text
    assert "3 items" in bob
    newest = client.get("/memories?ns=memories.bob").text
    oldest = client.get("/memories?ns=memories.bob&order=oldest").text
    assert newest.index("key=xss") < newest.index("key=name")
    assert oldest.index("key=name") < oldest.index("key=xss")


def test_items_page_and_sort_from_both_ends(seeded: World) -> None:
    from threadloom.inspector._memories import items_page

    store = seeded.backends.store
    for i in range(23):
        store.put(("many",), f"k{i:02d}", {"text": f"item {i}"})
    assert count(store, ("many",)) == 23
    page = items_page(store, ("many",), limit=10, offset=20, oldest_first=False)
    assert (
        page.total == 23 and not page.more and [i.key for i in page.items] == ["k02", "k01", "k00"]
    )
    page = items_page(store, ("many",), limit=10, offset=0, oldest_first=True)
    assert page.more and [i.key for i in page.items] == [f"k{i:02d}" for i in range(10)]
    page = items_page(store, ("many",), limit=10, offset=20, oldest_first=True)
    assert [i.key for i in page.items] == ["k20", "k21", "k22"]
    assert count(store, ("nothing",)) == 0


def test_large_namespaces_count_to_a_cap(seeded: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from threadloom.inspector import _memories

    store = seeded.backends.store
    for i in range(12):
        store.put(("big",), f"k{i:02d}", {"text": f"item {i}"})
    monkeypatch.setattr(_memories, "PAGE_COUNT_CAP", 5)
    monkeypatch.setattr(_memories, "TREE_COUNT_CAP", 5)
    page = _memories.items_page(store, ("big",), limit=4, offset=4, oldest_first=True)
    assert not page.exact and not page.oldest_first and page.more
    assert [i.key for i in page.items] == ["k07", "k06", "k05", "k04"]
    page = _memories.items_page(store, ("big",), limit=4, offset=8, oldest_first=False)
    assert [i.key for i in page.items] == ["k03", "k02", "k01", "k00"] and not page.more
    kids, _ = _memories.children(store, seeded.backends.store and _viewer(), (), limit=10, offset=0)
    assert {k.namespace: k.label for k in kids}[("big",)] == "5+"


def _viewer():  # type: ignore[no-untyped-def]
    from threadloom.inspector import Viewer

    return Viewer()


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_search_modes_show_scores(client: TestClient, mode: str) -> None:
    page = client.get(
        "/memories/search", params={"query": "green tea", "mode": mode, "ns": "memories"}
    ).text
    assert "Bob likes green tea" in page
    assert re.search(r'class="score">-?\d+\.\d{4}<', page)


def test_search_filter(client: TestClient) -> None:
    page = client.get(
        "/memories/search", params={"ns": "memories", "filter": '{"kind": "preference"}'}
    ).text
    assert "Bob likes green tea" in page and "User name is Bob" not in page


def test_item_detail_edit_and_delete_behind_confirmation(client: TestClient, seeded: World) -> None:
    store = seeded.backends.store
    page = client.get("/memories/item?ns=memories.bob&key=name").text
    assert "User name is Bob" in page and 'id="created-at"' in page
    token = csrf(client, "/memories/item?ns=memories.bob&key=name")
    asked = client.post(
        "/memories/item/edit",
        data={"csrf": token, "ns": "memories.bob", "key": "name", "value": '{"text": "Robert"}'},
    )
    assert (
        "Are you sure?" in asked.text
        and store.get(("memories", "bob"), "name").value["text"] == "User name is Bob"
    )
    bad = client.post(
        "/memories/item/edit",
        data={
            "csrf": token,
            "ns": "memories.bob",
            "key": "name",
            "value": "[1, 2]",
            "confirmed": "yes",
        },
    )
    assert bad.status_code == 422
    client.post(
        "/memories/item/edit",
        data={
            "csrf": token,
            "ns": "memories.bob",
            "key": "name",
            "value": '{"text": "Robert"}',
            "confirmed": "yes",
        },
    )
    assert store.get(("memories", "bob"), "name").value == {"text": "Robert"}
    asked = client.post(
        "/memories/item/delete", data={"csrf": token, "ns": "memories.bob", "key": "name"}
    )
    assert "Are you sure?" in asked.text and store.get(("memories", "bob"), "name") is not None
    client.post(
        "/memories/item/delete",
        data={"csrf": token, "ns": "memories.bob", "key": "name", "confirmed": "yes"},
    )
    assert store.get(("memories", "bob"), "name") is None


def test_delete_namespace_behind_confirmation(client: TestClient, seeded: World) -> None:
    store = seeded.backends.store
    token = csrf(client)
    asked = client.post("/memories/namespace/delete", data={"csrf": token, "ns": "memories.bob"})
    assert "all 3 memories" in asked.text and count(store, ("memories", "bob")) == 3
    assert (
        client.post(
            "/memories/namespace/delete", data={"csrf": token, "ns": "", "confirmed": "yes"}
        ).status_code
        == 422
    )
    client.post(
        "/memories/namespace/delete", data={"csrf": token, "ns": "memories.bob", "confirmed": "yes"}
    )
    assert count(store, ("memories", "bob")) == 0 and count(store, ("memories", "alice")) == 1


def test_stored_strings_are_inert(client: TestClient) -> None:
    pages = [
        client.get("/memories/item?ns=memories.bob&key=xss").text,
        client.get("/memories?ns=memories.bob").text,
        client.get(f"/threads/{CHAT_THREAD}").text,
        client.get("/threads").text,
    ]
    for page in pages:
        assert "<script>window" not in page and "<img src=x" not in page
    assert html.escape(XSS_SCRIPT, quote=False) in pages[0].replace("&#34;", '"')
    assert "&lt;img" in pages[2] and "&lt;b&gt;bold&lt;/b&gt;-thread" in pages[3]
    assert XSS_IMG not in pages[2]
    assert "script-src 'self'" in client.get("/threads").headers["content-security-policy"]


def test_graphs_page_ships_mermaid_locally(client: TestClient) -> None:
    page = client.get("/graphs").text
    assert 'class="mermaid"' in page and ("graph TD" in page or "flowchart" in page)
    assert (
        'src="/static/mermaid.min.js"' in page
        and "http" not in re.sub(r'(xmlns|href)="[^"]*"', "", page).split("<body>")[0]
    )
    js = client.get("/static/mermaid.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def test_without_graphs_no_run_forms(seeded: World) -> None:
    from threadloom.inspector import Backends

    bare = Backends(checkpointer=seeded.backends.checkpointer, store=seeded.backends.store)
    with TestClient(create_inspector(bare, writable=True)) as c:
        page = c.get(f"/threads/{ASK_THREAD}").text
        assert "how many?" in page and 'id="resume"' not in page
        assert "No graphs are loaded" in c.get("/graphs").text


def test_a_running_thread_is_not_resumed_here(seeded: World) -> None:
    import dataclasses

    busy = dataclasses.replace(seeded.backends, is_busy=lambda thread_id: True)
    with TestClient(create_inspector(busy, writable=True)) as c:
        token = csrf(c)
        r = c.post(
            f"/threads/{ASK_THREAD}/resume", data={"csrf": token, "value": "1", "graph": "asker"}
        )
        assert r.status_code == 409 and "is running" in r.text
    state = seeded.backends.graphs["asker"].get_state({"configurable": {"thread_id": ASK_THREAD}})
    assert state.interrupts


def test_a_long_thread_pages_its_checkpoints_and_messages(seeded: World) -> None:
    chat = seeded.backends.graphs["chat"]
    config = {"configurable": {"thread_id": "long"}}
    for turn in range(30):  # 60 messages, 90 checkpoints
        chat.invoke({"messages": [{"role": "user", "content": f"question {turn}"}]}, config)
    with TestClient(create_inspector(seeded.backends)) as c:
        first = c.get("/threads/long").text
        assert first.count('class="checkpoint"') == 20 and "question 29" in first
        assert "question 10" not in first
        cursor = re.search(r'href="/threads/long\?before=([^"]+)" id="next"', first)
        assert cursor is not None
        second = c.get(f"/threads/long?before={cursor.group(1)}").text
        assert second.count('class="checkpoint"') == 20 and "question 29" not in second
        head = checkpoint_ids(c, "long")[0]
        last = c.get(f"/threads/long/checkpoints/{head}").text
        assert (
            "messages 51 to 60 of 60" in last
            and "question 29" in last
            and "question 0<" not in last
        )
        oldest = c.get(f"/threads/long/checkpoints/{head}?mpage=0").text
        assert "messages 1 to 50 of 60" in oldest and ">question 0<" in oldest
        assert c.get(f"/threads/long/checkpoints/{head}?mpage=x").status_code == 422


def test_item_expiry_is_shown_and_looking_never_refreshes_it(tmp_path: Path) -> None:
    from threadloom.checkpoint.memory import InMemorySaver
    from threadloom.inspector import Backends
    from threadloom.store.sqlite import SqliteStore

    ttl = {"default_ttl": 60, "refresh_on_read": True}
    with SqliteStore.from_conn_string(str(tmp_path / "ttl.db"), ttl=ttl) as store:
        store.setup()
        store.put(("memories", "bob"), "soon", {"text": "expires"})
        store.put(("memories", "bob"), "never", {"text": "stays"}, ttl=None)
        before = {s.key: s.expires_at for s in store.dump_items(("memories",))}
        with TestClient(create_inspector(Backends(checkpointer=InMemorySaver(), store=store))) as c:
            page = c.get("/memories/item?ns=memories.bob&key=soon").text
            assert before["soon"].isoformat() in page and "TTL 60" in page
            assert ">never<" in c.get("/memories/item?ns=memories.bob&key=never").text
            c.get("/memories?ns=memories.bob")
            c.get("/memories/search?ns=memories")
        after = {s.key: s.expires_at for s in store.dump_items(("memories",))}
        assert after == before


def test_several_interrupts_resume_one_at_a_time(seeded: World) -> None:
    from typing_extensions import TypedDict

    from threadloom.graph import START, StateGraph
    from threadloom.inspector import Backends
    from threadloom.types import interrupt

    class Answers(TypedDict, total=False):
        a: str
        b: str

    builder = StateGraph(Answers)
    builder.add_node("ask_a", lambda s: {"a": interrupt("first?")})
    builder.add_node("ask_b", lambda s: {"b": interrupt("second?")})
    builder.add_edge(START, "ask_a")
    builder.add_edge(START, "ask_b")
    saver, store = seeded.backends.checkpointer, seeded.backends.store
    graph = builder.compile(checkpointer=saver, store=store)
    config = {"configurable": {"thread_id": "two-questions"}}
    graph.invoke({}, config)
    with TestClient(create_inspector(Backends(saver, store, {"g": graph}), writable=True)) as c:
        page = c.get("/threads/two-questions").text
        assert page.count('class="resume-form"') == 2 and "first?" in page and "second?" in page
        ids = re.findall(r'name="interrupt_id" value="([^"]+)"', page)
        first = next(i.id for i in graph.get_state(config).interrupts if i.value == "first?")
        assert first in ids
        c.post(
            "/threads/two-questions/resume",
            data={"csrf": csrf(c), "value": '"A"', "interrupt_id": first},
        )
        # The answered task is done; its write lands with the step, once both are answered.
        assert [i.value for i in graph.get_state(config).interrupts] == ["second?"]
        page = c.get("/threads/two-questions").text
        assert page.count('class="resume-form"') == 1 and 'id="resume"' in page
        c.post("/threads/two-questions/resume", data={"csrf": csrf(c), "value": '"B"'})
    assert graph.get_state(config).values == {"a": "A", "b": "B"}
