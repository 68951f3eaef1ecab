/**
 * The status page: one self-contained HTML document (no external assets: the page must
 * work on an air-gapped box) that renders /api/status and refreshes itself every 5 s.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel — SLO status</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
  .muted { color: #5b6470; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde1e6; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #eef0f3; font-size: 14px; }
  th { background: #f0f2f5; font-weight: 600; }
  .bar { width: 160px; height: 10px; background: #e6e9ee; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > span { display: block; height: 100%; }
  .ok { color: #13795b; } .bad { color: #b42318; font-weight: 600; }
  .alert { background: #fdecea; border: 1px solid #f5c2bd; padding: 10px 12px; border-radius: 6px; margin: 6px 0; }
  .none { background: #e8f5ef; border: 1px solid #bfe3d2; padding: 10px 12px; border-radius: 6px; }
</style>
</head>
<body>
<h1>Keel — SLO status</h1>
<div class="muted" id="updated">loading…</div>
<h2>Alerts</h2>
<div id="alerts"></div>
<h2>Error budgets</h2>
<table id="slos"><thead><tr><th>SLO</th><th>Objective</th><th>SLI</th><th>Events</th><th>Budget remaining</th><th>Burn rates (long / short)</th></tr></thead><tbody></tbody></table>
<h2>Routing weights <span class="muted" id="wversion"></span></h2>
<table id="weights"><thead><tr><th>Target (route | provider | model)</th><th>Weight multiplier</th><th>Canary share</th></tr></thead><tbody></tbody></table>
<h2>Providers (last 5 minutes)</h2>
<table id="providers"><thead><tr><th>Provider</th><th>Model</th><th>Attempts</th><th>Success</th><th>p95 TTFT</th></tr></thead><tbody></tbody></table>
<h2>Health checks (last probe per target, last hour)</h2>
<table id="probes"><thead><tr><th>Provider</th><th>Model</th><th>Last result</th><th>At</th><th>Probes</th><th>Success</th></tr></thead><tbody></tbody></table>
<script>
const pct = (x, d) => (x * 100).toFixed(d) + '%';
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function render(v) {
  document.getElementById('updated').textContent = 'Evaluated ' + v.at + ' · config version ' + v.configVersion + ' · ' + (v.leader ? 'leader ' : 'follower of ') + (v.leaderId || '?') + ' · refreshes every 5 s';
  document.getElementById('alerts').innerHTML = v.firing.length === 0
    ? '<div class="none">No alerts firing.</div>'
    : v.firing.map((f) => '<div class="alert"><b>' + esc(f.slo) + '</b> — ' + esc(f.kind) + ' since ' + esc(f.since) + '</div>').join('');
  document.querySelector('#slos tbody').innerHTML = v.slos.map((s) => {
    const left = Math.max(0, Math.min(1, s.budgetRemaining));
    const colour = left > 0.5 ? '#2e9d6e' : left > 0.2 ? '#d99a06' : '#c8372d';
    const burns = s.burn.map((b) => '<span class="' + (b.breaching ? 'bad' : 'ok') + '">' + esc(b.pair) + ' ×' + b.long.toFixed(1) + ' / ×' + b.short.toFixed(1) + '</span>').join('<br>');
    return '<tr><td>' + esc(s.name) + '</td><td>' + s.objective + '% / ' + esc(s.window) + '</td><td>' + pct(s.sli, 3) + '</td><td>' + s.events +
      '</td><td><span class="bar"><span style="width:' + (left * 100).toFixed(1) + '%;background:' + colour + '"></span></span> <span class="budget">' + pct(s.budgetRemaining, 1) + '</span></td><td>' + burns + '</td></tr>';
  }).join('');
  document.getElementById('wversion').textContent = 'version ' + v.weights.version;
  document.querySelector('#weights tbody').innerHTML = v.weights.targets.length === 0
    ? '<tr><td colspan="3" class="muted">Static weights: no adaptive route or canary has moved yet.</td></tr>'
    : v.weights.targets.map((w) => '<tr><td>' + esc(w.target) + '</td><td>' + (w.multiplier === null ? '1' : w.multiplier.toFixed(2)) + '</td><td>' + (w.canaryShare === null ? '—' : w.canaryShare + '%') + '</td></tr>').join('');
  document.querySelector('#providers tbody').innerHTML = v.providers.length === 0
    ? '<tr><td colspan="5" class="muted">No upstream attempts in the last 5 minutes.</td></tr>'
    : v.providers.map((p) =>
    '<tr><td>' + esc(p.provider) + '</td><td>' + esc(p.model) + '</td><td>' + p.attempts + '</td><td>' + pct(p.successRate, 1) + '</td><td>' + (p.p95TtftMs === null ? '—' : p.p95TtftMs + ' ms') + '</td></tr>').join('');
  const probes = v.probes || [];
  document.querySelector('#probes tbody').innerHTML = probes.length === 0
    ? '<tr><td colspan="6" class="muted">No health check in the last hour (none configured, or every probed target had traffic).</td></tr>'
    : probes.map((p) =>
    '<tr><td>' + esc(p.provider) + '</td><td>' + esc(p.model) + '</td><td class="' + (p.outcome === 'failed' ? 'bad' : 'ok') + '">' + esc(p.outcome) + (p.errorClass ? ' (' + esc(p.errorClass) + ')' : '') +
      '</td><td>' + esc(p.at) + '</td><td>' + p.probes + '</td><td>' + (p.successRatio === null ? '—' : pct(p.successRatio, 1)) + '</td></tr>').join('');
}
async function refresh() {
  try { render(await (await fetch('api/status')).json()); } catch (e) { document.getElementById('updated').textContent = 'Cannot reach the SLO engine: ' + e; }
}
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
`;
