// /app/leads: search (q) and filters (stage, source, campaign, owner) in the URL, keyset
// paging with the API's next_cursor; those who may add leads get a form for one.
import { useEffect, useState } from 'preact/hooks';
import { api, can, url } from '../api.js';
import { campaigns as loadCampaigns, personName, users as loadUsers } from '../data.js';
import { BASE, Link, navigate, useQuery } from '../router.js';
import { Banner, Loading, SelectField, SortableTable, SOURCES, STAGES, TextField, dateTime, label, useAsync, useForm } from '../ui.jsx';

const SORTS = [
  ['-created_at', 'Newest first'],
  ['created_at', 'Oldest first'],
  ['-updated_at', 'Recently updated'],
  ['-score', 'Highest score'],
  ['score', 'Lowest score'],
];

export const leadName = (l) => [l.first_name, l.last_name].filter(Boolean).join(' ') || l.email;

function NewLead({ camps }) {
  const f = useForm({ email: '', first_name: '', last_name: '', company: '', source: 'web', campaign_id: '' });
  const onSubmit = (e) => {
    e.preventDefault();
    f.submit(async (v) => {
      const body = { email: v.email.trim(), source: v.source };
      for (const k of ['first_name', 'last_name', 'company']) if (v[k].trim()) body[k] = v[k].trim();
      if (v.campaign_id) body.campaign_id = v.campaign_id;
      const lead = await api('/v1/leads', { method: 'POST', body });
      navigate(`${BASE}/leads/${lead.id}`);
    }, ['email', 'first_name', 'last_name', 'company', 'source', 'campaign_id']);
  };
  return (
    <details class="panel">
      <summary>Add a lead</summary>
      <form onSubmit={onSubmit} noValidate class="grid-form" aria-label="Add a lead">
        <Banner error={f.banner} />
        <TextField label="Email" type="email" required {...f.bind('email')} />
        <TextField label="First name" {...f.bind('first_name')} />
        <TextField label="Last name" {...f.bind('last_name')} />
        <TextField label="Company" {...f.bind('company')} />
        <SelectField label="Source" options={SOURCES.map((s) => [s, label(s)])} {...f.bind('source')} />
        <SelectField label="Campaign that brought it" options={[['', 'None'], ...camps.map((c) => [c.id, c.name])]} {...f.bind('campaign_id')} />
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Add lead
          </button>
        </div>
      </form>
    </details>
  );
}

export function Leads() {
  const [q, setQuery] = useQuery();
  const [search, setSearch] = useState(q.q || '');
  const [camps, setCamps] = useState([]);
  const [people, setPeople] = useState([]);
  const filters = { q: q.q, stage: q.stage, source: q.source, campaign_id: q.campaign_id, owner_id: q.owner_id, sort: q.sort };
  const page = useAsync(() => api(url('/v1/leads', { ...filters, cursor: q.cursor, limit: 50 })), [JSON.stringify(filters), q.cursor]);
  useEffect(() => {
    document.title = 'Leads · Leadloop';
    loadCampaigns().then(setCamps, () => {});
    loadUsers().then(setPeople, () => {});
  }, []);
  // A filter change starts again from the first page: a cursor belongs to its filters.
  const setFilter = (k) => (e) => setQuery({ [k]: e.currentTarget.value, cursor: '' });
  const campName = (id) => (camps.find((c) => c.id === id) || {}).name || '–';
  const rows = (page.data && page.data.data) || [];
  return (
    <section>
      <h1>Leads</h1>
      {can('leads') && <NewLead camps={camps} />}
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: search.trim(), cursor: '' }, { replace: false });
        }}
      >
        <TextField label="Search email, name or company" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        <div class="field field-button">
          <button type="submit">Search</button>
        </div>
        <SelectField label="Stage" options={[['', 'Any stage'], ...STAGES.map((s) => [s, label(s)])]} value={q.stage || ''} onInput={setFilter('stage')} />
        <SelectField label="Source" options={[['', 'Any source'], ...SOURCES.map((s) => [s, label(s)])]} value={q.source || ''} onInput={setFilter('source')} />
        <SelectField label="Campaign" options={[['', 'Any campaign'], ...camps.map((c) => [c.id, c.name])]} value={q.campaign_id || ''} onInput={setFilter('campaign_id')} />
        <SelectField label="Owner" options={[['', 'Anyone'], ...people.map((u) => [u.id, u.name])]} value={q.owner_id || ''} onInput={setFilter('owner_id')} />
        <SelectField label="Order" options={SORTS} value={q.sort || '-created_at'} onInput={(e) => setQuery({ sort: e.currentTarget.value === '-created_at' ? '' : e.currentTarget.value, cursor: '' })} />
      </form>
      <Banner error={page.error} />
      {page.loading && !page.data && <Loading what="leads" />}
      {page.data && (
        <>
          <p class="meta" role="status">
            {rows.length ? `${rows.length} leads on this page${q.cursor ? ' (not the first)' : ''}` : 'No lead matches.'}
          </p>
          {rows.length > 0 && (
            <SortableTable
              caption="Leads"
              columns={[
                { key: 'name', label: 'Lead', render: (l) => <Link href={`${BASE}/leads/${l.id}`}>{leadName(l)}</Link> },
                { key: 'email', label: 'Email' },
                { key: 'company', label: 'Company', render: (l) => l.company || '–' },
                { key: 'stage', label: 'Stage', render: (l) => label(l.stage) },
                { key: 'source', label: 'Source', render: (l) => label(l.source) },
                { key: 'campaign', label: 'First campaign', render: (l) => campName(l.first_campaign_id) },
                { key: 'owner', label: 'Owner', render: (l) => personName(people, l.owner_id) },
                { key: 'score', label: 'Score', numeric: true, render: (l) => (l.score == null ? '–' : l.score) },
                { key: 'created_at', label: 'Created', render: (l) => dateTime(l.created_at) },
              ]}
              rows={rows}
              rowKey={(l) => l.id}
            />
          )}
          <nav class="pager" aria-label="Pages of leads">
            {q.cursor && (
              <button type="button" class="secondary" onClick={() => setQuery({ cursor: '' }, { replace: false })}>
                First page
              </button>
            )}
            {page.data.next_cursor && (
              <button type="button" class="secondary" onClick={() => setQuery({ cursor: page.data.next_cursor }, { replace: false })}>
                Next page
              </button>
            )}
          </nav>
        </>
      )}
    </section>
  );
}
