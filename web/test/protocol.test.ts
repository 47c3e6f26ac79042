// Drift check: the client's protocol types (src/protocol/types.ts) and REST routes
// (src/core/rest.ts) against the server's OpenAPI document (docs/openapi.json, generated
// from the operation registry; the server's tests fail when it is stale) and
// docs/protocol.md. A field, route or frame type that changes on one side fails here.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES } from "../src/protocol/types";
import { PENDING_ROUTES, ROUTES } from "../src/core/rest";

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
type Schema = {
  type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; enum?: string[]; $ref?: string;
  allOf?: Schema[]; oneOf?: Schema[]; anyOf?: Schema[]; const?: string;
};
type Body = { content: { "application/json": { schema: Schema } } };
const api = JSON.parse(readFileSync(root("docs/openapi.json"), "utf8")) as {
  paths: Record<string, Record<string, { requestBody?: Body; responses: Record<string, { content?: { "application/json"?: { schema: Schema } } }> }>>;
  components: { schemas: Record<string, Schema> };
};
const protocolMd = readFileSync(root("docs/protocol.md"), "utf8");

/** Properties of each exported interface (and type-literal alias) of types.ts: name → optional. */
function tsShapes(): Map<string, Map<string, boolean>> {
  const file = fileURLToPath(new URL("../src/protocol/types.ts", import.meta.url));
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, Map<string, boolean>>();
  const members = (ms: ts.NodeArray<ts.TypeElement>) => {
    const m = new Map<string, boolean>();
    for (const el of ms) if (ts.isPropertySignature(el)) m.set(el.name.getText(src).replace(/"/g, ""), !!el.questionToken);
    return m;
  };
  src.forEachChild((n) => {
    if (ts.isInterfaceDeclaration(n)) out.set(n.name.text, members(n.members));
    if (ts.isTypeAliasDeclaration(n) && ts.isTypeLiteralNode(n.type)) out.set(n.name.text, members(n.type.members));
  });
  return out;
}
/** String-literal members of a union alias, e.g. ErrorCode. */
function tsUnion(name: string): string[] {
  const file = fileURLToPath(new URL("../src/protocol/types.ts", import.meta.url));
  const text = readFileSync(file, "utf8");
  const m = new RegExp(`export type ${name} =([^;]+);`).exec(text);
  return [...(m?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
}

const shapes = tsShapes();

function check(tsName: string, schema: Schema, ignore: string[] = []) {
  const mine = shapes.get(tsName);
  expect(mine, `${tsName} is declared in types.ts`).toBeDefined();
  const theirs = Object.keys(schema.properties ?? {}).filter((k) => !ignore.includes(k)).sort();
  const ours = [...mine!.keys()].filter((k) => !ignore.includes(k)).sort();
  expect(ours, `${tsName}: fields`).toEqual(theirs);
  const required = (schema.required ?? []).filter((k) => !ignore.includes(k)).sort();
  const ourRequired = ours.filter((k) => !mine!.get(k)).sort();
  expect(ourRequired, `${tsName}: required fields`).toEqual(required);
}

const schemas = api.components.schemas;
const deref = (s: Schema): Schema => (s.$ref ? schemas[s.$ref.split("/").pop()!]! : s);
const response = (path: string, method: string, status = "200") =>
  deref(api.paths[path]![method]!.responses[status]!.content!["application/json"]!.schema);
const body = (path: string, method: string) => api.paths[path]![method]!.requestBody!.content["application/json"].schema;
/** The push `type` of an `Event` variant. */
const eventType = (v: Schema) => v.properties?.type?.const;
const event = (type: string) => {
  const v = schemas.Event!.oneOf!.find((x) => eventType(x) === type);
  expect(v, `Event variant ${type}`).toBeDefined();
  return v!;
};
/** The values of a string enum, however the schema spells it (enum, or oneOf of consts). */
const enumValues = (s: Schema): string[] =>
  s.enum ?? (s.oneOf ?? []).flatMap((v) => (v.const !== undefined ? [v.const] : (v.enum ?? [])));

describe("protocol types match openapi.json", () => {
  const same: Record<string, string> = {
    Message: "Message", Chat: "Chat", Member: "Member", Invite: "Invite", MessageVersion: "MessageVersion",
    TokenPair: "TokenPair", ReactionCount: "ReactionCount", ForwardOrigin: "ForwardOrigin", Attachment: "Attachment",
    Presence: "Presence", Session: "Session", AuditEntry: "AuditEntry", CaptchaSolution: "CaptchaSolution",
    RegisterRequest: "RegisterRequest", RegisteredUser: "RegisteredUser", LoginRequest: "LoginRequest", RefreshRequest: "RefreshRequest",
    LogoutRequest: "LogoutRequest", SyncPage: "SyncPage", ApiErrorBody: "ApiError",
    FileAttachment: "FileAttachment", FileInfo: "FileInfo",
    Task: "Task", Board: "Board", BoardColumn: "BoardColumn", ChecklistItem: "ChecklistItem", TaskPage: "TaskPage",
  };
  for (const [mine, theirs] of Object.entries(same)) {
    it(`${mine} ≡ components.schemas.${theirs}`, () => {
      expect(schemas[theirs], `schema ${theirs} exists`).toBeDefined();
      check(mine, schemas[theirs]!);
    });
  }

  const bodies: Record<string, [string, string]> = {
    CreateChatRequest: ["post", "/api/chats"],
    PostMessageRequest: ["post", "/api/chats/{chat_id}/messages"],
    EditRequest: ["patch", "/api/chats/{chat_id}/messages/{message_id}"],
    ReadRequest: ["post", "/api/chats/{chat_id}/read"],
    RenameRequest: ["patch", "/api/chats/{chat_id}"],
    AddMembersRequest: ["post", "/api/chats/{chat_id}/members"],
    SetRoleRequest: ["patch", "/api/chats/{chat_id}/members/{user_id}"],
    CreateInviteRequest: ["post", "/api/chats/{chat_id}/invites"],
    CreateTaskRequest: ["post", "/api/chats/{chat_id}/tasks"],
    UpdateTaskRequest: ["patch", "/api/tasks/{task_id}"],
    MoveTaskRequest: ["post", "/api/tasks/{task_id}/move"],
    CreateBoardRequest: ["post", "/api/chats/{chat_id}/boards"],
  };
  for (const [mine, [method, path]] of Object.entries(bodies)) {
    it(`${mine} ≡ the body of ${method.toUpperCase()} ${path}`, () => check(mine, body(path, method)));
  }

  const pushes: Record<string, string> = {
    MessageEditedFrame: "message_edited", MessageDeletedFrame: "message_deleted", ReactionAddedFrame: "reaction_added",
    ReactionRemovedFrame: "reaction_removed", MessagePinnedFrame: "message_pinned", ReadFrame: "read",
    MentionFrame: "mention", ChatAddedFrame: "chat_added", ChatUpdatedFrame: "chat_updated",
    ChatRemovedFrame: "chat_removed", MemberUpdatedFrame: "member_updated",
    TaskCreatedFrame: "task_created", TaskUpdatedFrame: "task_updated", TaskDeletedFrame: "task_deleted",
    BoardUpdatedFrame: "board_updated",
  };
  for (const [mine, type] of Object.entries(pushes)) {
    it(`${mine} ≡ the Event variant ${type}`, () => check(mine, event(type)));
  }

  it("new_message is the Message flattened with its type", () => {
    expect(event("new_message").$ref).toBe("#/components/schemas/Message");
  });

  it("inline answers: captcha, 2FA", () => {
    check("CaptchaChallenge", response("/api/captcha", "get"));
    check("TotpStatus", response("/api/2fa", "get"));
    check("TotpSetup", response("/api/2fa/setup", "post"));
    check("BackupCodes", response("/api/2fa/enable", "post"));
    check("BackupCodes", response("/api/2fa/backup-codes", "post"));
    const login = response("/api/login", "post");
    const alternatives = (login.oneOf ?? login.anyOf ?? []).map(deref);
    check("TwoFactorTicket", alternatives.find((a) => a.properties?.["2fa_required"])!);
  });

  it("enums", () => {
    expect(tsUnion("ErrorCode").sort()).toEqual(enumValues(schemas.ErrorCode!).sort());
    expect(tsUnion("ChatKind").sort()).toEqual(enumValues(schemas.ChatKind!).sort());
    expect(tsUnion("Role").sort()).toEqual(enumValues(schemas.Role!).sort());
    expect(tsUnion("MessageKind").sort()).toEqual(enumValues(schemas.MessageKind!).sort());
    expect(tsUnion("TaskStatus").sort()).toEqual(enumValues(schemas.TaskStatus!).sort());
    expect(tsUnion("Priority").sort()).toEqual(enumValues(schemas.Priority!).sort());
  });
});

/** A route with its parameters unnamed: `/api/chats/{id}` and `/api/chats/{chat_id}` are one URL. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, "{}");
const documented = new Set(Object.entries(api.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${shape(p)}`)));

describe("REST routes exist in openapi.json", () => {
  for (const [name, [method, path]] of Object.entries(ROUTES)) {
    if ((PENDING_ROUTES as readonly string[]).includes(name)) continue;
    it(`${method} ${path}`, () => {
      expect(documented.has(`${method.toLowerCase()} ${shape(path)}`), `${method} ${path}`).toBe(true);
    });
  }
});

describe("frame types match docs/protocol.md", () => {
  const section = (from: string, to: string) => protocolMd.slice(protocolMd.indexOf(from), protocolMd.indexOf(to));
  it("every server frame the client handles is documented", () => {
    const server = section("### 3.11", "## 4.");
    for (const t of SERVER_FRAME_TYPES) expect(server, t).toContain(`\`${t}\``);
  });
  it("every documented push is handled", () => {
    const table = section("### 3.12", "**`new_message`**");
    const pushes = [...table.matchAll(/^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter(Boolean) as string[]);
    expect(pushes.length).toBeGreaterThan(10);
    for (const p of pushes) expect(SERVER_FRAME_TYPES as readonly string[], p).toContain(p);
  });
  it("every client frame the client sends is documented", () => {
    const client = section("### 3.9", "### 3.11");
    for (const t of CLIENT_FRAME_TYPES) expect(client, t).toContain(`\`${t}\``);
  });
});
