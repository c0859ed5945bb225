// A small router on history URLs under /app: every page, with its filters in the query
// string, is a URL that can be bookmarked, shared and reloaded (the daemon answers every
// /app/... path with the app's page).
import { h } from 'preact';
import { useSignal, signal } from './signal.js';

export const BASE = '/app';

const here = () => ({ path: location.pathname, search: location.search, hash: location.hash });
export const location$ = signal(here());

window.addEventListener('popstate', () => {
  location$.value = here();
});

// Goes to an app URL ("/app/leads?stage=mql"); replace: true keeps the history entry (for
// filter changes as one types).
export function navigate(to, { replace = false } = {}) {
  const cur = location.pathname + location.search + location.hash;
  if (to !== cur) history[replace ? 'replaceState' : 'pushState'](null, '', to);
  location$.value = here();
  if (!replace) {
    window.scrollTo(0, 0);
    // Tell screen readers the page changed: focus the main heading once it is drawn.
    requestAnimationFrame(() => {
      const h1 = document.querySelector('main h1');
      if (h1) {
        h1.setAttribute('tabindex', '-1');
        h1.focus({ preventScroll: true });
      }
    });
  }
}

export function useLocation() {
  return useSignal(location$);
}

// The query string as a plain object, and a setter that merges changes into the URL.
export function useQuery() {
  const loc = useLocation();
  const params = Object.fromEntries(new URLSearchParams(loc.search));
  const setQuery = (changes, opts = { replace: true }) => {
    const q = new URLSearchParams(loc.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === null || v === '') q.delete(k);
      else q.set(k, String(v));
    }
    const s = q.toString();
    navigate(loc.path + (s ? `?${s}` : ''), opts);
  };
  return [params, setQuery];
}

// Matches "/app/leads/:id" against a path; returns the parameters or null.
export function match(pattern, path) {
  const p = pattern.split('/');
  const s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return null;
  const out = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}

// An <a> that navigates inside the app without reloading; modified clicks (new tab) and
// links elsewhere behave as links do.
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (!href.startsWith(BASE)) return;
    e.preventDefault();
    navigate(href);
  };
  const loc = useLocation();
  const current = loc.path === href.split('?')[0] ? 'page' : undefined;
  return h('a', { href, onClick, 'aria-current': current, ...rest }, children);
}
