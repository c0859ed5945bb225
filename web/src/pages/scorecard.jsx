// /app/scorecard: the campaigns report (GET /v1/reports/campaigns) as a sortable table and
// charts, for a window and an attribution model given in the URL.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, url } from '../api.js';
import { BarChart } from '../chart.jsx';
import { reasons as loadReasons } from '../data.js';
import { CsvButton, ReportFilters } from '../filters.jsx';
import { BASE, Link, useQuery } from '../router.js';
import { Banner, Loading, SortableTable, label, money, num, pct, useAsync } from '../ui.jsx';

const CHART_ROWS = 12;

export function Scorecard() {
  const [q, setQuery] = useQuery();
  const params = { from: q.from, to: q.to, attribution: q.attribution };
  const t0 = useRef(0);
  const [reasonList, setReasonList] = useState([]);
  const report = useAsync(
    () =>
      api(url('/v1/reports/campaigns', params)).then((d) => {
        t0.current = performance.now();
        return d;
      }),
    [q.from, q.to, q.attribution],
  );
  useEffect(() => {
    document.title = 'Scorecard · Leadloop';
    loadReasons().then(setReasonList, () => {});
  }, []);
  // How long the report took to draw once its data arrived (table and charts): the
  // browser test reads it from the table.
  useEffect(() => {
    if (report.data && t0.current) {
      const ms = performance.now() - t0.current;
      t0.current = 0;
      window.__llScorecardRenderMs = ms;
      const t = document.getElementById('scorecard-table');
      if (t) t.dataset.renderMs = ms.toFixed(1);
    }
  }, [report.data]);

  const d = report.data;
  const cur = d && d.currency;
  const rows = (d && d.data) || [];
  const columns = [
    {
      key: 'name',
      label: 'Campaign',
      render: (r) => <Link href={url(`${BASE}/leads`, { campaign_id: r.campaign_id })}>{r.name}</Link>,
    },
    { key: 'channel', label: 'Channel', render: (r) => label(r.channel) },
    { key: 'status', label: 'Status', render: (r) => label(r.status) },
    { key: 'leads', label: 'Leads', numeric: true, render: (r) => num(r.leads) },
    { key: 'handed_to_sales', label: 'Handed to sales', numeric: true, render: (r) => num(r.handed_to_sales) },
    { key: 'accepted', label: 'Accepted', numeric: true, render: (r) => num(r.accepted) },
    { key: 'rejected', label: 'Rejected', numeric: true, render: (r) => num(r.rejected) },
    { key: 'acceptance_rate', label: 'Acceptance rate', numeric: true, render: (r) => pct(r.acceptance_rate) },
    { key: 'won', label: 'Won', numeric: true, render: (r) => num(r.won) },
    { key: 'won_amount', label: 'Won amount', numeric: true, render: (r) => money(r.won_amount, cur) },
    { key: 'cost', label: 'Cost', numeric: true, render: (r) => money(r.cost, cur) },
    {
      key: 'cost_per_accepted_lead',
      label: 'Cost per accepted lead',
      numeric: true,
      render: (r) => money(r.cost_per_accepted_lead, cur),
    },
    { key: 'roi', label: 'ROI', numeric: true, render: (r) => pct(r.roi) },
  ];

  // The charts show the campaigns with the most leads; the table has them all.
  const top = [...rows].sort((a, b) => b.leads - a.leads || a.name.localeCompare(b.name)).slice(0, CHART_ROWS);
  const note = rows.length > CHART_ROWS ? `(the ${CHART_ROWS} campaigns with the most leads)` : undefined;
  const reasonTotals = new Map();
  for (const r of rows) {
    for (const [code, n] of Object.entries(r.rejection_reasons || {})) reasonTotals.set(code, (reasonTotals.get(code) || 0) + n);
  }
  const reasonLabel = (code) => (reasonList.find((x) => x.code === code) || {}).label || label(code);
  const reasonItems = [...reasonTotals.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => ({ label: reasonLabel(code), value: n }));

  return (
    <section>
      <h1>Campaign scorecard</h1>
      <p class="lede">What became of each campaign's leads once sales had them, what it cost and what it returned.</p>
      <ReportFilters q={q} setQuery={setQuery}>
        <CsvButton path={url('/v1/reports/campaigns', params)} filename="campaigns.csv" disabled={!d} />
      </ReportFilters>
      {report.error && <Banner error={report.error} />}
      {report.loading && !d && <Loading what="the report" />}
      {d && (
        <>
          <p class="meta" role="status">
            {rows.length} campaigns · {d.from || 'all time'} to {d.to || 'today'} ·{' '}
            {(d.attribution || 'first_touch').replace('_', ' ')} attribution · amounts in {cur}
          </p>
          <SortableTable
            caption="Campaigns and what became of their leads"
            columns={columns}
            rows={rows}
            sort={q.sort || 'name'}
            onSort={(s) => setQuery({ sort: s === 'name' ? '' : s })}
            rowKey={(r) => r.campaign_id}
            tableProps={{ id: 'scorecard-table' }}
            tall={rows.length > 15}
          />
          <div class="charts">
            <BarChart title="Acceptance rate" note={note} items={top.map((r) => ({ label: r.name, value: r.acceptance_rate }))} format={pct} />
            <BarChart
              title="Cost per accepted lead"
              note={note}
              items={top.map((r) => ({ label: r.name, value: r.cost_per_accepted_lead }))}
              format={(v) => money(v, cur)}
            />
            <BarChart title="ROI" note={note} items={top.map((r) => ({ label: r.name, value: r.roi }))} format={pct} />
            <BarChart title="Rejection reasons" note="(all campaigns)" items={reasonItems} format={num} integer color="#7a4b00" />
          </div>
        </>
      )}
    </section>
  );
}
