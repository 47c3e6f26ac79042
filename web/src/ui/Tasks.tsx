// The task panel of the open chat: a list (create, edit with checklist, assign,
// due date, priority) and a kanban board (drag and drop between and within
// columns, with move buttons as the keyboard alternative). Live: the store
// follows the task_* / board_updated pushes.
import { createEffect, createMemo, createSignal, For, on, Show } from "solid-js";
import { ApiError } from "../core/errors";
import { columnTasks, dropMove, keyboardMove, listOrder, overdue, progressOf, type Direction } from "../core/tasks";
import type { ChecklistItem, Priority, Task, TaskStatus } from "../protocol/types";
import { errorText } from "../app/errorText";
import { fmtDateTime, t } from "../app/i18n";
import { now, state } from "../app/store";
import {
  chatBoards, chatTasks, createBoard, createTask, deleteTask, loadChatTasks, moveTask, tstate, updateTask,
} from "../app/tasks";
import { Modal } from "./Dialogs";

const STATUSES: TaskStatus[] = ["todo", "in_progress", "done"];
const PRIORITIES: Priority[] = ["low", "normal", "high", "urgent"];

/** A draft made from a message ("make a task"). */
export interface TaskDraft { title: string; message_id: number }

/** `datetime-local` value ↔ RFC 3339. */
const toLocal = (iso: string | null) => {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};
const fromLocal = (v: string) => (v ? new Date(v).toISOString() : null);

export function TaskPanel(props: { chatId: number; draft: TaskDraft | null; onDraftUsed: () => void; onClose: () => void }) {
  const [view, setView] = createSignal<"list" | "board">("list");
  const [err, setErr] = createSignal("");
  const [editing, setEditing] = createSignal<number | null>(null);
  const fail = (e: unknown) => setErr(errorText(e));
  createEffect(on(() => props.chatId, (id) => {
    setErr("");
    if (!tstate.loaded[id]) void loadChatTasks(id).catch(fail);
  }));
  // "Make a task" from a message: create it at once, then open it for editing.
  createEffect(on(() => props.draft, (d) => {
    if (!d) return;
    props.onDraftUsed();
    setView("list");
    createTask(props.chatId, { title: d.title, message_id: d.message_id }).then((task) => setEditing(task.id), fail);
  }));
  return (
    <aside class="task-panel" aria-label={t("task.panel")}>
      <header class="task-head">
        <h2>{t("task.panel")}</h2>
        <div class="seg" role="tablist">
          <button role="tab" aria-selected={view() === "list"} onClick={() => setView("list")}>{t("task.list")}</button>
          <button role="tab" aria-selected={view() === "board"} onClick={() => setView("board")}>{t("task.board")}</button>
        </div>
        <button class="icon-btn close" aria-label={t("a11y.close")} onClick={props.onClose}>✕</button>
      </header>
      <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
      <Show when={view() === "list"} fallback={<BoardView chatId={props.chatId} onOpen={setEditing} onError={fail} />}>
        <TaskList chatId={props.chatId} onOpen={setEditing} onError={fail} />
      </Show>
      <Show when={editing() !== null && tstate.tasks[editing()!]}>
        <TaskEditor task={tstate.tasks[editing()!]!} onClose={() => setEditing(null)} />
      </Show>
    </aside>
  );
}

function NewTaskForm(props: { chatId: number; columnId?: number; label: string; onError: (e: unknown) => void }) {
  const [title, setTitle] = createSignal("");
  const submit = (e: Event) => {
    e.preventDefault();
    const v = title().trim();
    if (!v) return;
    createTask(props.chatId, { title: v, column_id: props.columnId ?? null }).then(() => setTitle(""), props.onError);
  };
  return (
    <form class="task-new" onSubmit={submit}>
      <input aria-label={props.label} placeholder={props.label} maxLength={200} value={title()} onInput={(e) => setTitle(e.currentTarget.value)} />
      <button type="submit" aria-label={props.label}>+</button>
    </form>
  );
}

function TaskCard(props: { task: Task; onOpen: (id: number) => void }) {
  const late = () => overdue(props.task, now());
  return (
    <button class="task-card" classList={{ done: props.task.status === "done" }} data-task-id={props.task.id} onClick={() => props.onOpen(props.task.id)}>
      <span class="task-title">{props.task.title}</span>
      <span class="task-meta muted">
        <span class={`prio prio-${props.task.priority}`}>{t(`task.priority.${props.task.priority}`)}</span>
        {" · "}{t(`task.status.${props.task.status}`)}
        <Show when={props.task.due}>{" · "}<time classList={{ late: late() }}>{late() ? `${t("task.overdue")} ` : ""}{fmtDateTime(props.task.due!)}</time></Show>
        <Show when={props.task.checklist.length}>{" · "}{t("task.progress", { n: props.task.progress })}</Show>
        <Show when={props.task.assignees.length}>{" · "}👤{props.task.assignees.length}</Show>
      </span>
    </button>
  );
}

function TaskList(props: { chatId: number; onOpen: (id: number) => void; onError: (e: unknown) => void }) {
  const tasks = createMemo(() => [...chatTasks(props.chatId)].sort(listOrder));
  return (
    <div class="task-list">
      <NewTaskForm chatId={props.chatId} label={t("task.new")} onError={props.onError} />
      <Show when={tasks().length} fallback={<p class="muted">{t("task.empty")}</p>}>
        <ul>
          <For each={tasks()}>{(task) => <li><TaskCard task={task} onOpen={props.onOpen} /></li>}</For>
        </ul>
      </Show>
    </div>
  );
}

function BoardView(props: { chatId: number; onOpen: (id: number) => void; onError: (e: unknown) => void }) {
  const boards = createMemo(() => chatBoards(props.chatId));
  const [chosen, setChosen] = createSignal<number | null>(null);
  const board = () => boards().find((b) => b.id === chosen()) ?? boards()[0];
  const [name, setName] = createSignal("");
  const [cols, setCols] = createSignal(t("task.defaultColumns"));
  const [dragging, setDragging] = createSignal<number | null>(null);
  const [announce, setAnnounce] = createSignal("");
  const tasks = () => chatTasks(props.chatId);
  const make = (e: Event) => {
    e.preventDefault();
    const columns = cols().split(",").map((c) => c.trim()).filter(Boolean);
    createBoard(props.chatId, name().trim() || t("task.board"), columns).then((b) => { setChosen(b.id); setName(""); }, props.onError);
  };
  const move = (id: number, req: { column_id: number; after?: number | null }) => {
    const title = tstate.tasks[id]?.title ?? "";
    const col = board()?.columns.find((c) => c.id === req.column_id)?.name ?? "";
    moveTask(id, req).then(() => setAnnounce(t("task.moved", { t: title, c: col })), props.onError);
  };
  const step = (id: number, dir: Direction) => {
    const b = board();
    const req = b ? keyboardMove(b, tasks(), id, dir) : null;
    if (req) move(id, req);
  };
  const drop = (e: DragEvent, columnId: number, index: number) => {
    e.preventDefault();
    e.stopPropagation();
    const id = Number(e.dataTransfer?.getData("text/plain") || dragging());
    setDragging(null);
    const b = board();
    if (!id || !b) return;
    move(id, dropMove(columnTasks(tasks(), b.id, columnId), columnId, id, index));
  };
  return (
    <div class="board-view">
      <Show when={boards().length > 1}>
        <select aria-label={t("task.board")} value={board()?.id} onChange={(e) => setChosen(Number(e.currentTarget.value))}>
          <For each={boards()}>{(b) => <option value={b.id}>{b.name}</option>}</For>
        </select>
      </Show>
      <Show when={board()} fallback={<p class="muted">{t("task.noBoard")}</p>}>
        <div class="columns">
          <For each={board()!.columns}>
            {(col, ci) => {
              const items = () => columnTasks(tasks(), board()!.id, col.id);
              return (
                <section class="column" aria-label={col.name} data-column-id={col.id}
                  onDragOver={(e) => e.preventDefault()} onDrop={(e) => drop(e, col.id, items().length)}>
                  <h3>{col.name} <span class="muted">{items().length}</span></h3>
                  <ol>
                    <For each={items()}>
                      {(task, i) => (
                        <li draggable="true" classList={{ dragging: dragging() === task.id }}
                          onDragStart={(e) => { setDragging(task.id); e.dataTransfer?.setData("text/plain", String(task.id)); }}
                          onDragEnd={() => setDragging(null)}
                          onDragOver={(e) => e.preventDefault()}
                          onDrop={(e) => {
                            const r = e.currentTarget.getBoundingClientRect();
                            drop(e, col.id, i() + (e.clientY > r.top + r.height / 2 ? 1 : 0));
                          }}>
                          <TaskCard task={task} onOpen={props.onOpen} />
                          <div class="move-btns">
                            <button aria-label={t("task.moveUp", { t: task.title })} disabled={i() === 0} onClick={() => step(task.id, "up")}>↑</button>
                            <button aria-label={t("task.moveDown", { t: task.title })} disabled={i() === items().length - 1} onClick={() => step(task.id, "down")}>↓</button>
                            <button aria-label={t("task.moveLeft", { t: task.title })} disabled={ci() === 0} onClick={() => step(task.id, "left")}>←</button>
                            <button aria-label={t("task.moveRight", { t: task.title })} disabled={ci() === board()!.columns.length - 1} onClick={() => step(task.id, "right")}>→</button>
                          </div>
                        </li>
                      )}
                    </For>
                  </ol>
                  <NewTaskForm chatId={props.chatId} columnId={col.id} label={t("task.addToColumn", { c: col.name })} onError={props.onError} />
                </section>
              );
            }}
          </For>
        </div>
      </Show>
      <p class="sr-only" aria-live="polite">{announce()}</p>
      <details class="board-new" open={!boards().length}>
        <summary>{t("task.newBoard")}</summary>
        <form onSubmit={make}>
          <label>{t("task.boardName")}<input value={name()} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} /></label>
          <label>{t("task.columns")}<input value={cols()} onInput={(e) => setCols(e.currentTarget.value)} /></label>
          <button type="submit">{t("task.createBoard")}</button>
        </form>
      </details>
    </div>
  );
}

function TaskEditor(props: { task: Task; onClose: () => void }) {
  // The form edits a copy of the version it was opened at; saving names that version.
  const base = props.task;
  const [title, setTitle] = createSignal(base.title);
  const [description, setDescription] = createSignal(base.description);
  const [status, setStatus] = createSignal<TaskStatus>(base.status);
  const [priority, setPriority] = createSignal<Priority>(base.priority);
  const [due, setDue] = createSignal(toLocal(base.due));
  const [labels, setLabels] = createSignal(base.labels.join(", "));
  const [assignees, setAssignees] = createSignal<number[]>([...base.assignees]);
  const [items, setItems] = createSignal<ChecklistItem[]>(base.checklist.map((i) => ({ ...i })));
  const [newItem, setNewItem] = createSignal("");
  const [err, setErr] = createSignal("");
  const [version, setVersion] = createSignal(base.version);
  const members = () => state.members[base.chat_id] ?? [];
  const places = () => chatBoards(base.chat_id).flatMap((b) => b.columns.map((c) => ({ board: b, column: c })));
  // Putting the task on a board (or into another column) is a move of its own, at the end of the column.
  const place = (columnId: number) => {
    const p = places().find((x) => x.column.id === columnId);
    if (!p) return;
    const req = dropMove(columnTasks(Object.values(tstate.tasks), p.board.id, columnId), columnId, base.id, Number.MAX_SAFE_INTEGER);
    const before = version();
    moveTask(base.id, req).then(
      // The form still holds the version it read unless someone else changed the task meanwhile.
      (moved) => { if (moved.version === before + 1) setVersion(moved.version); },
      (x: unknown) => setErr(errorText(x)),
    );
  };
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await updateTask(base.id, {
        version: version(),
        title: title(), description: description(), status: status(), priority: priority(), due: fromLocal(due()),
        labels: labels().split(",").map((l) => l.trim()).filter(Boolean), assignees: assignees(), checklist: items(),
      });
      props.onClose();
    } catch (x) {
      setErr(x instanceof ApiError && x.code === "conflict" ? t("task.conflict") : errorText(x));
    }
  };
  const remove = async () => {
    if (!confirm(t("task.deleteConfirm"))) return;
    try {
      await deleteTask(base.id);
      props.onClose();
    } catch (x) {
      setErr(errorText(x));
    }
  };
  return (
    <Modal title={t("task.edit")} onClose={props.onClose} wide>
      <form class="task-edit" onSubmit={save}>
        <label>{t("task.title")}<input required maxLength={200} value={title()} onInput={(e) => setTitle(e.currentTarget.value)} /></label>
        <label>{t("task.description")}<textarea maxLength={10000} value={description()} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
        <div class="row">
          <label>{t("task.status")}
            <select value={status()} onChange={(e) => setStatus(e.currentTarget.value as TaskStatus)}>
              <For each={STATUSES}>{(s) => <option value={s}>{t(`task.status.${s}`)}</option>}</For>
            </select>
          </label>
          <label>{t("task.priority")}
            <select value={priority()} onChange={(e) => setPriority(e.currentTarget.value as Priority)}>
              <For each={PRIORITIES}>{(p) => <option value={p}>{t(`task.priority.${p}`)}</option>}</For>
            </select>
          </label>
          <label>{t("task.due")}<input type="datetime-local" value={due()} onInput={(e) => setDue(e.currentTarget.value)} /></label>
        </div>
        <label>{t("task.labels")}<input value={labels()} onInput={(e) => setLabels(e.currentTarget.value)} /></label>
        <Show when={places().length}>
          <label>{t("task.column")}
            <select name="column" value={tstate.tasks[base.id]?.column_id ?? ""} onChange={(e) => place(Number(e.currentTarget.value))}>
              <option value="" disabled>{t("task.noColumn")}</option>
              <For each={places()}>{(p) => <option value={p.column.id}>{p.board.name} · {p.column.name}</option>}</For>
            </select>
          </label>
        </Show>
        <fieldset>
          <legend>{t("task.assignees")}</legend>
          <For each={members()}>
            {(m) => (
              <label class="check">
                <input type="checkbox" checked={assignees().includes(m.user_id)}
                  onChange={(e) => setAssignees((a) => (e.currentTarget.checked ? [...a, m.user_id] : a.filter((x) => x !== m.user_id)))} />
                {m.username}
              </label>
            )}
          </For>
        </fieldset>
        <fieldset>
          <legend>{t("task.checklist")} <span class="muted">{t("task.progress", { n: progressOf(items()) })}</span></legend>
          <ul class="checklist">
            <For each={items()}>
              {(item, i) => (
                <li>
                  <input type="checkbox" aria-label={item.text} checked={item.done}
                    onChange={(e) => setItems((xs) => xs.map((x, j) => (j === i() ? { ...x, done: e.currentTarget.checked } : x)))} />
                  <span>{item.text}</span>
                  <button type="button" class="link" aria-label={`${t("task.removeItem")} ${item.text}`} onClick={() => setItems((xs) => xs.filter((_, j) => j !== i()))}>✕</button>
                </li>
              )}
            </For>
          </ul>
          <div class="row">
            <input aria-label={t("task.addItem")} placeholder={t("task.addItem")} maxLength={500} value={newItem()} onInput={(e) => setNewItem(e.currentTarget.value)}
              onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); addItem(); } }} />
            <button type="button" onClick={() => addItem()}>{t("task.addItem")}</button>
          </div>
        </fieldset>
        <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
        <div class="row end">
          <button type="button" class="danger" onClick={() => void remove()}>{t("task.delete")}</button>
          <button type="submit" class="primary">{t("task.save")}</button>
        </div>
      </form>
    </Modal>
  );
  function addItem() {
    const v = newItem().trim();
    if (!v) return;
    setItems((xs) => [...xs, { text: v, done: false }]);
    setNewItem("");
  }
}
