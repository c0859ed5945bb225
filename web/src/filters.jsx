// The window (from, to) and attribution pickers of the report pages, kept in the URL.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { Banner, TextField, SelectField } from './ui.jsx';

export const ATTRIBUTIONS = [
  ['first_touch', 'First touch'],
  ['last_touch', 'Last touch'],
  ['linear', 'Linear (shared)'],
];

export function ReportFilters({ q, setQuery, attribution = true, children }) {
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Report options">
      <TextField label="From (first day)" type="date" value={q.from || ''} onInput={(e) => setQuery({ from: e.currentTarget.value })} />
      <TextField label="To (last day)" type="date" value={q.to || ''} onInput={(e) => setQuery({ to: e.currentTarget.value })} />
      {attribution && (
        <SelectField
          label="Attribution model"
          options={ATTRIBUTIONS}
          value={q.attribution || 'first_touch'}
          onInput={(e) => setQuery({ attribution: e.currentTarget.value === 'first_touch' ? '' : e.currentTarget.value })}
        />
      )}
      {children}
    </form>
  );
}

// The "Download CSV" button of a report page: the report's CSV form (Accept: text/csv), as
// the API writes it, saved as filename. A failure is told beside it, and a new try clears it.
export function CsvButton({ path, filename, disabled }) {
  const [err, setErr] = useState(null);
  const onClick = () => {
    setErr(null);
    save(path, filename).catch(setErr);
  };
  return (
    <div class="field field-button">
      <button type="button" class="secondary" onClick={onClick} disabled={disabled}>
        Download CSV
      </button>
      <Banner error={err} />
    </div>
  );
}

async function save(path, filename) {
  const text = await api(path, { accept: 'text/csv' });
  const blob = new Blob([text], { type: 'text/csv;charset=utf-8' });
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}
