/* Supervisor dashboard (GET /api/dashboard, /api/dashboard.csv; docs/agent-api.md).
 *
 * A page of its own (/dashboard) for supervisors: a date range, the key figures, charts drawn
 * by Chart.js (served from /static/vendor, nothing from a CDN) and a CSV download of the same
 * figures. Texts come from i18n.js and go in with textContent only. Days are the browser's
 * calendar days: the page sends its time zone.
 */
(function () {
  'use strict';

  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var lang = I18N.lang;
  var DAY_MS = 86400000;
  var COLORS = ['#1d4ed8', '#067647', '#b54708', '#b42318', '#7c3aed', '#0e7490', '#a16207', '#475569'];
  var charts = {};
  var teamNames = {};
  var tz = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || 'UTC';

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function api(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store',
      headers: { 'Accept': 'application/json', 'Accept-Language': lang } })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (res.ok) return data;
          var err = new Error((data.error && data.error.message) || t('error.http', { status: res.status }));
          err.status = res.status;
          throw err;
        });
      });
  }

  /* ---- formatting ---- */

  function number(n, digits) {
    if (n == null) return '—';
    return new Intl.NumberFormat(lang, { maximumFractionDigits: digits == null ? 1 : digits }).format(n);
  }

  function percent(r) { return r == null ? '—' : number(r * 100, 1) + ' %'; }

  function duration(seconds) {
    if (seconds == null) return '—';
    var s = Math.round(seconds);
    if (s < 60) return t('dash.seconds', { s: s });
    var m = Math.floor(s / 60);
    if (m < 60) return t('dash.minutes', { m: m, s: ('0' + (s % 60)).slice(-2) });
    return t('dash.hours', { h: Math.floor(m / 60), m: ('0' + (m % 60)).slice(-2) });
  }

  function label(prefix, value) {
    var key = prefix + '.' + (value == null || value === '' ? 'none' : value);
    return I18N.has(key) ? t(key) : (value || '—');
  }

  /* A team's name from handoff/teams.yml in the page's language, else the id or "Bot". */
  function teamLabel(id) {
    var team = teamNames[id];
    return team ? (team[lang] || team.en || id) : label('dash.teamName', id);
  }

  function isoDay(date) {
    return date.getFullYear() + '-' + ('0' + (date.getMonth() + 1)).slice(-2) + '-' +
      ('0' + date.getDate()).slice(-2);
  }

  /* ---- figures ---- */

  function kpi(name, value, detail) {
    return el('div', { class: 'kpi', 'data-testid': 'kpi-' + name }, [
      el('div', { class: 'kpi-label', text: t('dash.kpi.' + name) }),
      el('div', { class: 'kpi-value', 'data-testid': 'kpi-' + name + '-value', text: value }),
      el('div', { class: 'kpi-detail muted small', text: detail || '' })
    ]);
  }

  function renderKpis(f) {
    var box = $('kpis');
    while (box.children.length > 1) box.removeChild(box.lastChild);
    var c = f.conversations, w = f.first_reply_wait, h = f.handling_time, q = f.queue;
    var sat = f.satisfaction;
    box.appendChild(kpi('conversations', number(c.total, 0), t('dash.detail.contained', { n: c.contained })));
    box.appendChild(kpi('containment', percent(c.containment), t('dash.detail.containment')));
    box.appendChild(kpi('handoffRate', percent(f.handoffs.rate), t('dash.detail.handoffs', { n: f.handoffs.total })));
    var all = f.waited;
    box.appendChild(kpi('waited', duration(all.median), t('dash.detail.waited', { p90: duration(all.p90), n: all.count,
      within: percent(all.answered_within_target.rate) })));
    box.appendChild(kpi('wait', duration(w.median), t('dash.detail.p90', { p90: duration(w.p90), n: w.count })));
    box.appendChild(kpi('handling', duration(h.median), t('dash.detail.p90', { p90: duration(h.p90), n: h.count })));
    box.appendChild(kpi('abandonment', percent(q.abandonment_rate),
      t('dash.detail.abandoned', { n: q.abandoned, cancelled: q.cancelled })));
    box.appendChild(kpi('csat', sat.csat.average == null ? '—' : number(sat.csat.average, 2) + ' / 5',
      t('dash.detail.answers', { n: sat.csat.answers })));
    box.appendChild(kpi('nps', sat.nps.score == null ? '—' : number(sat.nps.score, 1),
      t('dash.detail.answers', { n: sat.nps.answers })));
  }

  /* "Right now": the queue and the agents this minute, refreshed while the page is open. */
  var NOW_EVERY_MS = 10000;
  function renderNow(n) {
    var box = $('now');
    while (box.children.length > 1) box.removeChild(box.lastChild);
    box.appendChild(kpi('waitingNow', number(n.waiting, 0), t('dash.detail.late', { n: n.late })));
    box.appendChild(kpi('longestWait', n.longest_wait == null ? '—' : duration(n.longest_wait), t('dash.detail.longest')));
    box.appendChild(kpi('lateNow', number(n.late, 0), t('dash.detail.lateNow')));
    box.appendChild(kpi('agentsOnline', number(n.agents_online, 0), t('dash.detail.busy', { n: n.agents_busy })));
  }

  var nowTimer = null;
  function loadNow() {
    clearTimeout(nowTimer);
    return api('/api/dashboard/now').then(function (d) {
      renderNow(d.now);
      nowTimer = setTimeout(loadNow, NOW_EVERY_MS);
    }).catch(function () { nowTimer = setTimeout(loadNow, NOW_EVERY_MS); });
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' } } }, config.options || {});
    charts[id] = new window.Chart($(id), config);
    $(id).setAttribute('data-drawn', 'true');
  }

  function bars(id, labels, sets, options) {
    draw(id, { type: 'bar', data: { labels: labels, datasets: sets.map(function (s, i) {
      return Object.assign({ backgroundColor: COLORS[i % COLORS.length] }, s);
    }) }, options: options });
  }

  function lines(id, labels, sets, options) {
    draw(id, { type: 'line', data: { labels: labels, datasets: sets.map(function (s, i) {
      return Object.assign({ borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length],
        spanGaps: true, tension: 0.2 }, s);
    }) }, options: options });
  }

  function renderCharts(f) {
    var days = f.series.map(function (d) { return d.date; });
    lines('chart-time', days, [
      { label: t('dash.series.conversations'), data: f.series.map(function (d) { return d.conversations; }) },
      { label: t('dash.series.handoffs'), data: f.series.map(function (d) { return d.handoffs; }) },
      { label: t('dash.series.abandoned'), data: f.series.map(function (d) { return d.abandoned; }) }
    ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
    var reasons = f.handoffs.by_reason;
    bars('chart-reason', reasons.map(function (r) { return label('reason', r.reason); }),
      [{ label: t('dash.series.handoffs'), data: reasons.map(function (r) { return r.count; }) }],
      { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
    var intents = f.handoffs.by_intent;
    bars('chart-intent', intents.map(function (r) { return label('intent', r.intent); }),
      [{ label: t('dash.rate'), data: intents.map(function (r) { return Math.round((r.rate || 0) * 1000) / 10; }) }],
      { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, max: 100 } } });
    var channels = Object.keys(f.conversations.by_channel);
    bars('chart-channel', channels.map(function (c) { return label('dash.channel', c); }),
      [{ label: t('dash.series.conversations'), data: channels.map(function (c) { return f.conversations.by_channel[c]; }) }],
      { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
    var teams = f.satisfaction.by_team;
    bars('chart-team', teams.map(function (r) { return teamLabel(r.team); }), [
      { label: t('dash.csat'), data: teams.map(function (r) { return r.csat.average; }), yAxisID: 'csat' },
      { label: t('dash.nps'), data: teams.map(function (r) { return r.nps.score; }), yAxisID: 'nps' }
    ], { scales: { csat: { position: 'left', min: 0, max: 5 }, nps: { position: 'right', min: -100, max: 100,
      grid: { drawOnChartArea: false } } } });
    lines('chart-satisfaction', days, [
      { label: t('dash.csat'), data: f.series.map(function (d) { return d.csat; }), yAxisID: 'csat' },
      { label: t('dash.nps'), data: f.series.map(function (d) { return d.nps; }), yAxisID: 'nps' }
    ], { scales: { csat: { position: 'left', min: 0, max: 5 }, nps: { position: 'right', min: -100, max: 100,
      grid: { drawOnChartArea: false } } } });
    var months = f.enps.periods;
    bars('chart-enps', months.map(function (p) { return p.period; }),
      [{ label: t('dash.enps'), data: months.map(function (p) { return p.score; }) }],
      { plugins: { legend: { display: false } }, scales: { y: { min: -100, max: 100 } } });
  }

  function renderTables(f) {
    var teams = $('dash-teams');
    teams.textContent = '';
    f.satisfaction.by_team.forEach(function (r) {
      teams.appendChild(el('tr', { 'data-testid': 'dashboard-team', 'data-team': r.team }, [
        el('td', { text: teamLabel(r.team) }), el('td', { text: number(r.csat.answers, 0) }),
        el('td', { text: number(r.csat.average, 2) }), el('td', { text: number(r.nps.answers, 0) }),
        el('td', { text: number(r.nps.score, 1) })]));
    });
    var intents = $('dash-intents');
    intents.textContent = '';
    f.handoffs.by_intent.forEach(function (r) {
      intents.appendChild(el('tr', { 'data-testid': 'dashboard-intent', 'data-intent': r.intent }, [
        el('td', { title: r.intent, text: label('intent', r.intent) }), el('td', { text: number(r.conversations, 0) }),
        el('td', { text: number(r.handed_off, 0) }), el('td', { text: percent(r.rate) })]));
    });
  }

  /* ---- range ---- */

  function query() {
    return '?from=' + encodeURIComponent($('dash-from').value) + '&to=' +
      encodeURIComponent($('dash-to').value) + '&tz=' + encodeURIComponent(tz);
  }

  function load() {
    var q = query();
    $('dash-csv').setAttribute('href', '/api/dashboard.csv' + q);
    $('dash-status').textContent = t('dash.loading');
    $('dash').setAttribute('data-state', 'loading');
    return api('/api/dashboard' + q).then(function (f) {
      $('dash-error').hidden = true;
      $('dash-body').hidden = false;
      renderKpis(f);
      loadNow();
      renderCharts(f);
      renderTables(f);
      $('dash-status').textContent = t('dash.shown', { from: f.period.from, to: f.period.to });
      $('dash').setAttribute('data-state', 'ready');
      $('dash').setAttribute('data-range', f.period.from + '/' + f.period.to);
    }).catch(function (err) {
      $('dash-status').textContent = '';
      $('dash').setAttribute('data-state', 'error');
      if (err.status === 401 || err.status === 403) return gate(err.status);
      $('dash-error').textContent = err.message;
      $('dash-error').hidden = false;
    });
  }

  function gate(status) {
    $('dash-filter').hidden = true;
    $('dash-body').hidden = true;
    var box = $('dash-gate');
    box.textContent = t(status === 401 ? 'dash.signIn' : 'dash.forbidden') + ' ';
    box.appendChild(el('a', { href: '/', text: t('dash.toConsole') }));
    box.hidden = false;
  }

  function init() {
    I18N.apply(document);
    var today = new Date();
    $('dash-to').value = isoDay(today);
    $('dash-from').value = isoDay(new Date(today.getTime() - 6 * DAY_MS));
    $('dash-filter').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
    api('/api/me').then(function (r) {
      if (!r.agent || r.agent.role !== 'supervisor') return null;
      return api('/api/teams').then(function (found) {
        (found.teams || []).forEach(function (team) { teamNames[team.id] = team.label || {}; });
        return r;
      }, function () { return r; });
    }).then(function (r) {
      if (!r) return gate(403);
      $('me-name').textContent = r.agent.name || r.agent.username;
      $('me-name').hidden = false;
      $('dash-filter').hidden = false;
      return load();
    }).catch(function (err) { gate(err.status === 401 ? 401 : 403); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
