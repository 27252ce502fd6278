/**
 * A deep copy of a modelled kernel, for the explorer: a scenario's setup runs once, and every
 * execution starts from a copy of the kernel it left (instead of running the setup again). The
 * model's state is plain data (class instances, arrays, typed arrays, Maps and Sets), so a
 * structural copy that keeps prototypes and sharing is an exact copy. Functions are shared, which
 * is right only for stateless ones: a kernel with RCU callbacks still queued (closures over the
 * old kernel) is refused.
 */
export class ForkError extends Error {
  override name = 'ForkError';
}

/** Copy `root` and everything it reaches; `map` takes each original object to its copy. */
export function deepCopy<T>(root: T): { copy: T; map: Map<object, object> } {
  const map = new Map<object, object>();
  const copy = (x: unknown): unknown => {
    if (x === null || typeof x !== 'object') return x;
    const seen = map.get(x);
    if (seen) return seen;
    if (ArrayBuffer.isView(x)) {
      const c = (x as unknown as { slice(): object }).slice();
      map.set(x, c);
      return c;
    }
    if (Array.isArray(x)) {
      const c: unknown[] = new Array(x.length);
      map.set(x, c);
      for (let i = 0; i < x.length; i++) c[i] = copy(x[i]);
      return c;
    }
    if (x instanceof Map) {
      const c = new Map();
      map.set(x, c);
      for (const [k, v] of x) c.set(copy(k), copy(v));
      return c;
    }
    if (x instanceof Set) {
      const c = new Set();
      map.set(x, c);
      for (const v of x) c.add(copy(v));
      return c;
    }
    if (x instanceof WeakMap || x instanceof WeakSet || x instanceof Promise) throw new ForkError(`cannot copy a ${x.constructor.name}`);
    const c = Object.create(Object.getPrototypeOf(x)) as Record<string, unknown>;
    map.set(x, c);
    for (const key of Object.keys(x)) c[key] = copy((x as Record<string, unknown>)[key]);
    return c;
  };
  return { copy: copy(root) as T, map };
}

/**
 * A copy of `template` that can be put back to the template's state in place, without allocating:
 * typed arrays are copied into, arrays and objects re-pointed at the copies of what the template
 * holds, Maps and Sets refilled. Objects the copy gained since (a new VMA) are dropped with the
 * references to them. For the explorer, which runs one execution after another from the same state.
 */
export class Restorer<T extends object> {
  readonly copy: T;
  private readonly pairs: [object, object][];
  private readonly map: Map<object, object>;

  constructor(private readonly template: T) {
    const { copy, map } = deepCopy(template);
    this.copy = copy;
    this.map = map;
    this.pairs = [...map];
  }

  /** The copy of a template object. */
  of<U extends object>(o: U): U {
    return this.map.get(o) as U;
  }

  /** Put the copy back to the template's state. */
  restore(): T {
    const map = this.map;
    const mapped = (v: unknown): unknown => (v !== null && typeof v === 'object' ? map.get(v) : v);
    for (const [t, c] of this.pairs) {
      if (ArrayBuffer.isView(t)) {
        (c as unknown as { set(a: ArrayLike<number>): void }).set(t as unknown as ArrayLike<number>);
      } else if (Array.isArray(t)) {
        const a = c as unknown[];
        a.length = t.length;
        for (let i = 0; i < t.length; i++) a[i] = mapped(t[i]);
      } else if (t instanceof Map) {
        const m = c as Map<unknown, unknown>;
        m.clear();
        for (const [k, v] of t) m.set(mapped(k), mapped(v));
      } else if (t instanceof Set) {
        const s = c as Set<unknown>;
        s.clear();
        for (const v of t) s.add(mapped(v));
      } else {
        const tr = t as Record<string, unknown>;
        const cr = c as Record<string, unknown>;
        for (const key in cr) if (!Object.prototype.hasOwnProperty.call(tr, key)) delete cr[key];
        for (const key in tr) cr[key] = mapped(tr[key]);
      }
    }
    return this.copy;
  }
}
