// /app/follow-up: the leads waiting for sales' verdict (GET /v1/leads?awaiting_feedback=true:
// handed to sales, no feedback yet, as the report counts them), per owner, oldest
// first, those past the service level marked overdue; with each owner's figures from the
// follow-up report (GET /v1/reports/follow-up).
import { useEffect, useState } from 'preact/hooks';
import { api, listAll, url } from '../api.js';
import { personName, users as loadUsers } from '../data.js';
import { ReportFilters } from '../filters.jsx';
import { BASE, Link, useQuery } from '../router.js';
import { Banner, Loading, SortableTable, dateTime, duration, num, useAsync } from '../ui.jsx';

const leadName = (l) => [l.first_name, l.last_name].filter(Boolean).join(' ') || l.email;

export function FollowUp() {
  const [q, setQuery] = useQuery();
  const [people, setPeople] = useState([]);
  const data = useAsync(async () => {
    const [report, waiting] = await Promise.all([
      api(url('/v1/reports/follow-up', { from: q.from, to: q.to })),
      listAll('/v1/leads', { awaiting_feedback: 'true' }, 2000),
    ]);
    return { report, waiting };
  }, [q.from, q.to]);
  useEffect(() => {
    document.title = 'Follow-up · Leadloop';
    loadUsers().then(setPeople, () => {});
  }, []);
  const d = data.data;
  const sla = d ? d.report.sla_hours : 24;
  const now = Date.now();
  const groups = new Map();
  if (d) {
    for (const l of d.waiting) {
      const k = l.owner_id || '';
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(l);
    }
    for (const list of groups.values()) list.sort((a, b) => a.stage_changed_at.localeCompare(b.stage_changed_at));
  }
  const owners = [...groups.keys()].sort((a, b) => (a === '' ? 1 : b === '' ? -1 : personName(people, a).localeCompare(personName(people, b))));
  return (
    <section>
      <h1>Follow-up board</h1>
      <p class="lede">
        Leads handed to sales that have no feedback yet, per owner, the oldest first. A lead waiting longer than{' '}
        {sla} hours is overdue.
      </p>
      <ReportFilters q={q} setQuery={setQuery} attribution={false} />
      <Banner error={data.error} />
      {data.loading && !d && <Loading what="the follow-up board" />}
      {d && (
        <>
          <SortableTable
            caption="Follow-up per owner (the window's leads)"
            columns={[
              { key: 'owner', label: 'Owner', value: (r) => personName(people, r.owner_id), render: (r) => personName(people, r.owner_id) },
              { key: 'handed_to_sales', label: 'Handed to sales', numeric: true, render: (r) => num(r.handed_to_sales) },
              { key: 'followed_up', label: 'Followed up', numeric: true, render: (r) => num(r.followed_up) },
              { key: 'waiting', label: 'Waiting', numeric: true, render: (r) => num(r.waiting) },
              { key: 'overdue', label: 'Overdue', numeric: true, render: (r) => (r.overdue ? <strong class="overdue">{num(r.overdue)}</strong> : '0') },
              { key: 'follow_up_p50_seconds', label: 'Median time to follow up', numeric: true, render: (r) => duration(r.follow_up_p50_seconds) },
              { key: 'follow_up_p90_seconds', label: '90th percentile', numeric: true, render: (r) => duration(r.follow_up_p90_seconds) },
            ]}
            rows={d.report.data}
            sort={q.sort}
            onSort={(s) => setQuery({ sort: s })}
          />
          <h2>Waiting for a verdict</h2>
          {!owners.length && <p>No lead is waiting for sales' verdict.</p>}
          {owners.map((o) => (
            <section key={o} class="board-group" aria-labelledby={`owner-${o || 'none'}`}>
              <h3 id={`owner-${o || 'none'}`}>
                {personName(people, o || null)} <span class="count">({groups.get(o).length})</span>
              </h3>
              <ol class="board">
                {groups.get(o).map((l) => {
                  const waited = (now - Date.parse(l.stage_changed_at)) / 1000;
                  const overdue = waited > sla * 3600;
                  return (
                    <li key={l.id} class={overdue ? 'overdue-item' : undefined}>
                      <Link href={`${BASE}/leads/${l.id}`}>{leadName(l)}</Link>
                      {l.company && <span> · {l.company}</span>}
                      <span class="hint">
                        {' '}
                        · waiting {duration(waited)} (since {dateTime(l.stage_changed_at)})
                      </span>
                      {overdue && <span class="badge badge-overdue">Overdue</span>}
                    </li>
                  );
                })}
              </ol>
            </section>
          ))}
        </>
      )}
    </section>
  );
}
