// Shared pieces of the pages: form fields with their labels and errors, the error banner,
// the sortable table, number formats and a hook that loads data.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

let nextId = 0;
const useId = (prefix) => {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
};

// ---- Loading -----------------------------------------------------------------------------

// Runs fn (which returns a promise) when deps change; the latest call wins.
export function useAsync(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    return fn().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (error) => mine === seq.current && setState({ data: null, error, loading: false }),
    );
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { ...state, reload: run };
}

// ---- Forms -------------------------------------------------------------------------------

// Form state that survives failed submits: values stay as typed, the problem's field errors
// go next to their fields (those the form shows) and anything else into the banner.
export function useForm(initial) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState({});
  const [banner, setBanner] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name, value) => setValues((v) => ({ ...v, [name]: value }));
  const bind = (name) => ({
    name,
    value: values[name] ?? '',
    onInput: (e) => set(name, e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value),
    error: errors[name],
  });
  // fields: the names this form shows, so that errors about others reach the banner.
  const submit = async (fn, fields) => {
    setBusy(true);
    setErrors({});
    setBanner(null);
    try {
      return await fn(values);
    } catch (e) {
      const fe = e instanceof ApiError ? e.fieldErrors() : {};
      const shown = {};
      const rest = [];
      for (const [k, msg] of Object.entries(fe)) {
        if (!fields || fields.includes(k)) shown[k] = msg;
        else rest.push(`${k}: ${msg}`);
      }
      setErrors(shown);
      if (!Object.keys(shown).length || rest.length || e.status === 401) {
        setBanner(rest.length && e.status !== 401 ? { message: e.message, details: rest } : { message: e.message });
      }
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { values, set, setValues, bind, errors, setErrors, banner, setBanner, busy, submit };
}

export function Banner({ error, kind = 'error', children }) {
  if (!error && !children) return null;
  const msg = error ? error.message || String(error) : null;
  return (
    <div class={`banner banner-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {msg && <p>{msg}</p>}
      {error && error.details && (
        <ul>
          {error.details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      )}
      {children}
    </div>
  );
}

function FieldShell({ id, label, error, hint, children, inline }) {
  return (
    <div class={`field${inline ? ' field-inline' : ''}${error ? ' field-error' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="error" id={`${id}-err`}>
          {error}
        </p>
      )}
    </div>
  );
}

const describedBy = (id, hint, error) =>
  [hint && `${id}-hint`, error && `${id}-err`].filter(Boolean).join(' ') || undefined;

export function TextField({ label, error, hint, type = 'text', ...rest }) {
  const id = useId('f');
  const Tag = type === 'textarea' ? 'textarea' : 'input';
  return (
    <FieldShell id={id} label={label} error={error} hint={hint}>
      <Tag
        id={id}
        type={type === 'textarea' ? undefined : type}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy(id, hint, error)}
        {...rest}
      />
    </FieldShell>
  );
}

// options: [[value, text], ...]
export function SelectField({ label, error, hint, options, ...rest }) {
  const id = useId('s');
  return (
    <FieldShell id={id} label={label} error={error} hint={hint}>
      <select
        id={id}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy(id, hint, error)}
        {...rest}
      >
        {options.map(([v, t]) => (
          <option key={v} value={v}>
            {t}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

export function CheckField({ label, error, value, ...rest }) {
  const id = useId('c');
  return (
    <div class={`field field-check${error ? ' field-error' : ''}`}>
      <input id={id} type="checkbox" checked={!!value} aria-invalid={error ? 'true' : undefined} {...rest} />
      <label for={id}>{label}</label>
      {error && <p class="error">{error}</p>}
    </div>
  );
}

// ---- Tables ------------------------------------------------------------------------------

// columns: [{key, label, render(row), value(row) (for sorting), numeric}]
// sort: "key" or "-key"; onSort(newSort). Headers are buttons; aria-sort says the order.
export function SortableTable({ caption, columns, rows, sort, onSort, rowKey, tableProps, tall }) {
  const desc = sort && sort.startsWith('-');
  const key = sort ? sort.replace(/^-/, '') : null;
  const col = columns.find((c) => c.key === key);
  let sorted = rows;
  if (col) {
    const val = col.value || ((r) => r[col.key]);
    const dir = desc ? -1 : 1;
    sorted = rows
      .map((r, i) => [val(r), i, r])
      .sort((a, b) => {
        const x = a[0];
        const y = b[0];
        // Empty values go last in both orders, as "no figure" is not a small figure.
        if (x == null || y == null) return x == null && y == null ? a[1] - b[1] : x == null ? 1 : -1;
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return c ? c * dir : a[1] - b[1];
      })
      .map((t) => t[2]);
  }
  return (
    <div class={tall ? 'table-wrap tall' : 'table-wrap'} tabindex="0" role="region" aria-label={caption}>
      <table {...tableProps}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = c.key === key;
              const sortable = onSort && c.sortable !== false;
              const ariaSort = !sortable ? undefined : active ? (desc ? 'descending' : 'ascending') : 'none';
              return (
                <th key={c.key} scope="col" aria-sort={ariaSort} class={c.numeric ? 'num' : undefined}>
                  {!sortable ? (
                    c.label
                  ) : (
                    <button type="button" class="sort" onClick={() => onSort(active && !desc ? `-${c.key}` : c.key)}>
                      {c.label}
                      <span aria-hidden="true" class="sort-mark">
                        {active ? (desc ? ' ▼' : ' ▲') : ' ↕'}
                      </span>
                    </button>
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r, i) => (
            <tr key={rowKey ? rowKey(r) : i}>
              {columns.map((c, j) => {
                const content = c.render ? c.render(r) : r[c.key];
                return j === 0 ? (
                  <th key={c.key} scope="row" class={c.numeric ? 'num' : undefined}>
                    {content}
                  </th>
                ) : (
                  <td key={c.key} class={c.numeric ? 'num' : undefined}>
                    {content}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---- Formats -----------------------------------------------------------------------------

const numFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
export const num = (n) => (n == null ? '–' : numFmt.format(n));
export const pct = (r) => (r == null ? '–' : `${(r * 100).toFixed(1)} %`);

const moneyFmts = new Map();
function moneyFmt(currency) {
  let f = moneyFmts.get(currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      f = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2 });
    }
    moneyFmts.set(currency, f);
  }
  return f;
}
// The number of minor units in a major one for a currency (100 for EUR, 1 for JPY).
export function minorFactor(currency) {
  const d = moneyFmt(currency || 'USD').resolvedOptions().maximumFractionDigits;
  return 10 ** d;
}
// Money from minor units.
export const money = (minor, currency) =>
  minor == null ? '–' : moneyFmt(currency || 'USD').format(minor / minorFactor(currency || 'USD'));
// "12.50" typed by a person → minor units, or NaN.
export function toMinor(text, currency) {
  const t = String(text).trim().replace(/\s/g, '').replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(t)) return NaN;
  return Math.round(parseFloat(t) * minorFactor(currency));
}
export const fromMinor = (minor, currency) => (minor == null ? '' : String(minor / minorFactor(currency)));

const dtFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const dateTime = (s) => (s ? dtFmt.format(new Date(s)) : '–');

export function duration(seconds) {
  if (seconds == null) return '–';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export const STAGES = ['new', 'mql', 'sales_accepted', 'sales_qualified', 'opportunity', 'customer', 'recycled', 'disqualified'];
export const SOURCES = ['web', 'event', 'referral', 'paid', 'outbound', 'partner', 'import', 'other'];
export const CHANNELS = ['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content', 'direct_mail', 'referral', 'other'];
export const CAMPAIGN_STATUSES = ['planned', 'active', 'paused', 'completed', 'archived'];
export const ROLES = ['admin', 'marketing', 'sales', 'readonly'];
const SPECIAL = { mql: 'MQL', roi: 'ROI' };
export const label = (code) =>
  code ? SPECIAL[code] || code.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()) : '';

export function Loading({ what }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}
