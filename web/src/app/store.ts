import { batch, createSignal } from "solid-js";
import { createStore, produce, reconcile } from "solid-js/store";
import { ApiError } from "../core/errors";
import { KvStore, openDb } from "../core/idb";
import { IdbOutboxStorage, MemoryOutboxStorage, Outbox, type OutboxEntry } from "../core/outbox";
import { Rest } from "../core/rest";
import { TokenManager, webLock, type StoredSession } from "../core/session";
import { Connection, type ConnState } from "../core/socket";
import type { AckFrame, AchievementUnlockedFrame, Chat, Game, Member, Message, PushFrame, Role, SecurityAlertFrame, TokenPair } from "../protocol/types";
import { DEFAULT_SETTINGS, applyAppearance, normalize, type Settings } from "./settings";
import { setLang, t } from "./i18n";
import { navigate } from "./router";
import { onTaskPush } from "./tasks";

export interface ChatMessages {
  list: Message[];
  /** The list reaches the chat's newest message (live pushes are appended). */
  hasLatest: boolean;
  /** No older messages exist. */
  atStart: boolean;
  loading: boolean;
}

interface State {
  me: { id: number; username: string } | null;
  conn: ConnState;
  chats: Record<number, Chat>;
  messages: Record<number, ChatMessages>;
  members: Record<number, Member[]>;
  presence: Record<number, { status: "online" | "offline"; last_seen?: string }>;
  typing: Record<number, Record<number, { user: string; until: number }>>;
  /** The other member of each private chat. */
  peers: Record<number, number>;
  outbox: OutboxEntry[];
  alerts: SecurityAlertFrame[];
  /** Games by id, as last pushed (`game_updated`) or fetched; newer versions win. */
  games: Record<number, Game>;
  /** Achievements unlocked while the app was open (shown as toasts). */
  unlocked: AchievementUnlockedFrame[];
  settings: Settings;
  openChat: number | null;
  chatsLoaded: boolean;
  /** A message to show in context when its chat opens (from a search result). */
  jump: { chat: number; id: number } | null;
}

const [state, setState] = createStore<State>({
  me: null, conn: "offline", chats: {}, messages: {}, members: {}, presence: {}, typing: {}, peers: {},
  outbox: [], alerts: [], games: {}, unlocked: [], settings: DEFAULT_SETTINGS, openChat: null, chatsLoaded: false, jump: null,
});
export { state };

export const [now, setNow] = createSignal(Date.now());
setInterval(() => setNow(Date.now()), 1000);

export const tokens: TokenManager = new TokenManager({
  storage: localStorage,
  refresh: (rt: string): Promise<TokenPair> => rest.refresh(rt),
  lock: webLock,
});
export const rest: Rest = new Rest({ token: (force: boolean): Promise<string | null> => tokens.token(force) });

let conn: Connection | null = null;
let outbox: Outbox | null = null;
let kv: KvStore | null = null;
let lastSeq: number | null = null;
let settingsRemote = true;

function deviceId(): string {
  let id = localStorage.getItem("sova.device");
  if (!id) {
    id = `web-${(crypto.randomUUID?.() ?? Math.random().toString(36).slice(2)).slice(0, 12)}`;
    localStorage.setItem("sova.device", id);
  }
  return id;
}
export const DEVICE_ID = deviceId();

// ---------- settings ----------
const prefersDark = matchMedia("(prefers-color-scheme: dark)");
function applySettings(s: Settings) {
  setState("settings", reconcile(s));
  applyAppearance(s, prefersDark.matches);
  setLang(s.lang);
}
prefersDark.addEventListener("change", () => applyAppearance(state.settings, prefersDark.matches));
applySettings(normalize(JSON.parse(localStorage.getItem("sova.settings") ?? "{}")));

export async function saveSettings(patch: Partial<Settings>): Promise<void> {
  const next = normalize({ ...state.settings, ...patch, scheme: { ...state.settings.scheme, ...(patch.scheme ?? {}) } });
  applySettings(next);
  localStorage.setItem("sova.settings", JSON.stringify(next));
  if (!settingsRemote || !state.me) return;
  // One PUT after the user stops dragging a slider or picking colours.
  if (settingsTimer) clearTimeout(settingsTimer);
  settingsTimer = setTimeout(() => {
    settingsTimer = null;
    rest.putSettings(state.settings as unknown as Record<string, unknown>).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) settingsRemote = false; // server without the settings endpoint
    });
  }, 400);
}
let settingsTimer: ReturnType<typeof setTimeout> | null = null;

async function loadRemoteSettings() {
  try {
    const env = await rest.getSettings();
    settingsRemote = true;
    if (env.updated_at && Object.keys(env.settings).length) {
      const s = normalize(env.settings);
      localStorage.setItem("sova.settings", JSON.stringify(s));
      applySettings(s);
    } else {
      // First device with settings on this account: upload the local ones.
      void rest.putSettings(state.settings as unknown as Record<string, unknown>).catch(() => undefined);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) settingsRemote = false;
  }
}

// ---------- session ----------
export function signedIn(): boolean {
  return state.me !== null;
}

export async function completeLogin(pair: TokenPair): Promise<void> {
  tokens.set(pair);
  await startSession(tokens.session);
}

export async function startSession(s: StoredSession | null): Promise<void> {
  if (!s) return;
  setState("me", { id: s.user_id, username: s.username });
  tokens.schedule();
  let db: IDBDatabase | null = null;
  try {
    db = await openDb(`sova-${s.user_id}`);
    kv = new KvStore(db);
  } catch {
    kv = null;
  }
  await loadCache();
  outbox = new Outbox(db ? new IdbOutboxStorage(db) : new MemoryOutboxStorage(), sendEntry);
  outbox.onChange(() => setState("outbox", reconcile(outbox?.snapshot() ?? [])));
  setState("outbox", await outbox.list());
  conn = new Connection({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
    token: (force) => tokens.token(force),
    since: () => lastSeq,
    onPush,
    onSynced: (seq) => {
      bumpSeq(seq);
      void afterSync();
    },
    onState: (c) => setState("conn", c),
    onSignedOut: () => void signOut(false),
  });
  conn.start();
  void loadRemoteSettings();
}

export async function signOut(callServer = true): Promise<void> {
  const s = tokens.session;
  if (callServer && s) await rest.logout(s.refresh_token).catch(() => undefined);
  conn?.stop();
  conn = null;
  tokens.clear();
  // An explicit sign-out leaves nothing of the account in this browser.
  if (callServer && s) {
    kv = null;
    try {
      indexedDB.deleteDatabase(`sova-${s.user_id}`);
    } catch {
      /* ignore */
    }
  }
  lastSeq = null;
  batch(() => {
    setState({ me: null, chats: {}, messages: {}, members: {}, presence: {}, typing: {}, peers: {}, outbox: [], alerts: [], openChat: null, chatsLoaded: false });
  });
  navigate("/", true);
}

// The refresh token died (revoked, expired, reused elsewhere): sign out here too.
tokens.onChange((s) => {
  if (!s && state.me) void signOut(false);
});

/** The last incoming message of the open chat, for screen readers (the history itself is not a live region). */
export const [announcement, setAnnouncement] = createSignal("");

addEventListener("online", () => conn?.kick());
// Phones suspend background tabs and their sockets: reconnect as soon as the tab is shown.
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) conn?.kick();
});
addEventListener("storage", (e: StorageEvent) => {
  // Signed out in another tab.
  if (e.key === "sova.session" && e.newValue === null && state.me) void signOut(false);
});

function bumpSeq(seq: number | undefined) {
  if (seq === undefined) return;
  if (lastSeq === null || seq > lastSeq) lastSeq = seq;
  scheduleCache();
}

// ---------- offline cache: chats and the newest messages (IndexedDB) ----------
let cacheTimer: ReturnType<typeof setTimeout> | null = null;
function scheduleCache() {
  if (!kv || cacheTimer) return;
  cacheTimer = setTimeout(() => {
    cacheTimer = null;
    const msgs: Record<number, Message[]> = {};
    for (const [id, m] of Object.entries(state.messages)) if (m.hasLatest) msgs[Number(id)] = m.list.slice(-50);
    void kv?.set("cache", JSON.parse(JSON.stringify({ chats: state.chats, msgs, lastSeq, peers: state.peers }))).catch(() => undefined);
  }, 500);
}

async function loadCache() {
  const c = await kv?.get<{ chats: Record<number, Chat>; msgs: Record<number, Message[]>; lastSeq: number | null; peers?: Record<number, number> }>("cache").catch(() => undefined);
  if (!c) return;
  lastSeq = c.lastSeq;
  batch(() => {
    setState("chats", c.chats);
    setState("peers", c.peers ?? {});
    for (const [id, list] of Object.entries(c.msgs)) setState("messages", Number(id), { list, hasLatest: true, atStart: false, loading: false });
    setState("chatsLoaded", true);
  });
}

// ---------- loading ----------
async function afterSync() {
  await loadChats();
  void outbox?.flush();
  const open = state.openChat;
  if (open !== null) void loadMembers(open);
  void loadPeers();
}

export async function loadChats(): Promise<void> {
  try {
    const list = await conn!.op<Chat[]>("chats", { limit: 200 });
    batch(() => {
      const ids = new Set(list.map((c) => c.id));
      for (const id of Object.keys(state.chats)) if (!ids.has(Number(id))) setState("chats", produce((c) => delete c[Number(id)]));
      for (const c of list) mergeChat(c, true);
      setState("chatsLoaded", true);
    });
    scheduleCache();
  } catch {
    /* offline: the cache stays */
  }
}

function mergeChat(c: Chat, authoritative = false) {
  const old = state.chats[c.id];
  if (old && !authoritative) {
    setState("chats", c.id, { name: c.name, member_count: c.member_count, last_seq: Math.max(old.last_seq, c.last_seq) });
    return;
  }
  if (old?.last_message && c.last_message && old.last_message.id > c.last_message.id) c = { ...c, last_message: old.last_message, last_seq: old.last_seq };
  setState("chats", c.id, reconcile(c));
}

async function loadPeers() {
  const priv = Object.values(state.chats).filter((c) => c.type === "private" && state.peers[c.id] === undefined).slice(0, 50);
  await Promise.all(priv.map(async (c) => {
    try {
      const ms = await conn!.op<Member[]>("members", { chat_id: c.id });
      const other = ms.find((m) => m.user_id !== state.me?.id);
      if (other) setState("peers", c.id, other.user_id);
    } catch {
      /* ignore */
    }
  }));
  const ids = [...new Set(Object.values(state.peers))].slice(0, 100);
  if (ids.length) {
    try {
      const ps = await conn!.op<{ user_id: number; status: "online" | "offline"; last_seen?: string }[]>("presence", { user_ids: ids });
      for (const p of ps) setState("presence", p.user_id, { status: p.status, last_seen: p.last_seen });
    } catch {
      /* ignore */
    }
  }
}

export async function loadMembers(chatId: number): Promise<void> {
  try {
    const ms = await rest.members(chatId);
    // Read positions only move forward: a `read` push may have overtaken this answer.
    const before = new Map((state.members[chatId] ?? []).map((m) => [m.user_id, m.last_read_seq ?? 0]));
    for (const m of ms) {
      const old = before.get(m.user_id);
      if (old !== undefined && old > (m.last_read_seq ?? 0)) m.last_read_seq = old;
    }
    setState("members", chatId, reconcile(ms));
  } catch {
    /* ignore */
  }
}

export async function openChatView(chatId: number): Promise<void> {
  setState("openChat", chatId);
  const m = state.messages[chatId];
  if (!m || !m.hasLatest) await loadLatest(chatId);
  void loadMembers(chatId);
}

export function closeChatView(): void {
  setState("openChat", null);
}

async function loadLatest(chatId: number) {
  setState("messages", chatId, { list: state.messages[chatId]?.list ?? [], hasLatest: false, atStart: false, loading: true });
  try {
    const list = await rest.messages(chatId, { limit: 50 });
    setState("messages", chatId, { list, hasLatest: true, atStart: list.length < 50, loading: false });
    scheduleCache();
  } catch {
    setState("messages", chatId, "loading", false);
  }
}

export async function loadOlder(chatId: number): Promise<void> {
  const m = state.messages[chatId];
  if (!m || m.loading || m.atStart || !m.list.length) return;
  setState("messages", chatId, "loading", true);
  try {
    const older = await rest.messages(chatId, { limit: 50, before: m.list[0]!.id });
    setState("messages", chatId, produce((x) => {
      const have = new Set(x.list.map((y) => y.id));
      x.list = [...older.filter((y) => !have.has(y.id)), ...x.list];
      x.atStart = older.length < 50;
      x.loading = false;
    }));
  } catch {
    setState("messages", chatId, "loading", false);
  }
}

/** Opens `chatId` at message `id` (a search result): ChatView loads the history around it. */
export function jumpToMessage(chatId: number, id: number): void {
  setState("jump", { chat: chatId, id });
  navigate(`/chat/${chatId}`);
}

/** Takes the pending jump for `chatId`, if any. */
export function takeJump(chatId: number): number | null {
  const j = state.jump;
  if (!j || j.chat !== chatId) return null;
  setState("jump", null);
  return j.id;
}

/** Makes sure message `id` is in the chat's loaded list: the page around it replaces the list when it is not. */
export async function loadAround(chatId: number, id: number): Promise<boolean> {
  if (state.messages[chatId]?.list.some((m) => m.id === id)) return true;
  setState("messages", chatId, { list: state.messages[chatId]?.list ?? [], hasLatest: false, atStart: false, loading: true });
  try {
    const list = await rest.messages(chatId, { limit: 50, around: id });
    const last = state.chats[chatId]?.last_message?.id;
    const hasLatest = list.length > 0 && last !== undefined && list[list.length - 1]!.id >= last;
    setState("messages", chatId, { list, hasLatest, atStart: false, loading: false });
    return list.some((m) => m.id === id);
  } catch {
    setState("messages", chatId, "loading", false);
    return false;
  }
}

/** After a jump into the past: the next newer page, until the list reaches the newest message. */
export async function loadNewer(chatId: number): Promise<void> {
  const m = state.messages[chatId];
  if (!m || m.loading || m.hasLatest || !m.list.length) return;
  setState("messages", chatId, "loading", true);
  try {
    const newer = await rest.messages(chatId, { limit: 50, after: m.list[m.list.length - 1]!.id });
    setState("messages", chatId, produce((x) => {
      const have = new Set(x.list.map((y) => y.id));
      x.list = [...x.list, ...newer.filter((y) => !have.has(y.id))];
      x.hasLatest = newer.length < 50;
      x.loading = false;
    }));
  } catch {
    setState("messages", chatId, "loading", false);
  }
}

// ---------- sending ----------
async function sendEntry(e: OutboxEntry): Promise<AckFrame> {
  if (!conn || conn.state !== "online") throw new ApiError("network", "offline");
  const frame: Record<string, unknown> = { type: "message", chat_id: e.chat_id, text: e.text, client_msg_id: e.client_msg_id };
  if (e.reply_to !== undefined) frame.reply_to = e.reply_to;
  const ack = await conn.request<AckFrame>(frame);
  bumpChatRead(e.chat_id, ack.chat_seq);
  return ack;
}

export async function sendText(chatId: number, text: string, replyTo?: number): Promise<void> {
  if (!outbox) return;
  await outbox.add(chatId, text, replyTo);
  void outbox.flush();
}
export const retryOutbox = async (id: string) => {
  await outbox?.retry(id);
  void outbox?.flush();
};
export const discardOutbox = (id: string) => outbox?.discard(id);

/** Runs an op over the socket when it is up, else over REST. */
async function op<T>(type: string, fields: Record<string, unknown>, viaRest: () => Promise<T>): Promise<T> {
  if (conn && conn.state === "online") return conn.op<T>(type, fields);
  return viaRest();
}

export const actions = {
  edit: (c: number, m: number, text: string) => op<Message>("edit", { chat_id: c, message_id: m, text }, () => rest.edit(c, m, text)).then(upsertMessage),
  remove: (c: number, m: number) => op<Message>("delete", { chat_id: c, message_id: m }, () => rest.remove(c, m)).then(upsertMessage),
  react: (c: number, m: number, emoji: string, on: boolean) =>
    op<Message>(on ? "react" : "unreact", { chat_id: c, message_id: m, emoji }, () => rest.react(c, m, emoji, on)).then(upsertMessage),
  pin: (c: number, m: number, on: boolean) => op<Message>(on ? "pin" : "unpin", { chat_id: c, message_id: m }, () => rest.pin(c, m, on)).then(upsertMessage),
  forward: (to: number, mid: number) => rest.post(to, { forward_of: mid, client_msg_id: `f-${crypto.randomUUID?.() ?? Date.now()}` }),
  typing: (c: number) => void conn?.request({ type: "typing", chat_id: c }).catch(() => undefined),
  mute: async (c: number, on: boolean) => mergeChat(await rest.mute(c, on), true),
  createChat: async (type: "private" | "group" | "channel", name: string, members: string[]) => {
    const chat = await rest.createChat({ type, name: type === "private" ? null : name, members });
    mergeChat(chat, true);
    return chat;
  },
  join: async (code: string) => {
    const chat = await rest.join(code);
    mergeChat(chat, true);
    return chat;
  },
  rename: async (c: number, name: string) => mergeChat(await rest.renameChat(c, name)),
  leave: async (c: number) => {
    await rest.leave(c);
    removeChat(c);
  },
  deleteChat: async (c: number) => {
    await rest.deleteChat(c);
    removeChat(c);
  },
  addMember: async (c: number, username: string) => {
    mergeChat(await rest.addMembers(c, [username]));
    await loadMembers(c);
  },
  removeMember: async (c: number, uid: number) => {
    await rest.removeMember(c, uid);
    await loadMembers(c);
  },
  setRole: async (c: number, uid: number, role: Role) => {
    await rest.setRole(c, uid, role);
    await loadMembers(c);
  },
};

let readTimer: ReturnType<typeof setTimeout> | null = null;
/** Marks the open chat read up to its newest message (debounced). */
export function markRead(chatId: number): void {
  const c = state.chats[chatId];
  if (!c || (c.last_read_seq ?? 0) >= c.last_seq) return;
  if (readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    const chat = state.chats[chatId];
    if (!chat) return;
    const upTo = chat.last_seq;
    void op<null>("read", { chat_id: chatId, up_to: upTo }, () => rest.read(chatId, upTo).then(() => null))
      .then(() => bumpChatRead(chatId, upTo))
      .catch(() => undefined);
  }, 300);
}

function bumpChatRead(chatId: number, upTo: number) {
  const c = state.chats[chatId];
  if (!c) return;
  const read = Math.max(c.last_read_seq ?? 0, upTo);
  setState("chats", chatId, { last_read_seq: read, unread: Math.max(0, c.last_seq - read) });
}

function removeChat(id: number) {
  batch(() => {
    setState("chats", produce((c) => delete c[id]));
    setState("messages", produce((m) => delete m[id]));
    if (state.openChat === id) {
      setState("openChat", null);
      navigate("/", true);
    }
  });
  scheduleCache();
}

// ---------- pushes ----------
function upsertMessage(msg: Message) {
  // Each place in the store gets its own copy: a shared object would be changed in both.
  const m = { ...msg };
  const box = state.messages[m.chat_id];
  if (box) {
    const i = box.list.findIndex((x) => x.id === m.id);
    if (i >= 0) setState("messages", m.chat_id, "list", i, reconcile(m));
    else if (box.hasLatest) {
      setState("messages", m.chat_id, "list", produce((l) => {
        let j = l.length;
        while (j > 0 && l[j - 1]!.id > m.id) j--;
        l.splice(j, 0, m);
      }));
    }
  }
  const c = state.chats[m.chat_id];
  if (c && (!c.last_message || c.last_message.id <= m.id)) setState("chats", m.chat_id, "last_message", reconcile({ ...msg }));
}

function patchMessage(chatId: number, id: number, fn: (m: Message) => void) {
  const box = state.messages[chatId];
  const i = box ? box.list.findIndex((x) => x.id === id) : -1;
  if (i >= 0) setState("messages", chatId, "list", i, produce(fn));
  if (state.chats[chatId]?.last_message?.id === id) setState("chats", chatId, "last_message", produce((m) => m && fn(m)));
}

function onPush(f: PushFrame) {
  if ("seq" in f) bumpSeq(f.seq);
  if (onTaskPush(f)) return;
  const me = state.me?.id;
  switch (f.type) {
    case "new_message": {
      const { type: _t, ...m } = f;
      const known = state.messages[m.chat_id]?.list.some((x) => x.id === m.id);
      upsertMessage(m);
      if (m.client_msg_id && m.user_id === me) void outbox?.confirm(m.client_msg_id);
      const c = state.chats[m.chat_id];
      if (c && !known) {
        const mine = m.user_id === me;
        const last_seq = Math.max(c.last_seq, m.chat_seq);
        const last_read_seq = mine ? Math.max(c.last_read_seq ?? 0, m.chat_seq) : (c.last_read_seq ?? 0);
        setState("chats", m.chat_id, { last_seq, last_read_seq, unread: Math.max(0, last_seq - last_read_seq) });
        if (!mine) notify(c, m);
        if (!mine && state.openChat === m.chat_id) setAnnouncement(`${m.user}: ${m.text.slice(0, 200)}`);
      }
      setState("typing", m.chat_id, produce((ty) => { if (ty) delete ty[m.user_id]; }));
      break;
    }
    case "message_edited":
      patchMessage(f.chat_id, f.message_id, (m) => { m.text = f.text; m.edited_at = f.edited_at; });
      break;
    case "message_deleted":
      patchMessage(f.chat_id, f.message_id, (m) => {
        m.text = ""; m.deleted = true; delete m.reactions; delete m.pinned; delete m.mentions; delete m.forward;
      });
      break;
    case "reaction_added":
    case "reaction_removed":
      patchMessage(f.chat_id, f.message_id, (m) => {
        const list = m.reactions ? [...m.reactions] : [];
        const i = list.findIndex((r) => r.emoji === f.emoji);
        const mine = f.user_id === me;
        const cur = i >= 0 ? list[i]! : { emoji: f.emoji, count: 0 };
        const next = { emoji: f.emoji, count: f.count, ...(mine ? (f.type === "reaction_added" ? { me: true as const } : {}) : cur.me ? { me: true as const } : {}) };
        if (f.count <= 0) { if (i >= 0) list.splice(i, 1); }
        else if (i >= 0) list[i] = next;
        else list.push(next);
        m.reactions = list;
      });
      break;
    case "message_pinned":
      patchMessage(f.chat_id, f.message_id, (m) => { if (f.pinned) m.pinned = true; else delete m.pinned; });
      break;
    case "read":
      if (f.user_id === me) bumpChatRead(f.chat_id, f.up_to);
      else {
        const ms = state.members[f.chat_id];
        const i = ms ? ms.findIndex((x) => x.user_id === f.user_id) : -1;
        if (i >= 0) setState("members", f.chat_id, i, "last_read_seq", (v) => Math.max(v ?? 0, f.up_to));
      }
      break;
    case "chat_added":
      mergeChat(f.chat, true);
      if (f.chat.type === "private") void loadPeers();
      break;
    case "chat_updated":
      mergeChat(f.chat);
      if (state.members[f.chat.id]) void loadMembers(f.chat.id);
      break;
    case "chat_removed":
      removeChat(f.chat_id);
      break;
    case "member_updated": {
      if (f.user_id === me) setState("chats", f.chat_id, "role", f.role);
      const ms = state.members[f.chat_id];
      const i = ms ? ms.findIndex((x) => x.user_id === f.user_id) : -1;
      if (i >= 0) setState("members", f.chat_id, i, "role", f.role);
      break;
    }
    case "typing":
      if (f.user_id !== me) setState("typing", f.chat_id, (ty) => ({ ...(ty ?? {}), [f.user_id]: { user: f.user, until: Date.now() + f.expires_in * 1000 } }));
      break;
    case "presence":
      setState("presence", f.user_id, { status: f.status, last_seen: f.last_seen });
      break;
    case "security_alert":
      setState("alerts", (a) => [...a, f]);
      if (document.hidden && typeof Notification !== "undefined" && Notification.permission === "granted") {
        try {
          new Notification(t("sec.alerts"), { body: t("toast.newDevice", { d: f.device_id || f.user_agent || "?", ip: f.ip }), tag: "security" });
        } catch {
          /* notifications through the service worker only */
        }
      }
      break;
    case "settings_updated":
      applySettings(normalize(f.settings));
      localStorage.setItem("sova.settings", JSON.stringify(state.settings));
      break;
    case "game_updated":
      mergeGame(f.game);
      break;
    case "achievement_unlocked":
      setState("unlocked", (a) => [...a, f]);
      break;
    case "mention":
      break;
  }
}

// ---------- games ----------
/** Keeps the newest version of a game; a push never replaces the caller's own
 *  (fetched) view of the same version, which may hold their private fields. */
export function mergeGame(g: Game): void {
  const cur = state.games[g.id];
  if (cur && cur.version >= g.version) return;
  setState("games", g.id, reconcile(g));
}

/** The games of a chat, newest first. */
export function chatGames(chatId: number): Game[] {
  return Object.values(state.games).filter((g) => g.chat_id === chatId).sort((a, b) => b.id - a.id);
}

/** Plays `move` in `game`; the answer (the caller's view) replaces the stored one. */
export async function playMove(game: number, move: unknown): Promise<void> {
  const g = await rest.gameMove(game, move);
  setState("games", g.id, reconcile(g));
}

export async function startGame(chat: number, kind: Game["kind"], players: number[] = []): Promise<Game> {
  const g = await rest.createGame(chat, kind as "tictactoe", players);
  setState("games", g.id, reconcile(g));
  return g;
}

export async function joinGame(game: number): Promise<void> {
  const g = await rest.joinGame(game);
  setState("games", g.id, reconcile(g));
}

export function dismissUnlocked(i: number): void {
  setState("unlocked", (a) => a.filter((_, j) => j !== i));
}

// ---------- notifications ----------
function notify(c: Chat, m: Message) {
  if (!state.settings.notifications || c.muted || !document.hidden) return;
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    const n = new Notification(c.type === "private" ? m.user : `${m.user} · ${c.name}`, { body: m.text.slice(0, 200), tag: `chat-${c.id}`, icon: "/icons/icon-192.png" });
    n.onclick = () => {
      focus();
      navigate(`/chat/${c.id}`);
      n.close();
    };
  } catch {
    /* some mobile browsers only notify through the service worker */
    void navigator.serviceWorker?.ready.then((r) => r.showNotification(c.name, { body: m.text.slice(0, 200), tag: `chat-${c.id}` })).catch(() => undefined);
  }
}

/** Total unread messages of unmuted chats (shown in the tab title). */
export function totalUnread(): number {
  return Object.values(state.chats).reduce((n, c) => n + (c.muted ? 0 : (c.unread ?? 0)), 0);
}

export function dismissAlert(i: number): void {
  setState("alerts", (a) => a.filter((_, j) => j !== i));
}

export function chatTitle(c: Chat): string {
  if (c.type === "private" && state.me) {
    const parts = c.name.split(" & ");
    const other = parts.find((p) => p.toLowerCase() !== state.me!.username.toLowerCase());
    return other ?? c.name;
  }
  return c.name;
}

export { t };
