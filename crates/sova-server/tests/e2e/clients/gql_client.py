"""Drives Sova's GraphQL endpoint with the `gql` Python client (none of its code
written here): queries and mutations over HTTP, validated client-side against the
schema gql fetches by introspection; errors read from extensions.code; the `events`
subscription over graphql-transport-ws receiving a message sent over the TCP line
protocol, then a resume with `since`. Usage: gql_client.py HTTP_BASE TCP_HOST:PORT.
Prints one `ok <check>` line per passed check; exits non-zero on the first failure.
"""

import asyncio
import json
import socket
import sys
import uuid

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport
from gql.transport.websockets import WebsocketsTransport

TIMEOUT = 20
PASSWORD = "correct horse battery"


def ok(name):
    print("ok", name, flush=True)


def http_client(base, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = RequestsHTTPTransport(url=f"{base}/graphql", headers=headers, timeout=TIMEOUT)
    return Client(transport=transport, fetch_schema_from_transport=True)


def expect_code(client, query, code, variables=None):
    try:
        client.execute(gql(query), variable_values=variables)
    except TransportQueryError as err:
        got = err.errors[0]["extensions"]["code"]
        assert got in (code if isinstance(code, tuple) else (code,)), f"expected {code}, got {err.errors}"
        return err.errors[0]
    raise AssertionError(f"expected {code}")


class Tcp:
    """A raw TCP line-protocol client (newline-delimited JSON)."""

    def __init__(self, addr, token):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.file = self.sock.makefile("r", encoding="utf-8")
        self.send({"type": "auth", "id": "a", "token": token})
        while json.loads(self.file.readline())["type"] != "auth_success":
            pass

    def wait_for(self, re):
        """Reads lines until the answer to request `re`."""
        while True:
            frame = json.loads(self.file.readline())
            if frame.get("re") == re:
                assert frame["type"] == "result", frame
                return frame

    def send(self, frame):
        self.sock.sendall((json.dumps(frame) + "\n").encode())


async def subscribe_and_resume(base, tcp_addr, token, chat_id):
    ws_url = base.replace("http://", "ws://") + "/graphql"
    tcp = Tcp(tcp_addr, token)
    sub = gql("subscription { events { seq type data } }")
    transport = WebsocketsTransport(url=ws_url, init_payload={"authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    seen = None
    async with Client(transport=transport) as session:
        async def keep_sending():
            # The subscription is live once the server authenticated it: send until seen.
            n = 0
            while True:
                tcp.send({"type": "send", "id": f"s{n}", "chat_id": chat_id, "text": "over tcp"})
                n += 1
                await asyncio.sleep(0.5)

        sender = asyncio.create_task(keep_sending())
        try:
            async def first():
                async for result in session.subscribe(sub):
                    e = result["events"]
                    if e["type"] == "new_message" and e["data"]["text"] == "over tcp":
                        return e
            seen = await asyncio.wait_for(first(), TIMEOUT)
        finally:
            sender.cancel()
    assert seen["seq"] > 0 and seen["data"]["chat_id"] == chat_id, seen
    ok("subscription receives a TCP message")

    marker = f"missed {uuid.uuid4().hex[:6]}"
    tcp.send({"type": "send", "id": "m", "chat_id": chat_id, "text": marker})
    tcp.wait_for("m")  # stored before the resume starts, so the replay must hold it
    transport = WebsocketsTransport(url=ws_url, init_payload={"authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    replay = []
    async with Client(transport=transport) as session:
        async def until_synced():
            query = gql("subscription($since: Int64) { events(since: $since) { seq type data } }")
            async for result in session.subscribe(query, variable_values={"since": seen["seq"]}):
                replay.append(result["events"])
                if result["events"]["type"] == "synced" and any(
                        e["type"] == "new_message" and e["data"]["text"] == marker for e in replay):
                    return
        try:
            await asyncio.wait_for(until_synced(), TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError(f"no replay of {marker!r} then synced after {seen['seq']}: {replay}")
    assert all(e["seq"] > seen["seq"] for e in replay), "replayed an event at or below since"
    ok("subscription resume")

    transport = WebsocketsTransport(url=ws_url, init_payload={},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport) as session:
        try:
            async for _ in session.subscribe(sub):
                raise AssertionError("an anonymous subscription received an event")
        except TransportQueryError as err:
            assert err.errors[0]["extensions"]["code"] == "unauthorized", err.errors
    ok("subscription auth")


def main():
    base, tcp_addr = sys.argv[1:3]
    anon = http_client(base)
    names = ["gq" + uuid.uuid4().hex[:10] for _ in range(2)]
    ids = []
    for name in names:
        r = anon.execute(gql("mutation($u: String!, $p: String!) { register(username: $u, password: $p) { user_id username } }"),
                         variable_values={"u": name, "p": PASSWORD})
        assert r["register"]["username"] == name, r
        ids.append(r["register"]["user_id"])
    login = anon.execute(gql("mutation($u: String!, $p: String!) { login(username: $u, password: $p) }"),
                         variable_values={"u": names[0], "p": PASSWORD})["login"]
    token = login["token"]
    assert token and login["user_id"] == ids[0], login
    ok("register login")

    client = http_client(base, token)
    me = client.execute(gql("{ me { user_id username } }"))["me"]
    assert me == {"user_id": ids[0], "username": names[0]}, me
    chat = client.execute(gql("mutation($m: [JSON]) { create_chat(type: \"group\", name: \"gql room\", members: $m) { id name type member_count } }"),
                          variable_values={"m": [ids[1]]})["create_chat"]
    assert chat["name"] == "gql room" and chat["type"] == "group" and chat["member_count"] == 2, chat
    sent = client.execute(gql("mutation($c: Int64!) { send(chat_id: $c, text: \"hello over graphql\") { id text chat_id } }"),
                          variable_values={"c": chat["id"]})["send"]
    assert sent["text"] == "hello over graphql" and sent["chat_id"] == chat["id"], sent
    chats = client.execute(gql("{ chats { id name last_message { text user } } }"))["chats"]
    mine = [c for c in chats if c["id"] == chat["id"]]
    assert mine and mine[0]["last_message"]["text"] == "hello over graphql", chats
    msgs = client.execute(gql("query($c: Int64!) { messages(chat_id: $c, limit: 5) { id text } }"),
                          variable_values={"c": chat["id"]})["messages"]
    assert msgs[-1]["text"] == "hello over graphql", msgs
    # The user directory: by username prefix (case-insensitive) and by id.
    found = client.execute(gql("query($q: String) { users(q: $q) { user_id username } }"),
                           variable_values={"q": names[1].upper()})["users"]
    assert found == [{"user_id": ids[1], "username": names[1]}], found
    one = client.execute(gql("query($u: Int64!) { get_user(user_id: $u) { username created_at } }"),
                         variable_values={"u": ids[1]})["get_user"]
    assert one["username"] == names[1] and one["created_at"], one
    ok("queries and mutations")

    expect_code(anon, "{ me { username } }", "unauthorized")
    expect_code(client, "query { get_chat(chat_id: 987654321) { id } }", "not_found")
    expect_code(client, "query { get_user(user_id: 987654321) { username } }", "not_found")
    err = expect_code(client, "mutation($c: Int64!, $t: String) { send(chat_id: $c, text: $t) { id } }", ("bad_request", "too_large"),
                      {"c": chat["id"], "t": "x" * 5000})
    assert err["message"], err
    ok("errors")

    asyncio.run(subscribe_and_resume(base, tcp_addr, token, chat["id"]))


if __name__ == "__main__":
    main()
