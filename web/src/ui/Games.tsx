// Games in a chat (docs/games.md): a kind picker that starts a game, and a card per
// game that follows `game_updated` live. Boards are buttons, so mouse, touch (pointer
// events become clicks) and keyboard (Tab, arrow keys between cells, Enter) all play.
import { createSignal, For, Show } from "solid-js";
import type { Game, GameKind } from "../protocol/types";
import { t } from "../app/i18n";
import { chatGames, joinGame, now, playMove, startGame, state } from "../app/store";
import { errorText } from "../app/errorText";

const KINDS: GameKind[] = ["tictactoe", "connect4", "hangman", "quiz"];
const ALPHABET: Record<string, string> = { en: "abcdefghijklmnopqrstuvwxyz", ru: "абвгдежзийклмнопрстуфхцчшщъыьэюя" };

type Cell = string | number | null;

function nameOf(chatId: number, id: number): string {
  if (id === state.me?.id) return state.me.username;
  return state.members[chatId]?.find((m) => m.user_id === id)?.username ?? `#${id}`;
}

/** The line under a game's title: whose turn, waiting, or the result. */
export function statusText(g: Game, me: number | undefined): string {
  if (g.status === "waiting") return t("game.waiting");
  if (g.status === "in_progress") {
    if (g.turn === null) return t(`game.${g.kind as GameKind}`);
    return g.turn === me ? t("game.yourTurn") : t("game.theirTurn", { u: nameOf(g.chat_id, g.turn) });
  }
  const r = g.result as { outcome?: string; winner?: number; standings?: { user: number; place: number }[] } | null;
  if (r?.outcome === "win" && r.winner !== undefined) return r.winner === me ? t("game.youWon") : t("game.won", { u: nameOf(g.chat_id, r.winner) });
  if (r?.outcome === "draw") return t("game.draw");
  if (r?.outcome === "ranked" && r.standings?.[0]) {
    const first = r.standings[0].user;
    return first === me ? t("game.youWon") : t("game.won", { u: nameOf(g.chat_id, first) });
  }
  return t("game.over");
}

/** Moves focus among the buttons of a grid with the arrow keys (`cols` per row). */
function arrows(e: KeyboardEvent, cols: number) {
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols }[e.key];
  if (step === undefined) return;
  const buttons = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLButtonElement>("button")];
  const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
  const next = buttons[Math.min(buttons.length - 1, Math.max(0, (i < 0 ? 0 : i) + step))];
  if (next) { e.preventDefault(); next.focus(); }
}

function TicTacToe(props: { g: Game; play: (m: unknown) => void; mine: boolean }) {
  const board = () => (props.g.state.board as Cell[]) ?? [];
  const line = () => new Set((props.g.state.line as number[] | null) ?? []);
  return (
    <div class="game-grid ttt" role="group" aria-label={t("game.tictactoe")} onKeyDown={(e) => arrows(e, 3)}>
      <For each={board()}>
        {(v, i) => (
          <button
            class="cell"
            classList={{ win: line().has(i()) }}
            data-cell={i()}
            disabled={!props.mine || v !== null}
            aria-label={t("game.cell", { r: Math.floor(i() / 3) + 1, c: (i() % 3) + 1, v: v ? String(v).toUpperCase() : t("game.empty") })}
            onClick={() => props.play({ cell: i() })}
          >
            {v ? String(v).toUpperCase() : ""}
          </button>
        )}
      </For>
    </div>
  );
}

function Connect4(props: { g: Game; play: (m: unknown) => void; mine: boolean }) {
  const rows = () => (props.g.state.board as Cell[][]) ?? [];
  return (
    <div class="c4">
      <div class="game-grid c4-drop" role="group" aria-label={t("game.connect4")} onKeyDown={(e) => arrows(e, 7)}>
        <For each={[0, 1, 2, 3, 4, 5, 6]}>
          {(c) => (
            <button class="drop" data-column={c} disabled={!props.mine || rows()[0]?.[c] !== null} aria-label={t("game.column", { c: c + 1 })} onClick={() => props.play({ column: c })}>
              ↓
            </button>
          )}
        </For>
      </div>
      <div class="c4-board" aria-hidden="true">
        <For each={rows()}>{(row) => <For each={row}>{(v) => <span class={`disc p${v ?? "x"}`} />}</For>}</For>
      </div>
    </div>
  );
}

function Hangman(props: { g: Game; play: (m: unknown) => void; mine: boolean }) {
  const s = () => props.g.state as { language?: string; pattern?: (string | null)[]; letters?: string[]; misses?: number; max_misses?: number; word?: string | null };
  const guessed = () => new Set(s().letters ?? []);
  const onKey = (e: KeyboardEvent) => {
    if (e.key.length === 1 && props.mine && (ALPHABET[s().language ?? "en"] ?? "").includes(e.key.toLowerCase()) && !guessed().has(e.key.toLowerCase())) {
      e.preventDefault();
      props.play({ letter: e.key.toLowerCase() });
    }
  };
  return (
    <div class="hangman" tabIndex={0} onKeyDown={onKey}>
      <p class="pattern" aria-label={(s().pattern ?? []).map((c) => c ?? "_").join(" ")}>{(s().pattern ?? []).map((c) => c ?? "_").join(" ")}</p>
      <p class="muted">{t("game.misses", { n: s().misses ?? 0, m: s().max_misses ?? 0 })}</p>
      <Show when={s().word}><p>{t("game.word", { w: s().word! })}</p></Show>
      <div class="letters">
        <For each={[...(ALPHABET[s().language ?? "en"] ?? "")]}>
          {(l) => <button class="letter" disabled={!props.mine || guessed().has(l)} onClick={() => props.play({ letter: l })}>{l}</button>}
        </For>
      </div>
    </div>
  );
}

function Quiz(props: { g: Game; play: (m: unknown) => void; mine: boolean }) {
  const q = () => props.g.state.question as { text: string; choices: string[]; deadline?: number } | null | undefined;
  const answered = () => props.g.state.your_answer !== null && props.g.state.your_answer !== undefined;
  const left = () => {
    now();
    const d = props.g.deadline ? Date.parse(props.g.deadline) : 0;
    return Math.max(0, Math.ceil((d - Date.now()) / 1000));
  };
  return (
    <Show when={q()}>
      <div class="quiz">
        <p class="question">{q()!.text}</p>
        <p class="muted" aria-live="polite">{t("game.timeLeft", { s: left() })}</p>
        <div class="choices">
          <For each={q()!.choices}>
            {(c, i) => (
              <button class="choice" classList={{ picked: props.g.state.your_answer === i() }} disabled={!props.mine || answered() || left() === 0} onClick={() => props.play({ answer: i() })}>
                {c}
              </button>
            )}
          </For>
        </div>
      </div>
    </Show>
  );
}

/** One game: its title and status, the board, and join/start/resign. */
export function GameCard(props: { game: Game; onError: (m: string) => void }) {
  const g = () => props.game;
  const me = () => state.me?.id;
  const seated = () => me() !== undefined && g().players.includes(me()!);
  const running = () => g().status === "in_progress";
  const mine = () => running() && seated() && (g().turn === null || g().turn === me());
  const play = (m: unknown) => void playMove(g().id, m).catch((e: unknown) => props.onError(errorText(e)));
  return (
    <article class="game-card" data-game={g().id} data-status={g().status} aria-label={t(`game.${g().kind as GameKind}`)}>
      <header>
        <strong>{t(`game.${g().kind as GameKind}`)}</strong>
        <span class="game-status" aria-live="polite">{statusText(g(), me())}</span>
      </header>
      <Show when={g().kind === "tictactoe"}><TicTacToe g={g()} play={play} mine={mine()} /></Show>
      <Show when={g().kind === "connect4"}><Connect4 g={g()} play={play} mine={mine()} /></Show>
      <Show when={g().kind === "hangman"}><Hangman g={g()} play={play} mine={mine()} /></Show>
      <Show when={g().kind === "quiz"}><Quiz g={g()} play={play} mine={mine()} /></Show>
      <div class="game-actions">
        <Show when={g().status === "waiting" && !seated()}>
          <button onClick={() => void joinGame(g().id).catch((e: unknown) => props.onError(errorText(e)))}>{t("game.join")}</button>
        </Show>
        <Show when={g().status === "waiting" && seated()}>
          <button onClick={() => play("start")}>{t("game.begin")}</button>
        </Show>
        <Show when={g().status !== "finished" && seated()}>
          <button class="secondary" onClick={() => play("resign")}>{t("game.resign")}</button>
        </Show>
      </div>
    </article>
  );
}

/** The chat's games: a picker to start one (the other member of a two-person chat is invited) and the live cards. */
export function GamesPanel(props: { chatId: number; onError: (m: string) => void }) {
  const [open, setOpen] = createSignal(false);
  const [kind, setKind] = createSignal<GameKind>("tictactoe");
  const games = () => chatGames(props.chatId).slice(0, 3);
  const start = () => {
    const others = (state.members[props.chatId] ?? []).map((m) => m.user_id).filter((id) => id !== state.me?.id);
    const invite = kind() === "tictactoe" || kind() === "connect4" ? (others.length === 1 ? others : []) : [];
    void startGame(props.chatId, kind(), invite).then(() => setOpen(false)).catch((e: unknown) => props.onError(errorText(e)));
  };
  return (
    <div class="games-panel">
      <button class="games-toggle" aria-expanded={open()} onClick={() => setOpen(!open())}>🎲 {t("game.start")}</button>
      <Show when={open()}>
        <div class="game-picker" role="group" aria-label={t("game.start")}>
          <label>
            {t("game.kind")}{" "}
            <select value={kind()} onChange={(e) => setKind(e.currentTarget.value as GameKind)}>
              <For each={KINDS}>{(k) => <option value={k}>{t(`game.${k}`)}</option>}</For>
            </select>
          </label>
          <button class="start-game" onClick={start}>{t("game.create")}</button>
        </div>
      </Show>
      <For each={games()}>{(g) => <GameCard game={g} onError={props.onError} />}</For>
    </div>
  );
}
