import { ApiError } from "./errors";
import type {
  AuditEntry, BackupCodes, CaptchaChallenge, CaptchaSolution, Chat, CreateChatRequest, CreateInviteRequest, Invite,
  Game, GameKind, LeaderboardPage, PlayerStats,
  LoginResult, Member, Message, MessageVersion, PostMessageRequest, Presence, RegisteredUser, Role, SearchPage, Session,
  SettingsEnvelope, SyncPage, TokenPair, TotpSetup, TotpStatus, ErrorCode, Board, CreateBoardRequest, CreateTaskRequest,
  MoveTaskRequest, Task, TaskPage, UpdateTaskRequest,
} from "../protocol/types";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Every REST route this client calls; test/protocol.test.ts checks each against openapi.json. */
export const ROUTES = {
  register: ["POST", "/api/register"],
  login: ["POST", "/api/login"],
  login2fa: ["POST", "/api/login/2fa"],
  captcha: ["GET", "/api/captcha"],
  refresh: ["POST", "/api/refresh"],
  logout: ["POST", "/api/logout"],
  chats: ["GET", "/api/chats"],
  createChat: ["POST", "/api/chats"],
  chat: ["GET", "/api/chats/{id}"],
  renameChat: ["PATCH", "/api/chats/{id}"],
  deleteChat: ["DELETE", "/api/chats/{id}"],
  mute: ["PUT", "/api/chats/{id}/mute"],
  unmute: ["DELETE", "/api/chats/{id}/mute"],
  members: ["GET", "/api/chats/{id}/members"],
  addMembers: ["POST", "/api/chats/{id}/members"],
  removeMember: ["DELETE", "/api/chats/{id}/members/{user_id}"],
  setRole: ["PATCH", "/api/chats/{id}/members/{user_id}"],
  leave: ["POST", "/api/chats/{id}/leave"],
  invites: ["GET", "/api/chats/{id}/invites"],
  createInvite: ["POST", "/api/chats/{id}/invites"],
  revokeInvite: ["DELETE", "/api/chats/{id}/invites/{code}"],
  join: ["POST", "/api/invites/{code}/join"],
  messages: ["GET", "/api/chats/{id}/messages"],
  postMessage: ["POST", "/api/chats/{id}/messages"],
  editMessage: ["PATCH", "/api/chats/{id}/messages/{mid}"],
  deleteMessage: ["DELETE", "/api/chats/{id}/messages/{mid}"],
  versions: ["GET", "/api/chats/{id}/messages/{mid}/versions"],
  react: ["PUT", "/api/chats/{id}/messages/{mid}/reactions/{emoji}"],
  unreact: ["DELETE", "/api/chats/{id}/messages/{mid}/reactions/{emoji}"],
  pin: ["POST", "/api/chats/{id}/messages/{mid}/pin"],
  unpin: ["DELETE", "/api/chats/{id}/messages/{mid}/pin"],
  pins: ["GET", "/api/chats/{id}/pins"],
  read: ["POST", "/api/chats/{id}/read"],
  typing: ["POST", "/api/chats/{id}/typing"],
  sync: ["GET", "/api/sync"],
  presence: ["GET", "/api/presence"],
  totpStatus: ["GET", "/api/2fa"],
  totpSetup: ["POST", "/api/2fa/setup"],
  totpEnable: ["POST", "/api/2fa/enable"],
  totpDisable: ["POST", "/api/2fa/disable"],
  totpBackupCodes: ["POST", "/api/2fa/backup-codes"],
  sessions: ["GET", "/api/sessions"],
  revokeSession: ["DELETE", "/api/sessions/{id}"],
  revokeOthers: ["POST", "/api/sessions/revoke-others"],
  alerts: ["GET", "/api/security/alerts"],
  // Client settings that follow the user (GET/PUT /api/me/settings, push settings_updated).
  getSettings: ["GET", "/api/me/settings"],
  putSettings: ["PUT", "/api/me/settings"],
  // Games (docs/games.md).
  createGame: ["POST", "/api/chats/{id}/games"],
  game: ["GET", "/api/games/{id}"],
  joinGame: ["POST", "/api/games/{id}/join"],
  gameMove: ["POST", "/api/games/{id}/moves"],
  leaderboard: ["GET", "/api/leaderboard"],
  userStats: ["GET", "/api/users/{id}/stats"],
  // Full-text search over my chats' messages and files (docs/search.md).
  search: ["GET", "/api/search"],
  // Tasks and boards (docs/tasks.md).
  createTask: ["POST", "/api/chats/{id}/tasks"],
  task: ["GET", "/api/tasks/{id}"],
  updateTask: ["PATCH", "/api/tasks/{id}"],
  deleteTask: ["DELETE", "/api/tasks/{id}"],
  tasks: ["GET", "/api/tasks"],
  moveTask: ["POST", "/api/tasks/{id}/move"],
  createBoard: ["POST", "/api/chats/{id}/boards"],
  boards: ["GET", "/api/chats/{id}/boards"],
  board: ["GET", "/api/boards/{id}"],
} as const satisfies Record<string, readonly [Method, string]>;

/** Routes that exist in the client before the server has them (excluded from the drift check). */
export const PENDING_ROUTES: ReadonlyArray<keyof typeof ROUTES> = [];

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RestOptions {
  base?: string;
  fetch?: FetchLike;
  /** A valid access token (refreshing when needed); `force` after a 401. */
  token?: (force: boolean) => Promise<string | null>;
}

type Params = Record<string, string | number>;
type Query = Record<string, string | number | undefined | null>;

function fill(path: string, params: Params): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`missing path parameter ${k}`);
    return encodeURIComponent(String(v));
  });
}

async function parseError(res: Response): Promise<ApiError> {
  let body: { code?: string; message?: string; retry_after?: number } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON */
  }
  const header = Number(res.headers.get("retry-after"));
  const retry = body.retry_after ?? (Number.isFinite(header) && header > 0 ? header : undefined);
  const code = (body.code ?? (res.status >= 500 ? "internal" : "bad_request")) as ErrorCode;
  return new ApiError(code, body.message ?? res.statusText, res.status, retry);
}

/** Typed REST calls. Authenticated calls take a token from `token()` and retry once after a 401. */
export class Rest {
  private readonly base: string;
  private readonly fetchFn: FetchLike;
  private readonly token: (force: boolean) => Promise<string | null>;

  constructor(opts: RestOptions = {}) {
    this.base = opts.base ?? "";
    this.fetchFn = opts.fetch ?? ((i, init) => fetch(i, init));
    this.token = opts.token ?? (async () => null);
  }

  async call<T>(route: keyof typeof ROUTES, params: Params = {}, body?: unknown, query?: Query, auth = true): Promise<T> {
    const [method, path] = ROUTES[route];
    let url = this.base + fill(path, params);
    if (query) {
      const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
      if (q.length) url += `?${q.join("&")}`;
    }
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers["content-type"] = "application/json";
      if (auth) {
        const t = await this.token(attempt > 0);
        if (!t) throw new ApiError("unauthorized", "not signed in", 401);
        headers.authorization = `Bearer ${t}`;
      }
      let res: Response;
      try {
        res = await this.fetchFn(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (e) {
        throw new ApiError("network", e instanceof Error ? e.message : "network error");
      }
      if (res.status === 401 && auth && attempt === 0) continue;
      if (!res.ok) throw await parseError(res);
      if (res.status === 204) return undefined as T;
      const text = await res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  // ---- auth (no bearer) ----
  register(username: string, password: string, captcha?: CaptchaSolution) {
    return this.call<RegisteredUser>("register", {}, { username, password, captcha }, undefined, false);
  }
  login(username: string, password: string, device_id: string, captcha?: CaptchaSolution) {
    return this.call<LoginResult>("login", {}, { username, password, device_id, captcha }, undefined, false);
  }
  login2fa(ticket: string, code: string, device_id: string) {
    return this.call<TokenPair>("login2fa", {}, { ticket, code, device_id }, undefined, false);
  }
  captcha() { return this.call<CaptchaChallenge>("captcha", {}, undefined, undefined, false); }
  refresh(refresh_token: string) { return this.call<TokenPair>("refresh", {}, { refresh_token }, undefined, false); }
  logout(refresh_token?: string) { return this.call<void>("logout", {}, { refresh_token }); }

  // ---- chats ----
  chats(limit = 200, cursor?: string) { return this.call<Chat[]>("chats", {}, undefined, { limit, cursor }); }
  chat(id: number) { return this.call<Chat>("chat", { id }); }
  createChat(req: CreateChatRequest) { return this.call<Chat>("createChat", {}, req); }
  renameChat(id: number, name: string) { return this.call<Chat>("renameChat", { id }, { name }); }
  deleteChat(id: number) { return this.call<void>("deleteChat", { id }); }
  mute(id: number, on: boolean) { return this.call<Chat>(on ? "mute" : "unmute", { id }); }
  members(id: number, after?: number, limit = 1000) { return this.call<Member[]>("members", { id }, undefined, { after, limit }); }
  addMembers(id: number, members: (string | number)[]) { return this.call<Chat>("addMembers", { id }, { members }); }
  removeMember(id: number, user_id: number) { return this.call<void>("removeMember", { id, user_id }); }
  setRole(id: number, user_id: number, role: Role) { return this.call<void>("setRole", { id, user_id }, { role }); }
  leave(id: number) { return this.call<void>("leave", { id }); }
  invites(id: number) { return this.call<Invite[]>("invites", { id }); }
  createInvite(id: number, req: CreateInviteRequest = {}) { return this.call<Invite>("createInvite", { id }, req); }
  revokeInvite(id: number, code: string) { return this.call<void>("revokeInvite", { id, code }); }
  join(code: string) { return this.call<Chat>("join", { code }); }

  // ---- messages ----
  messages(id: number, q: { limit?: number; before?: number; after?: number; around?: number } = {}) {
    return this.call<Message[]>("messages", { id }, undefined, q);
  }
  post(id: number, req: PostMessageRequest) { return this.call<Message>("postMessage", { id }, req); }
  edit(id: number, mid: number, text: string) { return this.call<Message>("editMessage", { id, mid }, { text }); }
  remove(id: number, mid: number) { return this.call<Message>("deleteMessage", { id, mid }); }
  versions(id: number, mid: number) { return this.call<MessageVersion[]>("versions", { id, mid }); }
  react(id: number, mid: number, emoji: string, on: boolean) { return this.call<Message>(on ? "react" : "unreact", { id, mid, emoji }); }
  pin(id: number, mid: number, on: boolean) { return this.call<Message>(on ? "pin" : "unpin", { id, mid }); }
  pins(id: number) { return this.call<Message[]>("pins", { id }); }
  read(id: number, up_to: number) { return this.call<void>("read", { id }, { up_to }); }
  typing(id: number) { return this.call<void>("typing", { id }); }
  sync(since: number, limit = 500) { return this.call<SyncPage>("sync", {}, undefined, { since, limit }); }
  presence(ids: number[]) { return this.call<Presence[]>("presence", {}, undefined, { user_ids: ids.join(",") }); }

  // ---- tasks and boards ----
  createTask(chat: number, req: CreateTaskRequest) { return this.call<Task>("createTask", { id: chat }, req); }
  task(id: number) { return this.call<Task>("task", { id }); }
  updateTask(id: number, req: UpdateTaskRequest) { return this.call<Task>("updateTask", { id }, req); }
  deleteTask(id: number) { return this.call<void>("deleteTask", { id }); }
  tasks(q: { chat_id?: number; assignee?: string; status?: string; due_before?: string; cursor?: string; limit?: number } = {}) {
    return this.call<TaskPage>("tasks", {}, undefined, q);
  }
  moveTask(id: number, req: MoveTaskRequest) { return this.call<Task>("moveTask", { id }, req); }
  createBoard(chat: number, req: CreateBoardRequest) { return this.call<Board>("createBoard", { id: chat }, req); }
  boards(chat: number) { return this.call<Board[]>("boards", { id: chat }); }
  board(id: number) { return this.call<Board>("board", { id }); }

  // ---- security ----
  totpStatus() { return this.call<TotpStatus>("totpStatus"); }
  totpSetup() { return this.call<TotpSetup>("totpSetup"); }
  totpEnable(code: string) { return this.call<BackupCodes>("totpEnable", {}, { code }); }
  totpDisable(password: string, code: string) { return this.call<void>("totpDisable", {}, { password, code }); }
  totpBackupCodes(code: string) { return this.call<BackupCodes>("totpBackupCodes", {}, { code }); }
  sessions() { return this.call<Session[]>("sessions"); }
  revokeSession(id: string) { return this.call<void>("revokeSession", { id }); }
  revokeOthers() { return this.call<{ revoked: number }>("revokeOthers", {}); }
  alerts() { return this.call<AuditEntry[]>("alerts"); }

  // ---- search ----
  search(q: string, opts: { chat_id?: number; limit?: number; cursor?: string } = {}) {
    return this.call<SearchPage>("search", {}, undefined, { q, ...opts });
  }

  // ---- settings ----
  getSettings() { return this.call<SettingsEnvelope>("getSettings"); }
  putSettings(settings: Record<string, unknown>) { return this.call<SettingsEnvelope>("putSettings", {}, { settings }); }

  // ---- games ----
  createGame(id: number, kind: GameKind, players: number[] = [], options?: Record<string, unknown>) {
    return this.call<Game>("createGame", { id }, { kind, players, options });
  }
  game(id: number) { return this.call<Game>("game", { id }); }
  joinGame(id: number) { return this.call<Game>("joinGame", { id }); }
  gameMove(id: number, move: unknown) { return this.call<Game>("gameMove", { id }, { move }); }
  leaderboard(q: { kind?: string; chat_id?: number; offset?: number; limit?: number } = {}) {
    return this.call<LeaderboardPage>("leaderboard", {}, undefined, q);
  }
  userStats(id: number) { return this.call<PlayerStats>("userStats", { id }); }
}
