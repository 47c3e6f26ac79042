// Task and board state logic, pure (no DOM, no network): merging task events,
// ordering a column by its fractional-index keys, and turning a drop or a
// keyboard move into the server's `{column_id, after}` request. Unit-tested in
// test/tasks.test.ts.
import type { Board, ChecklistItem, MoveTaskRequest, Task, TaskCreatedFrame, TaskDeletedFrame, TaskUpdatedFrame } from "../protocol/types";

export type TaskFrame = TaskCreatedFrame | TaskUpdatedFrame | TaskDeletedFrame;

/**
 * The task map after one event. A frame older than what is known (a lower
 * `version`, e.g. a replay after a REST answer already applied) changes nothing.
 */
export function applyTaskFrame(tasks: Readonly<Record<number, Task>>, f: TaskFrame): Record<number, Task> {
  if (f.type === "task_deleted") {
    if (!(f.task_id in tasks)) return tasks as Record<number, Task>;
    const next = { ...tasks };
    delete next[f.task_id];
    return next;
  }
  return mergeTask(tasks, f.task);
}

/** The task map with `t`, unless a newer version of it is already there. */
export function mergeTask(tasks: Readonly<Record<number, Task>>, t: Task): Record<number, Task> {
  const known = tasks[t.id];
  if (known && known.version > t.version) return tasks as Record<number, Task>;
  return { ...tasks, [t.id]: t };
}

/** Column order: by key, compared as bytes (base-62 ASCII, so code units), then by id. */
export function compareRank(a: Task, b: Task): number {
  const ra = a.rank ?? "";
  const rb = b.rank ?? "";
  if (ra !== rb) return ra < rb ? -1 : 1;
  return a.id - b.id;
}

/** The tasks of one column of a board, in order. */
export function columnTasks(tasks: Iterable<Task>, boardId: number, columnId: number): Task[] {
  return [...tasks].filter((t) => t.board_id === boardId && t.column_id === columnId).sort(compareRank);
}

/**
 * The move that drops task `dragged` into a column shown as `column` (which may
 * contain it) before the item at `index` (`index === column.length`: at the end).
 */
export function dropMove(column: Task[], columnId: number, dragged: number, index: number): MoveTaskRequest {
  const from = column.findIndex((t) => t.id === dragged);
  const rest = column.filter((t) => t.id !== dragged);
  const at = Math.max(0, Math.min(rest.length, from >= 0 && from < index ? index - 1 : index));
  return { column_id: columnId, after: at > 0 ? rest[at - 1]!.id : null };
}

export type Direction = "up" | "down" | "left" | "right";

/**
 * The keyboard alternative to dragging: one step up or down in the column, or to
 * the end of the column on the left or right. `null` when there is nowhere to go.
 */
export function keyboardMove(board: Board, tasks: Iterable<Task>, taskId: number, dir: Direction): MoveTaskRequest | null {
  const all = [...tasks];
  const task = all.find((t) => t.id === taskId);
  if (!task || task.board_id !== board.id || task.column_id === null) return null;
  const ci = board.columns.findIndex((c) => c.id === task.column_id);
  if (ci < 0) return null;
  const col = columnTasks(all, board.id, task.column_id);
  const i = col.findIndex((t) => t.id === taskId);
  if (dir === "up") return i > 0 ? dropMove(col, task.column_id, taskId, i - 1) : null;
  if (dir === "down") return i < col.length - 1 ? dropMove(col, task.column_id, taskId, i + 2) : null;
  const target = board.columns[dir === "left" ? ci - 1 : ci + 1];
  if (!target) return null;
  const other = columnTasks(all, board.id, target.id);
  return dropMove(other, target.id, taskId, other.length);
}

/** Done items as a percentage (0..100, rounded down), as the server computes `progress`. */
export function progressOf(items: readonly ChecklistItem[]): number {
  if (!items.length) return 0;
  return Math.floor((items.filter((i) => i.done).length * 100) / items.length);
}

/** Whether a task not yet done is past its due time. */
export function overdue(t: Task, now: number): boolean {
  return t.status !== "done" && t.due !== null && Date.parse(t.due) < now;
}

/** The panel's list order: open before done, then by due time (none last), then newest first. */
export function listOrder(a: Task, b: Task): number {
  const done = Number(a.status === "done") - Number(b.status === "done");
  if (done) return done;
  const da = a.due ? Date.parse(a.due) : Infinity;
  const db = b.due ? Date.parse(b.due) : Infinity;
  if (da !== db) return da < db ? -1 : 1;
  return b.id - a.id;
}
