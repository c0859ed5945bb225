// /app/campaigns: the workspace's campaigns; /app/campaigns/new and /app/campaigns/<id>:
// the form that creates or edits one (marketing and admin), or its details for the others.
import { useEffect } from 'preact/hooks';
import { api, can, listAll, session, url } from '../api.js';
import { forget } from '../data.js';
import { BASE, Link, navigate, useQuery } from '../router.js';
import {
  Banner,
  Loading,
  SelectField,
  SortableTable,
  TextField,
  CAMPAIGN_STATUSES,
  CHANNELS,
  fromMinor,
  label,
  money,
  toMinor,
  useAsync,
  useForm,
} from '../ui.jsx';

export function Campaigns() {
  const [q, setQuery] = useQuery();
  const list = useAsync(() => listAll('/v1/campaigns', { status: q.status, channel: q.channel }), [q.status, q.channel]);
  useEffect(() => {
    document.title = 'Campaigns · Leadloop';
  }, []);
  const rows = list.data || [];
  return (
    <section>
      <h1>Campaigns</h1>
      {can('campaigns') && (
        <p>
          <Link href={`${BASE}/campaigns/new`} class="button">
            New campaign
          </Link>
        </p>
      )}
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter campaigns">
        <SelectField
          label="Status"
          options={[['', 'Any status'], ...CAMPAIGN_STATUSES.map((s) => [s, label(s)])]}
          value={q.status || ''}
          onInput={(e) => setQuery({ status: e.currentTarget.value })}
        />
        <SelectField
          label="Channel"
          options={[['', 'Any channel'], ...CHANNELS.map((s) => [s, label(s)])]}
          value={q.channel || ''}
          onInput={(e) => setQuery({ channel: e.currentTarget.value })}
        />
      </form>
      {q.saved && (
        <p class="banner banner-ok" role="status">
          Saved the campaign “{q.saved}”.
        </p>
      )}
      <Banner error={list.error} />
      {list.loading && !list.data && <Loading what="campaigns" />}
      {list.data && !rows.length && <p>No campaign yet.</p>}
      {rows.length > 0 && (
        <SortableTable
          caption="Campaigns"
          columns={[
            { key: 'name', label: 'Name', render: (c) => <Link href={`${BASE}/campaigns/${c.id}`}>{c.name}</Link> },
            { key: 'channel', label: 'Channel', render: (c) => label(c.channel) },
            { key: 'status', label: 'Status', render: (c) => label(c.status) },
            { key: 'budget', label: 'Budget', numeric: true, render: (c) => money(c.budget, c.currency) },
            { key: 'cost', label: 'Cost so far', numeric: true, render: (c) => money(c.cost, c.currency) },
            { key: 'starts_on', label: 'Starts', render: (c) => c.starts_on || '–' },
            { key: 'ends_on', label: 'Ends', render: (c) => c.ends_on || '–' },
            { key: 'leads', label: 'Leads', sortable: false, render: (c) => <Link href={url(`${BASE}/leads`, { campaign_id: c.id })}>Leads</Link> },
          ]}
          rows={rows}
          sort={q.sort || 'name'}
          onSort={(s) => setQuery({ sort: s === 'name' ? '' : s })}
          rowKey={(c) => c.id}
        />
      )}
    </section>
  );
}

const FIELDS = ['name', 'channel', 'status', 'budget', 'cost', 'currency', 'starts_on', 'ends_on', 'tags', 'description'];

function toForm(c, currency) {
  if (!c) {
    return { name: '', channel: 'email', status: 'planned', budget: '', cost: '', currency, starts_on: '', ends_on: '', tags: '', description: '' };
  }
  return {
    name: c.name,
    channel: c.channel,
    status: c.status,
    budget: fromMinor(c.budget, c.currency),
    cost: fromMinor(c.cost, c.currency),
    currency: c.currency,
    starts_on: c.starts_on || '',
    ends_on: c.ends_on || '',
    tags: c.tags.join(', '),
    description: c.description || '',
  };
}

function CampaignForm({ campaign }) {
  const ws = session.value.workspace;
  const f = useForm(toForm(campaign, (ws && ws.currency) || 'USD'));
  const onSubmit = (e) => {
    e.preventDefault();
    const v = f.values;
    const local = {};
    const body = {
      name: v.name.trim(),
      channel: v.channel,
      status: v.status,
      currency: v.currency.trim().toUpperCase(),
      starts_on: v.starts_on || null,
      ends_on: v.ends_on || null,
      tags: v.tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
      description: v.description.trim() || null,
    };
    for (const k of ['budget', 'cost']) {
      if (!v[k].trim()) body[k] = 0;
      else {
        const m = toMinor(v[k], body.currency);
        if (Number.isFinite(m)) body[k] = m;
        else local[k] = 'Give an amount such as 2500 or 2500.50.';
      }
    }
    if (Object.keys(local).length) {
      f.setErrors(local);
      return;
    }
    f.submit(async () => {
      let saved;
      if (campaign) {
        saved = await api(`/v1/campaigns/${campaign.id}`, {
          method: 'PATCH',
          body,
          contentType: 'application/merge-patch+json',
          headers: { 'If-Match': `"${campaign.version}"` },
        });
      } else {
        saved = await api('/v1/campaigns', { method: 'POST', body });
      }
      forget('campaigns');
      navigate(`${BASE}/campaigns?saved=${encodeURIComponent(saved.name)}`);
    }, FIELDS);
  };
  return (
    <form onSubmit={onSubmit} noValidate class="grid-form">
      <Banner error={f.banner} />
      <TextField label="Name" required {...f.bind('name')} />
      <SelectField label="Channel" options={CHANNELS.map((c) => [c, label(c)])} {...f.bind('channel')} />
      <SelectField label="Status" options={CAMPAIGN_STATUSES.map((c) => [c, label(c)])} {...f.bind('status')} />
      <TextField label="Currency" hint="ISO 4217 code, such as EUR" maxLength={3} {...f.bind('currency')} />
      <TextField label="Budget" inputMode="decimal" {...f.bind('budget')} />
      <TextField label="Cost so far" inputMode="decimal" {...f.bind('cost')} />
      <TextField label="Starts on" type="date" {...f.bind('starts_on')} />
      <TextField label="Ends on" type="date" {...f.bind('ends_on')} />
      <TextField label="Tags" hint="Separated by commas" {...f.bind('tags')} />
      <TextField label="Description" type="textarea" rows={4} {...f.bind('description')} />
      <div class="actions">
        <button type="submit" disabled={f.busy}>
          {campaign ? 'Save changes' : 'Create campaign'}
        </button>
        <Link href={`${BASE}/campaigns`}>Cancel</Link>
      </div>
    </form>
  );
}

export function CampaignEdit({ id }) {
  const isNew = !id;
  const c = useAsync(() => (isNew ? Promise.resolve(null) : api(`/v1/campaigns/${encodeURIComponent(id)}`)), [id]);
  useEffect(() => {
    document.title = `${isNew ? 'New campaign' : c.data ? c.data.name : 'Campaign'} · Leadloop`;
  }, [c.data]);
  const title = isNew ? 'New campaign' : c.data ? c.data.name : 'Campaign';
  return (
    <section>
      <p class="crumbs">
        <Link href={`${BASE}/campaigns`}>Campaigns</Link> /
      </p>
      <h1>{title}</h1>
      <Banner error={c.error} />
      {c.loading && <Loading what="the campaign" />}
      {!c.loading && !c.error && (can('campaigns') ? (
        <CampaignForm campaign={c.data} />
      ) : c.data ? (
        <dl class="fields">
          {[
            ['Channel', label(c.data.channel)],
            ['Status', label(c.data.status)],
            ['Budget', money(c.data.budget, c.data.currency)],
            ['Cost so far', money(c.data.cost, c.data.currency)],
            ['Starts on', c.data.starts_on || '–'],
            ['Ends on', c.data.ends_on || '–'],
            ['Tags', c.data.tags.join(', ') || '–'],
            ['Description', c.data.description || '–'],
          ].map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p>Only marketing and administrators create campaigns.</p>
      ))}
      {c.data && (
        <p>
          <Link href={url(`${BASE}/leads`, { campaign_id: c.data.id })}>This campaign's leads</Link> ·{' '}
          <Link href={url(`${BASE}/funnel`, { campaign_id: c.data.id })}>its funnel</Link>
        </p>
      )}
    </section>
  );
}
