// Tasks and boards of the open chats: a store fed by REST reads and by the
// task_* / board_updated pushes (so every member's view follows live), and the
// actions the task panel and the board call. Conflicts (409, another member
// changed the task first) re-read the task; a move is retried once with the
// fresh version, since the user's intent ("put it here") still holds.
import { createStore, reconcile } from "solid-js/store";
import { ApiError } from "../core/errors";
import { applyTaskFrame, mergeTask, type TaskFrame } from "../core/tasks";
import type { Board, BoardUpdatedFrame, CreateTaskRequest, MoveTaskRequest, Task, UpdateTaskRequest } from "../protocol/types";
import { rest } from "./store";

interface TaskState {
  tasks: Record<number, Task>;
  /** Boards by id; their columns' `tasks` stay empty (tasks live in `tasks`). */
  boards: Record<number, Board>;
  /** Chats whose tasks and boards were loaded. */
  loaded: Record<number, true>;
}

const [tstate, setTstate] = createStore<TaskState>({ tasks: {}, boards: {}, loaded: {} });
export { tstate };

function putTask(t: Task) {
  setTstate("tasks", (m) => mergeTask(m, t));
}

function putBoard(b: Board) {
  for (const c of b.columns) for (const t of c.tasks) putTask(t);
  setTstate("boards", b.id, reconcile({ ...b, columns: b.columns.map((c) => ({ ...c, tasks: [] })) }));
}

/** Loads a chat's tasks (every page) and boards with their tasks. */
export async function loadChatTasks(chatId: number): Promise<void> {
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const p = await rest.tasks({ chat_id: chatId, cursor, limit: 100 });
    for (const t of p.items) putTask(t);
    if (!p.cursor) break;
    cursor = p.cursor;
  }
  const boards = await rest.boards(chatId);
  for (const b of boards) putBoard(await rest.board(b.id));
  setTstate("loaded", chatId, true);
}

/** Applies a push; returns whether it was a task or board frame. */
export function onTaskPush(f: { type: string }): boolean {
  switch (f.type) {
    case "task_created":
    case "task_updated":
    case "task_deleted":
      setTstate("tasks", (m) => applyTaskFrame(m, f as TaskFrame));
      return true;
    case "board_updated":
      putBoard((f as BoardUpdatedFrame).board);
      return true;
    default:
      return false;
  }
}

export function chatTasks(chatId: number): Task[] {
  return Object.values(tstate.tasks).filter((t) => t.chat_id === chatId);
}

export function chatBoards(chatId: number): Board[] {
  return Object.values(tstate.boards).filter((b) => b.chat_id === chatId).sort((a, b) => a.id - b.id);
}

export async function createTask(chatId: number, req: CreateTaskRequest): Promise<Task> {
  const t = await rest.createTask(chatId, req);
  putTask(t);
  return t;
}

/** Saves changes made at `version`; on a conflict the fresh task is loaded and the error rethrown. */
export async function updateTask(id: number, req: UpdateTaskRequest): Promise<Task> {
  try {
    const t = await rest.updateTask(id, req);
    putTask(t);
    return t;
  } catch (e) {
    if (e instanceof ApiError && e.code === "conflict") putTask(await rest.task(id));
    throw e;
  }
}

export async function deleteTask(id: number): Promise<void> {
  await rest.deleteTask(id);
  setTstate("tasks", (m) => applyTaskFrame(m, { type: "task_deleted", seq: 0, chat_id: 0, task_id: id }));
}

/** Moves at the version shown; after a conflict, re-reads and retries once. */
export async function moveTask(id: number, req: MoveTaskRequest): Promise<Task> {
  const version = tstate.tasks[id]?.version;
  try {
    const t = await rest.moveTask(id, { ...req, version });
    putTask(t);
    return t;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== "conflict") throw e;
    const fresh = await rest.task(id);
    putTask(fresh);
    const t = await rest.moveTask(id, { ...req, version: fresh.version });
    putTask(t);
    return t;
  }
}

export async function createBoard(chatId: number, name: string, columns: string[]): Promise<Board> {
  const b = await rest.createBoard(chatId, { name, columns });
  putBoard(b);
  return b;
}
