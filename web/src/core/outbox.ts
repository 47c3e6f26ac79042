import { ApiError, isPermanent } from "./errors";
import { tx } from "./idb";
import type { AckFrame } from "../protocol/types";

/** A message the user sent that the server has not acknowledged yet. */
export interface OutboxEntry {
  client_msg_id: string;
  chat_id: number;
  text: string;
  reply_to?: number;
  /** Epoch ms; entries are sent in this order. */
  created_at: number;
  state: "pending" | "failed";
  error?: string;
}

export interface OutboxStorage {
  all(): Promise<OutboxEntry[]>;
  put(e: OutboxEntry): Promise<void>;
  delete(id: string): Promise<void>;
}

/** Entries in IndexedDB, so they survive a reload or a crash. */
export class IdbOutboxStorage implements OutboxStorage {
  constructor(private readonly db: IDBDatabase) {}
  async all(): Promise<OutboxEntry[]> {
    return ((await tx<OutboxEntry[]>(this.db, "outbox", "readonly", (s) => s.getAll() as IDBRequest<OutboxEntry[]>)) ?? []);
  }
  async put(e: OutboxEntry): Promise<void> {
    await tx(this.db, "outbox", "readwrite", (s) => void s.put(e));
  }
  async delete(id: string): Promise<void> {
    await tx(this.db, "outbox", "readwrite", (s) => void s.delete(id));
  }
}

export class MemoryOutboxStorage implements OutboxStorage {
  private m = new Map<string, OutboxEntry>();
  async all() { return [...this.m.values()].map((e) => ({ ...e })); }
  async put(e: OutboxEntry) { this.m.set(e.client_msg_id, { ...e }); }
  async delete(id: string) { this.m.delete(id); }
}

export type SendFn = (e: OutboxEntry) => Promise<AckFrame>;

/** A fresh idempotency key: unique per message, stable across resends. */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return `w-${c.randomUUID()}`;
  return `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Unsent messages keyed by `client_msg_id`. `flush()` sends pending entries in order,
 * one at a time, and drops each one when the server acknowledges it. A resend after a
 * lost answer carries the same `client_msg_id`, so the server stores it once; a push
 * of the message (`confirm`) also drops its entry. Entries that the server refuses
 * for good become `failed` and wait for the user to retry or discard them.
 */
export class Outbox {
  private entries = new Map<string, OutboxEntry>();
  private flushing: Promise<void> | null = null;
  private listeners = new Set<() => void>();
  private loaded: Promise<void>;

  constructor(private readonly store: OutboxStorage, private readonly sendFn: SendFn, private readonly wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))) {
    this.loaded = store.all().then((list) => {
      for (const e of list) this.entries.set(e.client_msg_id, e);
      this.emit();
    });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private emit() {
    for (const l of this.listeners) l();
  }

  async list(): Promise<OutboxEntry[]> {
    await this.loaded;
    return [...this.entries.values()].sort((a, b) => a.created_at - b.created_at);
  }

  snapshot(): OutboxEntry[] {
    return [...this.entries.values()].sort((a, b) => a.created_at - b.created_at);
  }

  async add(chat_id: number, text: string, reply_to?: number, now = Date.now()): Promise<OutboxEntry> {
    await this.loaded;
    // Strictly increasing, so two messages written in the same millisecond keep their order.
    const last = Math.max(0, ...[...this.entries.values()].map((x) => x.created_at));
    const e: OutboxEntry = { client_msg_id: newClientMsgId(), chat_id, text, created_at: Math.max(now, last + 1), state: "pending" };
    if (reply_to !== undefined) e.reply_to = reply_to;
    await this.store.put(e);
    this.entries.set(e.client_msg_id, e);
    this.emit();
    return e;
  }

  /** The server has the message (an ack or its push arrived): forget the entry. */
  async confirm(client_msg_id: string): Promise<void> {
    if (!this.entries.has(client_msg_id)) return;
    this.entries.delete(client_msg_id);
    await this.store.delete(client_msg_id);
    this.emit();
  }

  async retry(client_msg_id: string): Promise<void> {
    const e = this.entries.get(client_msg_id);
    if (!e) return;
    e.state = "pending";
    delete e.error;
    await this.store.put(e);
    this.emit();
  }

  async discard(client_msg_id: string): Promise<void> {
    await this.confirm(client_msg_id);
  }

  /** Sends every pending entry in order; stops at the first network failure (resumed after reconnect). */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.run().finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  private async run(): Promise<void> {
    await this.loaded;
    for (;;) {
      const next = this.snapshot().find((e) => e.state === "pending");
      if (!next) return;
      try {
        await this.sendFn(next);
        await this.confirm(next.client_msg_id);
      } catch (err) {
        if (!this.entries.has(next.client_msg_id)) continue; // confirmed by its push meanwhile
        if (err instanceof ApiError && err.code === "rate_limited") {
          await this.wait((err.retryAfter ?? 1) * 1000);
          continue;
        }
        if (isPermanent(err)) {
          next.state = "failed";
          next.error = err instanceof ApiError ? err.code : "error";
          await this.store.put(next);
          this.emit();
          continue;
        }
        return; // offline or timed out: keep it pending for the next flush
      }
    }
  }
}
