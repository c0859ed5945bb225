// /app/funnel: how many of the window's leads reached each stage, and the conversion from
// one stage to the next (GET /v1/reports/funnel), narrowed by campaign, source and owner.
import { useEffect, useState } from 'preact/hooks';
import { api, url } from '../api.js';
import { BarChart } from '../chart.jsx';
import { campaigns as loadCampaigns, users as loadUsers } from '../data.js';
import { CsvButton, ReportFilters } from '../filters.jsx';
import { useQuery } from '../router.js';
import { Banner, Loading, SelectField, SortableTable, SOURCES, label, num, pct, useAsync } from '../ui.jsx';

export function Funnel() {
  const [q, setQuery] = useQuery();
  const [camps, setCamps] = useState([]);
  const [people, setPeople] = useState([]);
  const params = { from: q.from, to: q.to, attribution: q.campaign_id ? q.attribution : undefined, campaign_id: q.campaign_id, source: q.source, owner_id: q.owner_id };
  const report = useAsync(() => api(url('/v1/reports/funnel', params)), [q.from, q.to, q.attribution, q.campaign_id, q.source, q.owner_id]);
  useEffect(() => {
    document.title = 'Funnel · Leadloop';
    loadCampaigns().then(setCamps, () => {});
    loadUsers().then(setPeople, () => {});
  }, []);
  const rows = (report.data && report.data.data) || [];
  return (
    <section>
      <h1>Funnel</h1>
      <p class="lede">How many of the window's leads reached each stage, and how many of one stage went on to the next.</p>
      <ReportFilters q={q} setQuery={setQuery} attribution={!!q.campaign_id}>
        <SelectField
          label="Campaign"
          options={[['', 'All campaigns'], ...camps.map((c) => [c.id, c.name])]}
          value={q.campaign_id || ''}
          onInput={(e) => setQuery({ campaign_id: e.currentTarget.value })}
        />
        <SelectField
          label="Source"
          options={[['', 'All sources'], ...SOURCES.map((s) => [s, label(s)])]}
          value={q.source || ''}
          onInput={(e) => setQuery({ source: e.currentTarget.value })}
        />
        <SelectField
          label="Owner"
          options={[['', 'Anyone'], ...people.map((u) => [u.id, u.name])]}
          value={q.owner_id || ''}
          onInput={(e) => setQuery({ owner_id: e.currentTarget.value })}
        />
        <CsvButton path={url('/v1/reports/funnel', params)} filename="funnel.csv" />
      </ReportFilters>
      <Banner error={report.error} />
      {report.loading && !report.data && <Loading what="the funnel" />}
      {report.data && (
        <>
          <SortableTable
            caption="Leads per stage and conversion from the stage before"
            columns={[
              { key: 'stage', label: 'Stage', render: (r) => label(r.stage), sortable: false },
              { key: 'leads', label: 'Leads that reached it', numeric: true, render: (r) => num(r.leads), sortable: false },
              { key: 'conversion_from_previous', label: 'Conversion from the stage before', numeric: true, render: (r) => pct(r.conversion_from_previous), sortable: false },
              { key: 'median_days_from_previous', label: 'Median days from the stage before', numeric: true, render: (r) => num(r.median_days_from_previous), sortable: false },
            ]}
            rows={rows}
            rowKey={(r) => r.stage}
          />
          <div class="charts">
            <BarChart title="Leads per stage" items={rows.map((r) => ({ label: label(r.stage), value: r.leads }))} format={num} integer />
            <BarChart
              title="Conversion from the stage before"
              items={rows.slice(1).map((r) => ({ label: label(r.stage), value: r.conversion_from_previous }))}
              format={pct}
            />
          </div>
        </>
      )}
    </section>
  );
}
