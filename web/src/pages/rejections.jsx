// /app/rejections: why sales rejected leads, by reason and by campaign, source or owner
// (GET /v1/reports/rejections).
import { useEffect, useState } from 'preact/hooks';
import { api, url } from '../api.js';
import { BarChart } from '../chart.jsx';
import { campaigns as loadCampaigns, personName, users as loadUsers } from '../data.js';
import { CsvButton, ReportFilters } from '../filters.jsx';
import { useQuery } from '../router.js';
import { Banner, Loading, SelectField, SortableTable, label, num, pct, useAsync } from '../ui.jsx';

const GROUPS = [
  ['campaign', 'Campaign'],
  ['source', 'Source'],
  ['owner', 'Owner'],
];

export function Rejections() {
  const [q, setQuery] = useQuery();
  const group = q.group_by || 'campaign';
  const [camps, setCamps] = useState([]);
  const [people, setPeople] = useState([]);
  const params = { from: q.from, to: q.to, group_by: group, attribution: group === 'campaign' ? q.attribution : undefined };
  const report = useAsync(() => api(url('/v1/reports/rejections', params)), [q.from, q.to, group, q.attribution]);
  useEffect(() => {
    document.title = 'Rejections · Leadloop';
    loadCampaigns().then(setCamps, () => {});
    loadUsers().then(setPeople, () => {});
  }, []);
  const rows = (report.data && report.data.data) || [];
  const groupName = (r) => {
    if (group === 'campaign') return (camps.find((c) => c.id === r.campaign_id) || {}).name || r.campaign_id;
    if (group === 'source') return label(r.source);
    return personName(people, r.owner_id);
  };
  const byReason = new Map();
  const byGroup = new Map();
  for (const r of rows) {
    byReason.set(r.label, (byReason.get(r.label) || 0) + r.rejected);
    const g = groupName(r);
    byGroup.set(g, (byGroup.get(g) || 0) + r.rejected);
  }
  const groupLabel = GROUPS.find((g) => g[0] === group)[1];
  return (
    <section>
      <h1>Rejections</h1>
      <p class="lede">Why sales rejected leads: each reason, by {groupLabel.toLowerCase()}.</p>
      <ReportFilters q={q} setQuery={setQuery} attribution={group === 'campaign'}>
        <SelectField
          label="Group by"
          options={GROUPS}
          value={group}
          onInput={(e) => setQuery({ group_by: e.currentTarget.value === 'campaign' ? '' : e.currentTarget.value, attribution: e.currentTarget.value === 'campaign' ? q.attribution : '' })}
        />
        <CsvButton path={url('/v1/reports/rejections', params)} filename="rejections.csv" />
      </ReportFilters>
      <Banner error={report.error} />
      {report.loading && !report.data && <Loading what="the rejections" />}
      {report.data && !rows.length && <p>No rejections in this window.</p>}
      {rows.length > 0 && (
        <>
          <SortableTable
            caption={`Rejections by ${groupLabel.toLowerCase()} and reason`}
            columns={[
              { key: 'group', label: groupLabel, value: groupName, render: groupName },
              { key: 'label', label: 'Reason' },
              { key: 'rejected', label: 'Rejected', numeric: true, render: (r) => num(r.rejected) },
              { key: 'share', label: `Share of the ${groupLabel.toLowerCase()}'s rejections`, numeric: true, render: (r) => pct(r.share) },
            ]}
            rows={rows}
            sort={q.sort}
            onSort={(s) => setQuery({ sort: s })}
          />
          <div class="charts">
            <BarChart title="Rejections by reason" items={[...byReason].map(([l, v]) => ({ label: l, value: v }))} format={num} integer color="#7a4b00" />
            <BarChart title={`Rejections by ${groupLabel.toLowerCase()}`} items={[...byGroup].map(([l, v]) => ({ label: l, value: v }))} format={num} integer />
          </div>
        </>
      )}
    </section>
  );
}
