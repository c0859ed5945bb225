// A value that components can watch: a few lines instead of a state library.
import { useEffect, useState } from 'preact/hooks';

export function signal(initial) {
  const subs = new Set();
  let value = initial;
  return {
    get value() {
      return value;
    },
    set value(v) {
      if (v === value) return;
      value = v;
      for (const fn of [...subs]) fn(v);
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

// Re-renders the calling component whenever the signal changes; returns its value.
export function useSignal(sig) {
  const [, set] = useState(0);
  useEffect(() => sig.subscribe(() => set((n) => n + 1)), [sig]);
  return sig.value;
}
