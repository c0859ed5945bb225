// A horizontal bar chart drawn by uPlot on a canvas, with its figures as a table for those
// who cannot see the canvas (screen readers, print, copy and paste).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const BAR = 26; // pixels per bar

// items: [{label, value}] (value null: left out); format(value) for the table and ticks.
export function BarChart({ title, items, format, note, integer = false, color = '#1d5fa8', negColor = '#b3261e' }) {
  const box = useRef(null);
  const shown = items.filter((i) => i.value != null && Number.isFinite(i.value));
  useEffect(() => {
    const el = box.current;
    if (!el || !shown.length) return undefined;
    const names = shown.map((i) => i.label);
    const xs = shown.map((_, i) => i);
    const ys = shown.map((i) => i.value);
    const width = Math.max(280, el.clientWidth);
    const labelWidth = Math.min(180, Math.round(width * 0.38));
    // About 7.5 pixels a character at 12 px: cut longer names so that none runs off the left.
    const fit = Math.max(8, Math.floor((labelWidth - 24) / 7.5));
    const short = (s) => (s.length > fit ? `${s.slice(0, fit - 1)}…` : s);
    const opts = {
      width,
      height: shown.length * BAR + 50,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      scales: {
        // Bars top to bottom in the order given.
        x: { time: false, ori: 1, dir: -1, range: [-0.5, shown.length - 0.5] },
        y: {
          ori: 0,
          range: (u, min, max) => {
            const lo = Math.min(0, min);
            const hi = Math.max(0, max);
            return hi === lo ? [lo, lo + 1] : [lo, hi + (hi - lo) * 0.05];
          },
        },
      },
      axes: [
        {
          scale: 'x',
          side: 3,
          size: labelWidth,
          gap: 6,
          grid: { show: false },
          splits: () => xs,
          values: (u, splits) => splits.map((i) => short(names[i] ?? '')),
          stroke: '#1f2328',
          font: '12px system-ui, sans-serif',
        },
        {
          scale: 'y',
          side: 2,
          size: 36,
          space: 90,
          ...(integer ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] } : {}),
          stroke: '#1f2328',
          font: '12px system-ui, sans-serif',
          values: (u, splits) => splits.map((v) => format(v)),
          grid: { stroke: '#d0d7de', width: 1 },
        },
      ],
      series: [
        {},
        {
          label: title,
          fill: (u) => color,
          stroke: color,
          width: 0,
          fillTo: 0,
          points: { show: false },
          paths: uPlot.paths.bars({ size: [0.7, 22], align: 0 }),
        },
      ],
    };
    // Negative bars (a loss) in another colour: draw them as a second series.
    if (ys.some((v) => v < 0)) {
      opts.series.push({ ...opts.series[1], fill: negColor, stroke: negColor, label: `${title} (negative)` });
    }
    const data = [xs, ys.map((v) => (v >= 0 ? v : null))];
    if (opts.series.length === 3) data.push(ys.map((v) => (v < 0 ? v : null)));
    const plot = new uPlot(opts, data, el);
    const canvas = el.querySelector('canvas');
    if (canvas) canvas.setAttribute('aria-hidden', 'true');
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: opts.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [JSON.stringify(shown), title]);
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong>
        {note && <span class="hint"> {note}</span>}
      </figcaption>
      {shown.length ? (
        <div ref={box} class="chart-canvas" role="img" aria-label={`Bar chart of ${title}; the same figures are in the table below it.`} />
      ) : (
        <p class="hint">No figures to draw yet.</p>
      )}
      {shown.length > 0 && (
        <details>
          <summary>{title}: the figures as a table</summary>
          <table class="compact">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  {title}
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((i, n) => (
                <tr key={n}>
                  <th scope="row">{i.label}</th>
                  <td class="num">{format(i.value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </figure>
  );
}
