// Wire types of the Sova protocol v1 (docs/protocol.md, docs/openapi.json).
// test/protocol.test.ts checks these against the OpenAPI document and the frame names of
// docs/protocol.md, so any drift fails CI.

export type ErrorCode =
  | "bad_request" | "unauthorized" | "forbidden" | "not_found" | "method_not_allowed" | "conflict"
  | "rate_limited" | "too_large" | "slow_consumer" | "unavailable" | "internal" | "captcha_required"
  | "quota_exceeded" | "unsupported_media_type" | "invalid_move";

/** `details`: machine-readable facts, e.g. `{"max":4096}` on too_large (docs/protocol.md §2). */
export interface ApiErrorBody { code: ErrorCode; message: string; retry_after?: number; details?: Record<string, unknown> }

export type ChatKind = "public" | "private" | "group" | "channel";
export type Role = "member" | "admin" | "owner";
export type MessageKind = "text" | "media" | "file" | "system";

export interface ReactionCount { emoji: string; count: number; me?: true }
export interface ForwardOrigin { chat_id: number; message_id: number; user_id: number; user: string }
export interface Attachment { url: string; name: string; mime: string; size: number }
/** An uploaded file a message carries (docs/files.md); download it from /api/files/{file_id}. */
export interface FileAttachment {
  file_id: string; name: string; size: number; mime: string; width?: number; height?: number; blurhash?: string;
}
/** POST /api/files answer. */
export interface FileInfo {
  id: string; name: string; size: number; mime: string; sha256: string; created_at: string;
  width?: number; height?: number; blurhash?: string;
}

/** One search result (GET /api/search). `snippet` is HTML-escaped text whose only markup is
 * `<mark>`…`</mark>` around matched words: render it with app/snippet.ts, never as HTML. */
export type SearchItem =
  | { kind: "message"; message: Message; snippet: string }
  | { kind: "file"; file: FileInfo; chat_id: number; message_id: number; snippet: string };
/** A page of search results, best first; `cursor` fetches the next page (null on the last). */
export interface SearchPage { items: SearchItem[]; cursor: string | null }

export interface Message {
  id: number; chat_id: number; chat_seq: number; user_id: number; user: string; text: string;
  timestamp: string; seq: number; kind: MessageKind;
  client_msg_id?: string; reply_to?: number; forward?: ForwardOrigin; mentions?: number[];
  edited_at?: string; deleted?: true; pinned?: true; reactions?: ReactionCount[]; attachment?: Attachment;
  attachments?: FileAttachment[];
}

export interface Chat {
  id: number; type: ChatKind; name: string; member_count: number; last_seq: number; created_at: string;
  role?: Role; unread?: number; last_read_seq?: number; muted?: true; last_message?: Message;
}

export interface Member { user_id: number; username: string; role: Role; joined_at: string; last_read_seq?: number }

export interface Invite {
  code: string; chat_id: number; created_by: number; created_at: string;
  expires_at?: string; max_uses?: number; uses: number; revoked: boolean;
}

export interface MessageVersion { version: number; text: string; replaced_at: string }

export interface TokenPair { token: string; refresh_token: string; user_id: number; username: string; expires_in: number }
export interface TwoFactorTicket { "2fa_required": true; ticket: string }
export type LoginResult = TokenPair | TwoFactorTicket;

export interface CaptchaSolution { challenge: string; nonce: string }
export interface CaptchaChallenge { challenge: string; difficulty: number; expires_in: number; algorithm: "sha256-leading-zero-bits" }

export interface RegisterRequest { username: string; password: string; captcha?: CaptchaSolution }
export interface RegisteredUser { user_id: number; username: string }
export interface LoginRequest { username: string; password: string; device_id?: string; captcha?: CaptchaSolution }
export interface RefreshRequest { refresh_token: string }
export interface LogoutRequest { refresh_token?: string }

export type UserRef = number | string;
export interface CreateChatRequest { type: "private" | "group" | "channel"; name?: string | null; members?: UserRef[] }
export interface PostMessageRequest {
  text?: string | null; reply_to?: number | null; forward_of?: number | null; client_msg_id?: string | null;
  kind?: "text" | "media" | "file"; attachment?: Attachment | null; files?: string[];
}
export interface EditRequest { text: string }
export interface ReadRequest { up_to: number }
export interface RenameRequest { name: string }
export interface AddMembersRequest { members: UserRef[] }
export interface SetRoleRequest { role: Role }
export interface CreateInviteRequest { expires_in?: number | null; max_uses?: number | null }

export interface Presence { user_id: number; status: "online" | "offline"; last_seen?: string }

export interface Session {
  id: string; device_id: string; user_agent: string; ip: string;
  location: "loopback" | "private network" | "internet" | "unknown";
  created_at: string; last_active: string; current: boolean;
}
export interface AuditEntry { id: number; at: string; action: string; actor?: number; target?: number; ip: string; detail: string }

export interface TotpStatus { enabled: boolean; backup_codes_left: number }
export interface TotpSetup { secret: string; otpauth_uri: string; qr_svg: string }
export interface BackupCodes { backup_codes: string[] }

/** Per-user settings (GET/PUT /api/me/settings): a free-form JSON object up to 16 KiB. */
export interface SettingsEnvelope { settings: Record<string, unknown>; updated_at: string | null }

// ---- games (docs/games.md) ----
export type GameKind = "tictactoe" | "hangman" | "quiz" | "connect4";
/** A game as the caller (or, in `game_updated`, any member) sees it; `state` is the engine's view. */
export interface Game {
  id: number; kind: string; chat_id: number; state: Record<string, unknown>; players: number[];
  turn: number | null; status: "waiting" | "in_progress" | "finished"; version: number;
  result: Record<string, unknown> | null; deadline: string | null;
  created_by: number; created_at: string; updated_at: string;
}
export interface LeaderboardEntry {
  rank: number; user_id: number; username: string; kind: string; rating: number; deviation: number; volatility: number; played: number;
}
export interface LeaderboardPage { entries: LeaderboardEntry[]; next_offset?: number }
export interface KindStats {
  kind: string; played: number; won: number; lost: number; drawn: number; streak: number; best_streak: number; rating: number; deviation: number;
}
export interface HeldAchievement { id: string; game_id: number; unlocked_at: string }
export interface PlayerStats {
  user_id: number; played: number; won: number; lost: number; drawn: number; best_streak: number;
  kinds: KindStats[]; achievements: HeldAchievement[];
}
// ---- tasks and boards (docs/tasks.md) ----
export type TaskStatus = "todo" | "in_progress" | "done";
export type Priority = "low" | "normal" | "high" | "urgent";
export interface ChecklistItem { text: string; done: boolean }
export interface Task {
  id: number; chat_id: number; title: string; description: string; status: TaskStatus; assignees: number[];
  due: string | null; priority: Priority; labels: string[]; checklist: ChecklistItem[]; progress: number;
  version: number; created_by: number; created_at: string; updated_at: string;
  message_id: number | null; board_id: number | null; column_id: number | null; rank: string | null;
}
export interface BoardColumn { id: number; name: string; tasks: Task[] }
export interface Board {
  id: number; chat_id: number; name: string; columns: BoardColumn[]; version: number;
  created_by: number; created_at: string; updated_at: string;
}
export interface TaskPage { items: Task[]; cursor: string | null }
export interface CreateTaskRequest {
  title: string; description?: string | null; status?: TaskStatus | null; assignees?: number[]; due?: string | null;
  priority?: Priority | null; labels?: string[]; checklist?: ChecklistItem[]; message_id?: number | null; column_id?: number | null;
}
export interface UpdateTaskRequest {
  version: number; title?: string | null; description?: string | null; status?: TaskStatus | null;
  assignees?: number[] | null; due?: string | null; priority?: Priority | null; labels?: string[] | null;
  checklist?: ChecklistItem[] | null;
}
export interface MoveTaskRequest { column_id: number; after?: number | null; version?: number | null }
export interface CreateBoardRequest { name: string; columns: string[] }

// ---- socket push frames (§3.12) ----
export type NewMessageFrame = { type: "new_message" } & Message;
export interface MessageEditedFrame { type: "message_edited"; seq: number; chat_id: number; message_id: number; user_id: number; text: string; edited_at: string }
export interface MessageDeletedFrame { type: "message_deleted"; seq: number; chat_id: number; message_id: number; deleted_by: number }
export interface ReactionAddedFrame { type: "reaction_added"; seq: number; chat_id: number; message_id: number; user_id: number; emoji: string; count: number }
export interface ReactionRemovedFrame { type: "reaction_removed"; seq: number; chat_id: number; message_id: number; user_id: number; emoji: string; count: number }
export interface MessagePinnedFrame { type: "message_pinned"; seq: number; chat_id: number; message_id: number; pinned: boolean; by: number }
export interface ReadFrame { type: "read"; seq: number; chat_id: number; user_id: number; up_to: number }
export interface MentionFrame { type: "mention"; seq: number; chat_id: number; message_id: number; by: number; user: string; text: string }
export interface ChatAddedFrame { type: "chat_added"; seq: number; chat: Chat }
export interface ChatUpdatedFrame { type: "chat_updated"; seq: number; chat: Chat }
export interface ChatRemovedFrame { type: "chat_removed"; seq: number; chat_id: number }
export interface MemberUpdatedFrame { type: "member_updated"; seq: number; chat_id: number; user_id: number; role: Role }
export interface TypingFrame { type: "typing"; chat_id: number; user_id: number; user: string; expires_in: number }
export interface PresenceFrame { type: "presence"; user_id: number; status: "online" | "offline"; last_seen?: string }
export interface SecurityAlertFrame { type: "security_alert"; kind: string; ip: string; device_id: string; user_agent: string; at: string }
export interface TaskCreatedFrame { type: "task_created"; seq: number; task: Task }
export interface TaskUpdatedFrame { type: "task_updated"; seq: number; task: Task }
export interface TaskDeletedFrame { type: "task_deleted"; seq: number; chat_id: number; task_id: number }
export interface BoardUpdatedFrame { type: "board_updated"; seq: number; board: Board }
/** Not in protocol v1 yet: the settings endpoint's push to the user's other connections. */
export interface SettingsUpdatedFrame { type: "settings_updated"; settings: Record<string, unknown>; updated_at: string | null }

export interface GameUpdatedFrame { type: "game_updated"; seq: number; game: Game }
export interface AchievementUnlockedFrame {
  type: "achievement_unlocked"; seq: number; user_id: number; achievement: string; kind: string; game_id: number; unlocked_at: string;
}

export type StoredEvent =
  | NewMessageFrame | MessageEditedFrame | MessageDeletedFrame | ReactionAddedFrame | ReactionRemovedFrame
  | MessagePinnedFrame | ReadFrame | MentionFrame | ChatAddedFrame | ChatUpdatedFrame | ChatRemovedFrame | MemberUpdatedFrame
  | GameUpdatedFrame | AchievementUnlockedFrame
  | TaskCreatedFrame | TaskUpdatedFrame | TaskDeletedFrame | BoardUpdatedFrame;
export type PushFrame = StoredEvent | TypingFrame | PresenceFrame | SecurityAlertFrame | SettingsUpdatedFrame;

// ---- socket answer frames (§3.11) ----
export interface AuthSuccessFrame { type: "auth_success"; re?: string; token: string; refresh_token?: string; user_id: number; username: string; expires_in: number }
export interface Auth2faRequiredFrame { type: "auth_2fa_required"; re?: string; ticket: string }
export interface AckFrame { type: "ack"; re?: string; message_id: number; chat_id: number; chat_seq: number; seq: number; timestamp: string; client_msg_id?: string }
export interface SyncedFrame { type: "synced"; re?: string; seq: number }
export interface HistoryFrame { type: "history"; re?: string; chat_id: number; messages: Message[] }
export interface ResultFrame { type: "result"; re?: string; data: unknown }
export interface PongFrame { type: "pong"; re?: string }
export interface ErrorFrame { type: "error"; code: ErrorCode; message: string; re?: string; seq?: number; retry_after?: number }

export type AnswerFrame = AuthSuccessFrame | Auth2faRequiredFrame | AckFrame | SyncedFrame | HistoryFrame | ResultFrame | PongFrame | ErrorFrame;
export type ServerFrame = AnswerFrame | PushFrame;

/** Every server frame type the client understands (checked against docs/protocol.md). */
export const SERVER_FRAME_TYPES = [
  "auth_success", "auth_2fa_required", "ack", "synced", "history", "result", "pong", "error",
  "new_message", "message_edited", "message_deleted", "reaction_added", "reaction_removed", "message_pinned",
  "read", "mention", "chat_added", "chat_updated", "chat_removed", "member_updated", "typing", "presence",
  "security_alert", "settings_updated", "game_updated", "achievement_unlocked", "task_created", "task_updated", "task_deleted", "board_updated",
] as const;

/** Client frames the client sends (checked against docs/protocol.md). */
export const CLIENT_FRAME_TYPES = ["auth", "auth_2fa", "message", "sync", "ping", "typing", "read"] as const;

export interface SyncPage { events: StoredEvent[]; seq: number; more: boolean }
