/** Minimal promise wrappers over IndexedDB (one database per signed-in user). */

export function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "client_msg_id" });
      if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
    };
    req.onsuccess = () => {
      // Let a sign-out (deleteDatabase) proceed instead of blocking on this connection.
      req.result.onversionchange = () => req.result.close();
      resolve(req.result);
    };
    req.onerror = () => reject(req.error);
  });
}

export function tx<T>(db: IDBDatabase, store: string, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const req = fn(t.objectStore(store));
    t.oncomplete = () => resolve(req ? req.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** A small key-value store in the `kv` object store (cached chats, messages, last seq). */
export class KvStore {
  constructor(private readonly db: IDBDatabase) {}
  get<T>(key: string): Promise<T | undefined> {
    return tx<T>(this.db, "kv", "readonly", (s) => s.get(key) as IDBRequest<T>);
  }
  async set(key: string, value: unknown): Promise<void> {
    await tx(this.db, "kv", "readwrite", (s) => void s.put(value, key));
  }
  async delete(key: string): Promise<void> {
    await tx(this.db, "kv", "readwrite", (s) => void s.delete(key));
  }
}
