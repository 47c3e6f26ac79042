import { describe, expect, it } from "vitest";
import type { Board, Task } from "../src/protocol/types";
import { applyTaskFrame, columnTasks, dropMove, keyboardMove, listOrder, mergeTask, overdue, progressOf } from "../src/core/tasks";

function task(id: number, over: Partial<Task> = {}): Task {
  return {
    id, chat_id: 1, title: `t${id}`, description: "", status: "todo", assignees: [], due: null, priority: "normal",
    labels: [], checklist: [], progress: 0, version: 1, created_by: 1, created_at: "", updated_at: "",
    message_id: null, board_id: null, column_id: null, rank: null, ...over,
  };
}

const board: Board = {
  id: 9, chat_id: 1, name: "b", version: 1, created_by: 1, created_at: "", updated_at: "",
  columns: [{ id: 1, name: "todo", tasks: [] }, { id: 2, name: "doing", tasks: [] }, { id: 3, name: "done", tasks: [] }],
};
const on = (id: number, column: number, rank: string) => task(id, { board_id: 9, column_id: column, rank });

describe("task events", () => {
  it("create, update and delete change the map; stale versions do not", () => {
    let m = applyTaskFrame({}, { type: "task_created", seq: 1, task: task(5) });
    expect(Object.keys(m)).toEqual(["5"]);
    m = applyTaskFrame(m, { type: "task_updated", seq: 2, task: task(5, { title: "new", version: 3 }) });
    expect(m[5]!.title).toBe("new");
    const same = applyTaskFrame(m, { type: "task_updated", seq: 3, task: task(5, { title: "old", version: 2 }) });
    expect(same[5]!.title).toBe("new");
    expect(mergeTask(m, task(5, { version: 3, title: "equal" }))[5]!.title).toBe("equal");
    m = applyTaskFrame(m, { type: "task_deleted", seq: 4, chat_id: 1, task_id: 5 });
    expect(m).toEqual({});
    expect(applyTaskFrame(m, { type: "task_deleted", seq: 5, chat_id: 1, task_id: 5 })).toBe(m);
  });
});

describe("board ordering", () => {
  const tasks = [on(1, 1, "V"), on(2, 1, "F"), on(3, 1, "k"), on(4, 2, "V"), task(5)];
  it("orders a column by key as bytes, then id", () => {
    expect(columnTasks(tasks, 9, 1).map((t) => t.id)).toEqual([2, 1, 3]);
    // Upper-case digits sort before lower-case ones, as on the server.
    expect(columnTasks([on(7, 1, "a"), on(8, 1, "Z"), on(6, 1, "Z")], 9, 1).map((t) => t.id)).toEqual([6, 8, 7]);
  });
  it("turns a drop position into after", () => {
    const col = columnTasks(tasks, 9, 1); // 2, 1, 3
    expect(dropMove(col, 1, 3, 0)).toEqual({ column_id: 1, after: null });
    expect(dropMove(col, 1, 3, 1)).toEqual({ column_id: 1, after: 2 });
    expect(dropMove(col, 1, 2, 2)).toEqual({ column_id: 1, after: 1 }); // dragged downwards past 1
    expect(dropMove(col, 1, 2, 3)).toEqual({ column_id: 1, after: 3 });
    expect(dropMove(columnTasks(tasks, 9, 2), 2, 2, 1)).toEqual({ column_id: 2, after: 4 });
    expect(dropMove([], 3, 2, 0)).toEqual({ column_id: 3, after: null });
  });
  it("moves by keyboard one step or one column", () => {
    expect(keyboardMove(board, tasks, 1, "up")).toEqual({ column_id: 1, after: null });
    expect(keyboardMove(board, tasks, 1, "down")).toEqual({ column_id: 1, after: 3 });
    expect(keyboardMove(board, tasks, 3, "up")).toEqual({ column_id: 1, after: 2 });
    expect(keyboardMove(board, tasks, 2, "up")).toBeNull();
    expect(keyboardMove(board, tasks, 3, "down")).toBeNull();
    expect(keyboardMove(board, tasks, 1, "right")).toEqual({ column_id: 2, after: 4 });
    expect(keyboardMove(board, tasks, 4, "right")).toEqual({ column_id: 3, after: null });
    expect(keyboardMove(board, tasks, 1, "left")).toBeNull();
    expect(keyboardMove(board, tasks, 5, "left")).toBeNull();
  });
});

describe("task helpers", () => {
  it("progress matches the server's rounding", () => {
    expect(progressOf([])).toBe(0);
    expect(progressOf([{ text: "a", done: true }, { text: "b", done: false }, { text: "c", done: false }])).toBe(33);
    expect(progressOf([{ text: "a", done: true }])).toBe(100);
  });
  it("overdue and list order", () => {
    const now = Date.parse("2030-01-02T00:00:00Z");
    expect(overdue(task(1, { due: "2030-01-01T00:00:00Z" }), now)).toBe(true);
    expect(overdue(task(1, { due: "2030-01-01T00:00:00Z", status: "done" }), now)).toBe(false);
    expect(overdue(task(1), now)).toBe(false);
    const list = [task(1, { status: "done" }), task(2), task(3, { due: "2030-01-05T00:00:00Z" }), task(4, { due: "2030-01-03T00:00:00Z" }), task(5)];
    expect(list.sort(listOrder).map((t) => t.id)).toEqual([4, 3, 5, 2, 1]);
  });
});
