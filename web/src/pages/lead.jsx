// /app/leads/<id>: the lead's fields, its timeline (touches, stage moves, feedback, edits),
// a form to move its stage and, for sales, the feedback form.
import { useEffect, useState } from 'preact/hooks';
import { api, can, listAll, session } from '../api.js';
import { campaigns as loadCampaigns, personName, reasons as loadReasons, users as loadUsers } from '../data.js';
import { BASE, Link } from '../router.js';
import { Banner, Loading, SelectField, TextField, dateTime, label, money, toMinor, useAsync, useForm } from '../ui.jsx';
import { leadName } from './leads.jsx';

const OPEN = ['new', 'mql', 'sales_accepted', 'sales_qualified', 'opportunity'];
const FUNNEL = ['new', 'mql', 'sales_accepted', 'sales_qualified', 'opportunity', 'customer'];

// The moves the state machine allows from a stage (openapi.yaml, transitionLead).
function allowedMoves(stage) {
  if (stage === 'recycled') return ['mql'];
  if (stage === 'customer') return ['opportunity']; // its next deal
  if (stage === 'disqualified') return ['recycled']; // back to marketing
  if (!OPEN.includes(stage)) return [];
  const later = FUNNEL.slice(FUNNEL.indexOf(stage) + 1).filter((s) => s !== 'mql' || stage === 'new');
  return [...later, 'recycled', 'disqualified'];
}

// The feedback kinds a stage takes (openapi.yaml, createFeedback).
const KINDS = [
  ['accepted', 'Accept', ['new', 'mql']],
  ['rejected', 'Reject', ['new', 'mql']],
  ['contacted', 'Contacted', OPEN],
  ['meeting_booked', 'Meeting booked', OPEN],
  ['won', 'Won', ['sales_accepted', 'sales_qualified', 'opportunity']],
  ['lost', 'Lost', ['sales_accepted', 'sales_qualified', 'opportunity']],
  ['recycled', 'Hand back to marketing (recycle)', OPEN],
];
const NEEDS_REASON = ['rejected', 'lost', 'recycled'];

function FeedbackForm({ lead, reasons, onDone }) {
  const currency = (session.value.workspace && session.value.workspace.currency) || 'USD';
  const kinds = KINDS.filter((k) => k[2].includes(lead.stage));
  const f = useForm({ kind: kinds[0] ? kinds[0][0] : '', reason: '', rating: '', amount: '', note: '' });
  const kind = kinds.some((k) => k[0] === f.values.kind) ? f.values.kind : kinds[0] && kinds[0][0];
  const fitting = reasons.filter((r) => r.active && r.kinds.includes(kind));
  if (!kinds.length) return <p>A lead in stage {label(lead.stage)} takes no more feedback.</p>;
  const onSubmit = (e) => {
    e.preventDefault();
    const v = f.values;
    const local = {};
    const body = { kind };
    if (NEEDS_REASON.includes(kind)) {
      // a reason picked for another kind, no longer shown, is no reason for this one
      if (!fitting.some((r) => r.code === v.reason)) local.reason = 'Choose a reason.';
      else body.reason = v.reason;
    }
    if (v.rating) body.rating = Number(v.rating);
    if (kind === 'won' || (kind === 'lost' && v.amount.trim())) {
      const minor = toMinor(v.amount, currency);
      if (!Number.isFinite(minor)) local.amount = `Give the amount in ${currency}, for example 1200.50.`;
      else {
        body.amount = minor;
        body.currency = currency;
      }
    }
    if (v.note.trim()) body.note = v.note;
    if (Object.keys(local).length) {
      f.setErrors(local);
      return;
    }
    f.submit(async () => {
      const fb = await api(`/v1/leads/${lead.id}/feedback`, { method: 'POST', body });
      onDone(`Feedback recorded: ${label(fb.kind)}${fb.stage_after !== fb.stage_before ? `; the lead is now ${label(fb.stage_after)}` : ''}.`);
    }, ['kind', 'reason', 'rating', 'amount', 'currency', 'note']);
  };
  return (
    <form onSubmit={onSubmit} noValidate class="grid-form" aria-labelledby="fb-title">
      <h2 id="fb-title">Feedback</h2>
      <Banner error={f.banner} />
      <SelectField label="What happened" options={kinds.map((k) => [k[0], k[1]])} {...f.bind('kind')} value={kind} />
      {NEEDS_REASON.includes(kind) && (
        <SelectField label="Reason" options={[['', 'Choose a reason'], ...fitting.map((r) => [r.code, r.label])]} {...f.bind('reason')} />
      )}
      {(kind === 'won' || kind === 'lost') && (
        <TextField
          label={`Amount (${currency})`}
          inputMode="decimal"
          hint={kind === 'won' ? 'Required: the value of the deal.' : 'Optional.'}
          {...f.bind('amount')}
        />
      )}
      <SelectField
        label="Rating of the lead"
        options={[['', 'No rating'], ['1', '1 (poor)'], ['2', '2'], ['3', '3'], ['4', '4'], ['5', '5 (excellent)']]}
        {...f.bind('rating')}
      />
      <TextField label="Note" type="textarea" rows={3} {...f.bind('note')} />
      <div class="actions">
        <button type="submit" disabled={f.busy}>
          Record feedback
        </button>
      </div>
    </form>
  );
}

function MoveForm({ lead, onDone }) {
  const moves = allowedMoves(lead.stage);
  const f = useForm({ to: moves[0] || '', reason: '' });
  if (!moves.length) return null;
  const to = moves.includes(f.values.to) ? f.values.to : moves[0];
  const onSubmit = (e) => {
    e.preventDefault();
    f.submit(async (v) => {
      const body = { to };
      if (v.reason.trim()) body.reason = v.reason.trim();
      await api(`/v1/leads/${lead.id}/transitions`, { method: 'POST', body, headers: { 'If-Match': `"${lead.version}"` } });
      onDone(`Moved to ${label(to)}.`);
    }, ['to', 'reason']);
  };
  return (
    <form onSubmit={onSubmit} noValidate class="grid-form" aria-labelledby="move-title">
      <h2 id="move-title">Move the stage</h2>
      <Banner error={f.banner} />
      <SelectField label="New stage" options={moves.map((s) => [s, label(s)])} {...f.bind('to')} value={to} />
      <TextField label={to === 'disqualified' ? 'Why it moves (required)' : 'Why it moves (optional)'} {...f.bind('reason')} />
      <div class="actions">
        <button type="submit" disabled={f.busy}>
          Move
        </button>
      </div>
    </form>
  );
}

function Entry({ e, camps, people, reasons, currency }) {
  const who = (by) => (by && by.user_id ? personName(people, by.user_id) : 'an API key');
  switch (e.type) {
    case 'touch': {
      const c = camps.find((x) => x.id === e.touch.campaign_id);
      return (
        <>
          {label(e.touch.kind)} · campaign {c ? <Link href={`${BASE}/campaigns/${c.id}`}>{c.name}</Link> : e.touch.campaign_id}
        </>
      );
    }
    case 'stage_change':
      return (
        <>
          Stage {e.stage_change.from ? `${label(e.stage_change.from)} → ` : 'set to '}
          <strong>{label(e.stage_change.to)}</strong>
          {e.stage_change.reason && <> · “{e.stage_change.reason}”</>} · by {who(e.stage_change.changed_by)}
        </>
      );
    case 'feedback': {
      const fb = e.feedback;
      const r = fb.reason && (reasons.find((x) => x.code === fb.reason) || { label: fb.reason });
      return (
        <>
          Feedback: <strong>{label(fb.kind)}</strong>
          {r && <> · {r.label}</>}
          {fb.rating && <> · rated {fb.rating}/5</>}
          {fb.amount != null && <> · {money(fb.amount, fb.currency || currency)}</>}
          {fb.note && <> · “{fb.note}”</>} · by {who(fb.author)}
        </>
      );
    }
    case 'field_edit':
      return <>Edited {e.field_edit.changes.map((c) => label(c.field)).join(', ')}</>;
    case 'merge':
      return <>Merged with another lead</>;
    case 'interaction': {
      const ia = e.interaction;
      const by = ia.user_id ? personName(people, ia.user_id) : ia.actor_name;
      return (
        <>
          {label(ia.kind)}
          {ia.direction && <> ({ia.direction})</>}
          {ia.outcome && <> · {label(ia.outcome)}</>}
          {ia.subject && <> · “{ia.subject}”</>}
          {by && <> · by {by}</>}
        </>
      );
    }
    default:
      return <>{label(e.type)}</>;
  }
}

export function LeadPage({ id }) {
  const [people, setPeople] = useState([]);
  const [camps, setCamps] = useState([]);
  const [reasons, setReasons] = useState([]);
  const [notice, setNotice] = useState(null);
  const data = useAsync(async () => {
    const [lead, timeline] = await Promise.all([
      api(`/v1/leads/${encodeURIComponent(id)}`),
      listAll(`/v1/leads/${encodeURIComponent(id)}/timeline`, { sort: '-at' }, 500),
    ]);
    return { lead, timeline };
  }, [id]);
  useEffect(() => {
    loadUsers().then(setPeople, () => {});
    loadCampaigns().then(setCamps, () => {});
    loadReasons().then(setReasons, () => {});
  }, []);
  const d = data.data;
  const onDone = (msg) => {
    setNotice(msg);
    data.reload();
  };
  useEffect(() => {
    document.title = `${d ? leadName(d.lead) : 'Lead'} · Leadloop`;
  }, [d]);
  const currency = (session.value.workspace && session.value.workspace.currency) || 'USD';
  if (data.error)
    return (
      <section>
        <h1>Lead</h1>
        <Banner error={data.error} />
        <p>
          <Link href={`${BASE}/leads`}>Back to the leads</Link>
        </p>
      </section>
    );
  if (!d) return <Loading what="the lead" />;
  const l = d.lead;
  const campName = (cid) => (cid ? (camps.find((c) => c.id === cid) || {}).name || cid : '–');
  const fields = [
    ['Email', l.email],
    ['Company', l.company || '–'],
    ['Title', l.title || '–'],
    ['Phone', l.phone || '–'],
    ['Country', l.country || '–'],
    ['Source', label(l.source)],
    ['Stage', label(l.stage)],
    ['Score', l.score == null ? '–' : l.score],
    ['Owner', personName(people, l.owner_id)],
    ['First campaign', campName(l.first_campaign_id)],
    ['Latest campaign', campName(l.latest_campaign_id)],
    ['Created', dateTime(l.created_at)],
    ['In this stage since', dateTime(l.stage_changed_at)],
  ];
  if (l.recycle_on) fields.push(['Due back to marketing', l.recycle_on]);
  return (
    <section class="lead">
      <p class="crumbs">
        <Link href={`${BASE}/leads`}>Leads</Link> /
      </p>
      <h1>{leadName(l)}</h1>
      <p class="lede">
        Stage: <strong class={`stage stage-${l.stage}`}>{label(l.stage)}</strong>
      </p>
      <p class={notice ? 'banner banner-ok' : 'sr-only'} role="status">
        {notice}
      </p>
      <div class="lead-grid">
        <div>
          <h2>Details</h2>
          <dl class="fields">
            {fields.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          {can('feedback') && (
            <div class="panel">
              <FeedbackForm key={`${l.id}-${l.version}-fb`} lead={l} reasons={reasons} onDone={onDone} />
            </div>
          )}
          {can('leads') && allowedMoves(l.stage).length > 0 && (
            <div class="panel">
              <MoveForm key={`${l.id}-${l.version}-mv`} lead={l} onDone={onDone} />
            </div>
          )}
        </div>
        <div>
          <h2>Timeline</h2>
          {!d.timeline.length && <p>Nothing has happened to this lead yet.</p>}
          <ol class="timeline">
            {d.timeline.map((e, i) => (
              <li key={i}>
                <time dateTime={e.at}>{dateTime(e.at)}</time>
                <span>
                  <Entry e={e} camps={camps} people={people} reasons={reasons} currency={currency} />
                </span>
              </li>
            ))}
          </ol>
        </div>
      </div>
    </section>
  );
}
