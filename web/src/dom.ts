/** A few lines of DOM building instead of a UI framework: the page is small and mostly static. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

/** h('button', { class: 'x', onclick: fn }, 'text') — `on*` attributes become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** kB as the kernel prints them, with a readable unit beside large values: "102400 kB (100 MiB)". */
export function kb(v: number): string {
  if (v < 10240) return `${v} kB`;
  const units = ['MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${v} kB (${x.toFixed(x < 10 ? 2 : 1)} ${units[u]})`;
}

/** A virtual address as the kernel prints it: 0x100000000000. */
export const hex = (a: number): string => '0x' + a.toString(16);

/** A byte length: 4K, 2M, 1G, 512G as op scripts write them. */
export function size(bytes: number): string {
  const units: [number, string][] = [[2 ** 40, 'T'], [2 ** 30, 'G'], [2 ** 20, 'M'], [2 ** 10, 'K']];
  for (const [u, n] of units) if (bytes >= u && bytes % u === 0) return `${bytes / u}${n}`;
  return `${bytes}`;
}
