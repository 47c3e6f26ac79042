import { createEffect, createMemo, createSignal, For, onCleanup, onMount, untrack, type JSX } from "solid-js";

interface Props<T> {
  items: readonly T[];
  key: (item: T) => number | string;
  render: (item: T, index: () => number) => JSX.Element;
  /** Called when the user scrolls near the top (load older). */
  onTop?: () => void;
  /** Called with whether the view is at the bottom. */
  onBottom?: (atBottom: boolean) => void;
  estimate?: number;
  overscan?: number;
  ref?: (api: { scrollToBottom: () => void; scrollToKey: (k: number | string) => void }) => void;
  label: string;
}

/**
 * A virtualized list for chat history: only the rows near the viewport are in the DOM.
 * Row heights are measured (ResizeObserver) and cached by key; rows are positioned with
 * transforms set through the CSSOM (allowed by the CSP). It sticks to the bottom while
 * the user is there, and keeps the visible row in place when older rows are prepended.
 */
export function VirtualList<T>(props: Props<T>) {
  let el!: HTMLDivElement;
  const est = () => props.estimate ?? 64;
  const [heights, setHeights] = createSignal(new Map<number | string, number>(), { equals: false });
  const [scrollTop, setScrollTop] = createSignal(0);
  const [viewH, setViewH] = createSignal(600);
  let atBottom = true;

  const offsets = createMemo(() => {
    const h = heights();
    const out = new Array<number>(props.items.length + 1);
    out[0] = 0;
    for (let i = 0; i < props.items.length; i++) out[i + 1] = out[i]! + (h.get(props.key(props.items[i]!)) ?? est());
    return out;
  });
  const total = () => offsets()[props.items.length] ?? 0;

  const range = createMemo(() => {
    const off = offsets();
    const n = props.items.length;
    const top = scrollTop() - (props.overscan ?? 600);
    const bottom = scrollTop() + viewH() + (props.overscan ?? 600);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (off[mid + 1]! < top) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < n && off[end]! < bottom) end++;
    return [lo, end] as const;
  });
  const visible = createMemo(() => {
    const [a, b] = range();
    return props.items.slice(a, b);
  });

  const ro = new ResizeObserver((entries) => {
    const h = heights();
    let changed = false;
    let above = 0;
    const off = offsets();
    for (const e of entries) {
      const k = (e.target as HTMLElement).dataset.key!;
      const key = /^\d+$/.test(k) ? Number(k) : k;
      const nh = Math.ceil(e.borderBoxSize?.[0]?.blockSize ?? (e.target as HTMLElement).offsetHeight);
      const old = h.get(key) ?? est();
      if (nh !== old && nh > 0) {
        h.set(key, nh);
        changed = true;
        const idx = Number((e.target as HTMLElement).dataset.index);
        if ((off[idx] ?? 0) < el.scrollTop) above += nh - old;
      }
    }
    if (!changed) return;
    setHeights(h);
    if (atBottom) toBottom();
    else if (above) el.scrollTop += above;
  });
  onCleanup(() => ro.disconnect());

  function toBottom() {
    el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
  }

  // Keep the first visible row in place when rows are prepended; follow new rows at the bottom.
  let firstKey: number | string | undefined;
  let count = 0;
  createEffect(() => {
    const items = props.items;
    const n = items.length;
    untrack(() => {
      const prevFirst = firstKey;
      firstKey = n ? props.key(items[0]!) : undefined;
      if (prevFirst !== undefined && firstKey !== prevFirst && n > count) {
        const idx = items.findIndex((x) => props.key(x) === prevFirst);
        if (idx > 0) {
          queueMicrotask(() => {
            el.scrollTop += offsets()[idx]!;
            setScrollTop(el.scrollTop);
          });
        }
      } else if (atBottom) queueMicrotask(toBottom);
      count = n;
    });
  });

  function checkBottom() {
    const bottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
    if (bottom !== atBottom) {
      atBottom = bottom;
      props.onBottom?.(bottom);
    }
  }

  function onScroll() {
    setScrollTop(el.scrollTop);
    checkBottom();
    if (el.scrollTop < 400) props.onTop?.();
  }

  onMount(() => {
    const sizeRo = new ResizeObserver(() => {
      setViewH(el.clientHeight);
      if (atBottom) toBottom();
    });
    sizeRo.observe(el);
    onCleanup(() => sizeRo.disconnect());
    setViewH(el.clientHeight);
    toBottom();
    props.onBottom?.(true);
    props.ref?.({
      scrollToBottom: () => {
        atBottom = true;
        toBottom();
        props.onBottom?.(true);
      },
      scrollToKey: (k) => {
        const idx = props.items.findIndex((x) => props.key(x) === k);
        if (idx >= 0) {
          atBottom = false;
          el.scrollTop = Math.max(0, offsets()[idx]! - el.clientHeight / 3);
          setScrollTop(el.scrollTop);
          // A short history still shows its end: then the view counts as at the bottom.
          atBottom = !(el.scrollTop + el.clientHeight >= el.scrollHeight - 24);
          checkBottom();
        }
      },
    });
  });

  return (
    <div class="vlist" ref={el} onScroll={onScroll} role="log" aria-live="off" aria-label={props.label} tabindex="0">
      <div class="vlist-inner" style={{ height: `${total()}px` }}>
        <For each={visible()}>
          {(item, i) => {
            const idx = () => range()[0] + i();
            return (
              <div
                class="vrow"
                data-key={String(props.key(item))}
                data-index={idx()}
                ref={(r) => {
                  ro.observe(r);
                  onCleanup(() => ro.unobserve(r));
                }}
                style={{ transform: `translateY(${offsets()[idx()] ?? 0}px)` }}
              >
                {props.render(item, idx)}
              </div>
            );
          }}
        </For>
      </div>
    </div>
  );
}
