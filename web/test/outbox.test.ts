import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { openDb } from "../src/core/idb";
import { IdbOutboxStorage, MemoryOutboxStorage, Outbox, type OutboxEntry } from "../src/core/outbox";
import { ApiError } from "../src/core/errors";
import type { AckFrame } from "../src/protocol/types";

const ack = (e: OutboxEntry, id: number): AckFrame => ({ type: "ack", message_id: id, chat_id: e.chat_id, chat_seq: id, seq: id, timestamp: "2023-12-01T10:00:00Z", client_msg_id: e.client_msg_id });

/** A server that stores each client_msg_id once, like sova does. */
function fakeServer() {
  const stored = new Map<string, number>();
  let next = 1;
  let online = true;
  let loseAnswers = false;
  const send = async (e: OutboxEntry): Promise<AckFrame> => {
    if (!online) throw new ApiError("network", "offline");
    if (!stored.has(e.client_msg_id)) stored.set(e.client_msg_id, next++);
    if (loseAnswers) throw new ApiError("network", "disconnected");
    return ack(e, stored.get(e.client_msg_id)!);
  };
  return { send, stored, set online(v: boolean) { online = v; }, set loseAnswers(v: boolean) { loseAnswers = v; } };
}

describe("Outbox", () => {
  it("keeps messages while offline and sends them in order after reconnect", async () => {
    const srv = fakeServer();
    const order: string[] = [];
    const ob = new Outbox(new MemoryOutboxStorage(), async (e) => { order.push(e.text); return srv.send(e); });
    srv.online = false;
    await ob.add(1, "one", undefined, 1);
    await ob.add(1, "two", 7, 2);
    await ob.flush();
    expect((await ob.list()).map((e) => e.text)).toEqual(["one", "two"]);
    srv.online = true;
    await ob.flush();
    expect(await ob.list()).toEqual([]);
    expect(order.slice(-2)).toEqual(["one", "two"]);
    expect(srv.stored.size).toBe(2);
  });

  it("resends with the same client_msg_id when the answer was lost: stored once", async () => {
    const srv = fakeServer();
    const ob = new Outbox(new MemoryOutboxStorage(), srv.send);
    const e = await ob.add(1, "hello");
    srv.loseAnswers = true;
    await ob.flush();
    expect((await ob.list()).length).toBe(1);
    srv.loseAnswers = false;
    await ob.flush();
    expect(await ob.list()).toEqual([]);
    expect([...srv.stored.keys()]).toEqual([e.client_msg_id]);
  });

  it("survives a reload (IndexedDB) and is resent without duplicates", async () => {
    const srv = fakeServer();
    srv.online = false;
    const db1 = await openDb("outbox-test");
    const ob1 = new Outbox(new IdbOutboxStorage(db1), srv.send);
    const a = await ob1.add(3, "first");
    const b = await ob1.add(3, "second");
    await ob1.flush();
    db1.close();
    // "Reload": a new database connection and a new outbox.
    srv.online = true;
    const db2 = await openDb("outbox-test");
    const ob2 = new Outbox(new IdbOutboxStorage(db2), srv.send);
    expect((await ob2.list()).map((e) => e.client_msg_id)).toEqual([a.client_msg_id, b.client_msg_id]);
    await Promise.all([ob2.flush(), ob2.flush()]);
    expect(await ob2.list()).toEqual([]);
    expect(srv.stored.size).toBe(2);
    const db3 = await openDb("outbox-test");
    expect(await new IdbOutboxStorage(db3).all()).toEqual([]);
  });

  it("drops an entry when its push arrives first", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ob = new Outbox(new MemoryOutboxStorage(), async (e) => { await gate; throw new ApiError("network", "lost"); });
    const e = await ob.add(1, "x");
    const f = ob.flush();
    await ob.confirm(e.client_msg_id);
    release();
    await f;
    expect(await ob.list()).toEqual([]);
  });

  it("marks permanent refusals failed and waits out rate limits", async () => {
    const waits: number[] = [];
    let calls = 0;
    const ob = new Outbox(new MemoryOutboxStorage(), async (e) => {
      calls++;
      if (e.text === "forbidden") throw new ApiError("forbidden", "channel");
      if (calls === 2) throw new ApiError("rate_limited", "sending too fast", 0, 3);
      return ack(e, calls);
    }, async (ms) => { waits.push(ms); });
    await ob.add(1, "forbidden", undefined, 1);
    await ob.add(1, "ok", undefined, 2);
    await ob.flush();
    const left = await ob.list();
    expect(left.map((e) => [e.text, e.state, e.error])).toEqual([["forbidden", "failed", "forbidden"]]);
    expect(waits).toEqual([3000]);
    await ob.retry(left[0]!.client_msg_id);
    expect((await ob.list())[0]!.state).toBe("pending");
  });
});
