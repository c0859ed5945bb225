// /app/settings (admin): people and their invitations, API keys, feedback reasons and the
// workspace's name, reporting currency and calendar (time zone, follow-up SLA, business
// hours). Secrets (an invitation link, a new key) are shown once, as the API gives them once.
import { useEffect, useState } from 'preact/hooks';
import { api, can, listAll, refreshSession } from '../api.js';
import { forget } from '../data.js';
import { Banner, CheckField, Loading, SelectField, SortableTable, TextField, ROLES, dateTime, label, useAsync, useForm } from '../ui.jsx';

function Secret({ title, value, children }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    const done = () => setCopied(true);
    if (navigator.clipboard) navigator.clipboard.writeText(value).then(done, () => setCopied(false));
  };
  return (
    <div class="banner banner-ok secret" role="status">
      <p>
        <strong>{title}</strong> {children}
      </p>
      <TextField label={title} value={value} readOnly onFocus={(e) => e.currentTarget.select()} />
      <button type="button" class="secondary" onClick={copy}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

function People() {
  const users = useAsync(() => listAll('/v1/users'), []);
  const invites = useAsync(() => listAll('/v1/invitations'), []);
  const f = useForm({ email: '', name: '', role: 'sales' });
  const [made, setMade] = useState(null);
  const [revokeErr, setRevokeErr] = useState(null);
  const onSubmit = (e) => {
    e.preventDefault();
    setMade(null);
    f.submit(async (v) => {
      const body = { email: v.email.trim(), name: v.name.trim(), role: v.role };
      if (v.role === 'marketing' || v.role === 'sales') body.team = v.role;
      const inv = await api('/v1/invitations', { method: 'POST', body });
      setMade(inv);
      f.setValues({ email: '', name: '', role: v.role });
      forget('users');
      users.reload();
      invites.reload();
    }, ['email', 'name', 'role', 'team']);
  };
  const revoke = (inv) => {
    setRevokeErr(null);
    api(`/v1/invitations/${inv.id}`, { method: 'DELETE' }).then(invites.reload, setRevokeErr);
  };
  // Deactivating ends the person's sessions at once; a deactivated person is invited again
  // to set a new password (the way back from a forgotten one).
  const setActive = (u, active) => {
    if (!active && !confirm(`Deactivate ${u.name}? Their sessions end at once.`)) return;
    setRevokeErr(null);
    api(`/v1/users/${u.id}`, { method: 'PATCH', body: { active } }).then(() => {
      forget('users');
      users.reload();
    }, setRevokeErr);
  };
  const open = (invites.data || []).filter((i) => !i.accepted_at && !i.revoked_at);
  return (
    <section aria-labelledby="people">
      <h2 id="people">People and invitations</h2>
      <form onSubmit={onSubmit} noValidate class="grid-form panel" aria-labelledby="invite-title">
        <h3 id="invite-title">Invite someone</h3>
        <Banner error={f.banner} />
        <TextField label="Email" type="email" required {...f.bind('email')} />
        <TextField label="Name" required {...f.bind('name')} />
        <SelectField label="Role" options={ROLES.map((r) => [r, label(r)])} {...f.bind('role')} />
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Invite
          </button>
        </div>
      </form>
      {made && (
        <Secret title="Invitation link" value={location.origin + made.url}>
          for {made.email}: send it to them; it is shown only now and works once, until {dateTime(made.expires_at)}.
        </Secret>
      )}
      <Banner error={users.error} />
      {users.loading && !users.data && <Loading what="people" />}
      {users.data && (
        <SortableTable
          caption="People"
          columns={[
            { key: 'name', label: 'Name' },
            { key: 'email', label: 'Email' },
            { key: 'role', label: 'Role', render: (u) => label(u.role || u.team) },
            { key: 'active', label: 'Active', render: (u) => (u.active ? 'Yes' : 'No') },
            {
              key: 'activated_at',
              label: 'Can sign in since',
              render: (u) => (u.activated_at ? dateTime(u.activated_at) : 'Not yet (invited or never)'),
            },
            {
              key: 'change',
              label: 'Change',
              render: (u) => (
                <button
                  type="button"
                  class="secondary"
                  onClick={() => setActive(u, !u.active)}
                  aria-label={`${u.active ? 'Deactivate' : 'Reactivate'} ${u.name}`}
                >
                  {u.active ? 'Deactivate' : 'Reactivate'}
                </button>
              ),
            },
          ]}
          rows={users.data}
          rowKey={(u) => u.id}
        />
      )}
      <h3>Open invitations</h3>
      <Banner error={invites.error || revokeErr} />
      {invites.data && !open.length && <p>No open invitation.</p>}
      {open.length > 0 && (
        <SortableTable
          caption="Open invitations"
          columns={[
            { key: 'email', label: 'Email' },
            { key: 'role', label: 'Role', render: (i) => label(i.role) },
            { key: 'expires_at', label: 'Expires', render: (i) => dateTime(i.expires_at) },
            {
              key: 'revoke',
              label: 'Revoke',
              render: (i) => (
                <button type="button" class="secondary" onClick={() => revoke(i)} aria-label={`Revoke the invitation of ${i.email}`}>
                  Revoke
                </button>
              ),
            },
          ]}
          rows={open}
          rowKey={(i) => i.id}
        />
      )}
    </section>
  );
}

function Keys() {
  const keys = useAsync(() => listAll('/v1/api-keys'), []);
  const f = useForm({ name: '', role: 'readonly' });
  const [made, setMade] = useState(null);
  const [revokeErr, setRevokeErr] = useState(null);
  const onSubmit = (e) => {
    e.preventDefault();
    setMade(null);
    f.submit(async (v) => {
      const k = await api('/v1/api-keys', { method: 'POST', body: { name: v.name.trim(), role: v.role } });
      setMade(k);
      f.setValues({ name: '', role: v.role });
      keys.reload();
    }, ['name', 'role']);
  };
  const revoke = (k) => {
    if (!confirm(`Revoke the key “${k.name}”? Tools that use it stop working at once.`)) return;
    setRevokeErr(null);
    api(`/v1/api-keys/${k.id}`, { method: 'DELETE' }).then(keys.reload, setRevokeErr);
  };
  return (
    <section aria-labelledby="keys">
      <h2 id="keys">API keys</h2>
      <form onSubmit={onSubmit} noValidate class="grid-form panel" aria-labelledby="key-title">
        <h3 id="key-title">Create a key</h3>
        <Banner error={f.banner} />
        <TextField label="Key name" required {...f.bind('name')} />
        <SelectField label="Key role" options={ROLES.map((r) => [r, label(r)])} {...f.bind('role')} />
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Create key
          </button>
        </div>
      </form>
      {made && (
        <Secret title="New API key" value={made.secret}>
          “{made.name}”: copy it now, it is shown only once.
        </Secret>
      )}
      <Banner error={keys.error || revokeErr} />
      {keys.data && (
        <SortableTable
          caption="API keys"
          columns={[
            { key: 'name', label: 'Name' },
            { key: 'prefix', label: 'Starts with', render: (k) => <code>{k.prefix}</code> },
            { key: 'role', label: 'Role', render: (k) => label(k.role) },
            { key: 'last_used_at', label: 'Last used', render: (k) => dateTime(k.last_used_at) },
            {
              key: 'state',
              label: 'State',
              render: (k) =>
                k.revoked_at ? (
                  `Revoked ${dateTime(k.revoked_at)}`
                ) : (
                  <button type="button" class="secondary" onClick={() => revoke(k)} aria-label={`Revoke the key ${k.name}`}>
                    Revoke
                  </button>
                ),
            },
          ]}
          rows={keys.data}
          rowKey={(k) => k.id}
        />
      )}
    </section>
  );
}

const REASON_KINDS = ['rejected', 'lost', 'recycled'];

function Reasons() {
  const list = useAsync(() => listAll('/v1/feedback-reasons'), []);
  const f = useForm({ code: '', label: '', rejected: true, lost: false, recycled: false, disqualifies: false, recycle_after_days: '' });
  const [err, setErr] = useState(null);
  const onSubmit = (e) => {
    e.preventDefault();
    f.submit(async (v) => {
      const body = {
        code: v.code.trim(),
        label: v.label.trim(),
        kinds: REASON_KINDS.filter((k) => v[k]),
        disqualifies: !!v.disqualifies,
      };
      if (String(v.recycle_after_days).trim()) body.recycle_after_days = Number(v.recycle_after_days);
      await api('/v1/feedback-reasons', { method: 'POST', body });
      f.setValues({ code: '', label: '', rejected: true, lost: false, recycled: false, disqualifies: false, recycle_after_days: '' });
      forget('reasons');
      list.reload();
    }, ['code', 'label', 'kinds', 'disqualifies', 'recycle_after_days']);
  };
  const toggle = (r) => {
    setErr(null);
    api(`/v1/feedback-reasons/${r.code}`, {
      method: 'PATCH',
      body: { active: !r.active },
      contentType: 'application/merge-patch+json',
      headers: { 'If-Match': `"${r.version}"` },
    }).then(() => {
      forget('reasons');
      list.reload();
    }, setErr);
  };
  return (
    <section aria-labelledby="reasons">
      <h2 id="reasons">Feedback reasons</h2>
      <form onSubmit={onSubmit} noValidate class="grid-form panel" aria-labelledby="reason-title">
        <h3 id="reason-title">Add a reason</h3>
        <Banner error={f.banner} />
        <TextField label="Code" hint="Lower case letters, digits and _, such as no_budget" {...f.bind('code')} />
        <TextField label="Label" {...f.bind('label')} />
        <fieldset>
          <legend>Given when a lead is</legend>
          {REASON_KINDS.map((k) => (
            <CheckField key={k} label={label(k)} {...f.bind(k)} onInput={undefined} onChange={(e) => f.set(k, e.currentTarget.checked)} />
          ))}
          {f.errors.kinds && <p class="error">{f.errors.kinds}</p>}
        </fieldset>
        <CheckField label="Disqualifies the lead (otherwise recycles it)" {...f.bind('disqualifies')} onInput={undefined} onChange={(e) => f.set('disqualifies', e.currentTarget.checked)} />
        <TextField label="Due back to marketing after (days)" type="number" min="1" max="3650" {...f.bind('recycle_after_days')} />
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Add reason
          </button>
        </div>
      </form>
      <Banner error={list.error || err} />
      {list.data && (
        <SortableTable
          caption="Feedback reasons"
          columns={[
            { key: 'code', label: 'Code', render: (r) => <code>{r.code}</code> },
            { key: 'label', label: 'Label' },
            { key: 'kinds', label: 'For', render: (r) => r.kinds.map(label).join(', ') },
            { key: 'disqualifies', label: 'Effect', render: (r) => (r.disqualifies ? 'Disqualifies' : 'Recycles') },
            { key: 'active', label: 'Active', render: (r) => (r.active ? 'Yes' : 'No') },
            {
              key: 'toggle',
              label: 'Change',
              render: (r) => (
                <button type="button" class="secondary" onClick={() => toggle(r)} aria-label={`${r.active ? 'Deactivate' : 'Activate'} ${r.label}`}>
                  {r.active ? 'Deactivate' : 'Activate'}
                </button>
              ),
            },
          ]}
          rows={list.data}
          rowKey={(r) => r.code}
        />
      )}
    </section>
  );
}

function Workspace() {
  const ws = useAsync(() => api('/v1/workspace'), []);
  return (
    <section aria-labelledby="workspace">
      <h2 id="workspace">Workspace</h2>
      <Banner error={ws.error} />
      {ws.data && <WorkspaceForm key={ws.data.version} ws={ws.data} onSaved={ws.reload} />}
    </section>
  );
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
// The time zones the browser knows, offered as suggestions; the daemon checks the name.
const ZONES = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];

function WorkspaceForm({ ws, onSaved }) {
  const bh = ws.business_hours;
  const f = useForm({
    name: ws.name,
    currency: ws.currency,
    time_zone: ws.time_zone,
    sla_hours: ws.sla_hours == null ? '' : String(ws.sla_hours),
    days: bh ? bh.days.join(', ') : '',
    start: bh ? bh.start : '09:00',
    end: bh ? bh.end : '17:00',
  });
  const [saved, setSaved] = useState(false);
  const onSubmit = (e) => {
    e.preventDefault();
    setSaved(false);
    f.submit(async (v) => {
      const body = {};
      if (v.name.trim() !== ws.name) body.name = v.name.trim();
      if (v.currency.trim().toUpperCase() !== ws.currency) body.currency = v.currency.trim().toUpperCase();
      if (v.time_zone.trim() !== ws.time_zone) body.time_zone = v.time_zone.trim();
      const sla = v.sla_hours.trim() === '' ? null : Number(v.sla_hours);
      if (sla !== ws.sla_hours) body.sla_hours = sla;
      const days = v.days
        .split(/[\s,]+/)
        .map((d) => d.toLowerCase())
        .filter(Boolean);
      const hours = days.length ? { days, start: v.start, end: v.end } : null;
      if (JSON.stringify(hours) !== JSON.stringify(bh ?? null)) body.business_hours = hours;
      if (!Object.keys(body).length) return;
      await api('/v1/workspace', {
        method: 'PATCH',
        body,
        contentType: 'application/merge-patch+json',
        headers: { 'If-Match': `"${ws.version}"` },
      });
      await refreshSession().catch(() => {});
      setSaved(true);
      onSaved();
    }, ['name', 'currency', 'time_zone', 'sla_hours']);
  };
  return (
    <form onSubmit={onSubmit} noValidate class="grid-form panel">
      {saved && (
        <p class="banner banner-ok" role="status">
          Saved.
        </p>
      )}
      <Banner error={f.banner} />
      <TextField label="Workspace name" {...f.bind('name')} />
      <TextField label="Reporting currency" hint="ISO 4217 code; feedback amounts are in it" maxLength={3} {...f.bind('currency')} />
      <TextField
        label="Time zone"
        hint="The reports' days are its days; changing it recounts every lead's day"
        list="ll-zones"
        {...f.bind('time_zone')}
      />
      <datalist id="ll-zones">
        {ZONES.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
      <TextField
        label="Follow-up SLA (hours)"
        hint="Empty: the server's default"
        type="number"
        min="1"
        max="8760"
        {...f.bind('sla_hours')}
      />
      <TextField
        label="Business days"
        hint={`Empty: the SLA counts calendar time. Else e.g. ${DAYS.slice(0, 5).join(', ')}`}
        {...f.bind('days')}
      />
      <TextField label="Business hours start" type="time" {...f.bind('start')} />
      <TextField label="Business hours end" type="time" {...f.bind('end')} />
      <div class="actions">
        <button type="submit" disabled={f.busy}>
          Save workspace
        </button>
      </div>
    </form>
  );
}

export function Settings() {
  useEffect(() => {
    document.title = 'Settings · Leadloop';
  }, []);
  if (!can('admin'))
    return (
      <section>
        <h1>Settings</h1>
        <p>Only administrators change the settings.</p>
      </section>
    );
  return (
    <section>
      <h1>Settings</h1>
      <nav aria-label="Settings sections" class="toc">
        <a href="#people">People and invitations</a> · <a href="#keys">API keys</a> · <a href="#reasons">Feedback reasons</a> ·{' '}
        <a href="#workspace">Workspace</a>
      </nav>
      <People />
      <Keys />
      <Reasons />
      <Workspace />
    </section>
  );
}
