/* The miner page of the console, for supervisors (issue 8): what customers ask that the bot can't
 * answer yet, grouped by meaning and ranked (by volume or by the agents' handling time), with
 * each group's typical phrases, masked examples, the replies agents marked as good answers
 * (candidate FAQ entries), and an export of a group as a draft NLU intent + FAQ answer.
 * Routes: GET /api/miner/groups, GET /api/miner/groups/{group}/export, GET
 * /api/miner/groups/{group}/change (the group as a checked change; docs/agent-api.md).
 *
 * Built on window.HandoffConsole (core.js: C.onFrame, C.onStart, C.open); texts go in with textContent only.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var el = C.el;
  var POLL_MS = 1000;   // while the service analyses, the page asks again every second
  // Days are the supervisor's calendar days: the page sends its IANA time zone (as dashboard.js).
  var TZ = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || 'UTC';

  var view = { shown: false, sort: 'volume', seq: 0, poll: null, data: null, query: null };

  function $(id) { return document.getElementById(id); }

  /* ------------------------------------------------------------------ showing the page */

  function setShown(on) {
    if (on) closeOtherViews();
    view.shown = on;
    $('app-view').classList.toggle('mining', on);
    $('miner-view').hidden = !on;
    var b = $('miner-toggle');
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.textContent = t(on ? 'miner.back' : 'miner.toggle');
    if (!on) stopPolling();
    else if (!view.data) load(false);
  }

  /* Other full-width views of the console (supervision, dashboard…) have a top-bar toggle that
   * controls them (aria-controls, aria-pressed): one view at a time. */
  function closeOtherViews() {
    var open = document.querySelectorAll('.topbar button[aria-controls][aria-pressed="true"]');
    Array.prototype.forEach.call(open, function (b) { if (b.id !== 'miner-toggle') b.click(); });
  }

  /* ------------------------------------------------------------------ loading */

  function query(refresh) {
    var q = ['sort=' + view.sort, 'tz=' + C.enc(TZ)];
    var language = $('miner-language').value;
    var from = $('miner-from').value;
    var to = $('miner-to').value;
    if (language) q.push('language=' + C.enc(language));
    if (from) q.push('from=' + C.enc(from));
    if (to) q.push('to=' + C.enc(to));
    if (refresh) q.push('refresh=1');
    return q.join('&');
  }

  function load(refresh) {
    stopPolling();
    var seq = ++view.seq;
    var q = query(refresh);
    view.query = q.replace(/&refresh=1$/, '');
    if (!view.data || refresh) setStatus('running', t('miner.starting'));
    return C.call('GET', '/api/miner/groups?' + q).then(function (d) {
      if (seq !== view.seq || !view.shown) return;
      showPeriod(d.period);
      if (d.status === 'running') {
        setStatus('running', progressText(d));
        view.poll = setTimeout(function () { load(false); }, POLL_MS);
        return;
      }
      view.data = d;
      render();
    }).catch(function (err) {
      if (seq !== view.seq) return;
      setStatus('error', err.message, err.code);
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  /* Without dates the service analyses its default period (the last 30 days): the empty date
   * fields show the days it chose, so the supervisor sees what the groups come from. */
  function showPeriod(p) {
    if (!p) return;
    [['miner-from', p.from], ['miner-to', p.to]].forEach(function (field) {
      var input = $(field[0]);
      if (!input.value && /^\d{4}-\d{2}-\d{2}$/.test(field[1])) input.value = field[1];
    });
  }

  function stopPolling() {
    clearTimeout(view.poll);
    view.poll = null;
  }

  function progressText(d) {
    if (d.stage === 'analysing' && d.messages != null) return t('miner.analysing', { n: d.messages });
    return t('miner.reading', { n: d.conversations_read || 0 });
  }

  function setStatus(state, text, code) {
    var s = $('miner-status');
    s.setAttribute('data-state', state);
    s.setAttribute('data-code', code || '');
    s.classList.toggle('miner-busy', state === 'running');
    s.textContent = text;
    $('miner-refresh').disabled = state === 'running';
    $('miner-apply').disabled = state === 'running';
  }

  /* ------------------------------------------------------------------ rendering */

  function render() {
    var d = view.data;
    var stamp = C.toDate(d.computed_at);
    setStatus('ready', t('miner.summary', {
      messages: d.messages, conversations: d.conversations_read, groups: d.groups.length,
      ungrouped: d.ungrouped, time: stamp ? stamp.toLocaleTimeString(I18N.lang, { hour: '2-digit', minute: '2-digit' }) : '' }));
    $('miner-truncated').hidden = !d.truncated;
    var list = $('miner-groups');
    C.clear(list);
    $('miner-empty').hidden = d.groups.length > 0;
    $('miner-empty').textContent = t(d.messages ? 'miner.noGroup' : 'miner.noMessage');
    d.groups.forEach(function (g) { list.appendChild(groupCard(g)); });
    renderCandidates(d.candidate_faq || []);
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="miner-sort"]'), function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-sort') === view.sort ? 'true' : 'false');
    });
  }

  function groupCard(g) {
    var median = g.handling_time_median;
    var handling = g.handling_time_total > 0
      ? t('miner.handling', { total: C.fmtDuration(g.handling_time_total),
        median: median != null ? C.fmtDuration(median) : '—' })
      : t('miner.noHandling');
    var card = el('li', { class: 'miner-group', 'data-testid': 'miner-group', 'data-group-id': g.id,
      'data-language': g.language, 'data-volume': String(g.volume) }, [
      el('header', { class: 'miner-group-head' }, [
        el('span', { class: 'miner-rank', text: '#' + g.id }),
        el('span', { class: 'tag', text: C.label('lang', g.language) }),
        el('code', { class: 'miner-intent', 'data-testid': 'miner-intent', text: g.intent_name }),
        el('span', { class: 'miner-stats', 'data-testid': 'miner-stats', text:
          t('miner.volume', { n: g.volume, conversations: g.conversations }) + ' · ' + handling })
      ]),
      el('h3', { class: 'miner-sub', text: t('miner.typical') }),
      el('ul', { class: 'miner-typical', 'data-testid': 'miner-typical' }, g.typical.map(function (p) {
        return el('li', { text: '“' + p + '”' });
      })),
      el('details', { class: 'miner-examples' }, [
        el('summary', { text: t('miner.examples', { n: g.examples.length, total: g.volume }) }),
        el('ul', { 'data-testid': 'miner-examples' }, g.examples.map(function (x) {
          return el('li', { 'data-testid': 'miner-example', text: x });
        }))
      ]),
      g.agent_replies.length ? el('h3', { class: 'miner-sub', text: t('miner.replies') }) : null,
      g.agent_replies.length ? el('ul', { class: 'miner-replies' }, g.agent_replies.map(function (r) {
        return el('li', { text: t('miner.reply', { text: r.text, n: r.count }) });
      })) : null,
      g.good_answers.length ? el('h3', { class: 'miner-sub', text: t('miner.goodAnswers') }) : null,
      g.good_answers.length ? pairList(g.good_answers, 'miner-good-answer') : null
    ]);
    var exportButton = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'miner-export',
      text: t('miner.export') });
    var draft = el('div', { class: 'miner-draft', 'data-testid': 'miner-draft-box', hidden: true });
    exportButton.addEventListener('click', function () { exportGroup(g, exportButton, draft); });
    var proposeButton = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'miner-propose',
      text: t('miner.propose') });
    var proposal = el('div', { class: 'miner-draft', 'data-testid': 'miner-proposal-box', hidden: true });
    proposeButton.addEventListener('click', function () { proposalForm(g, proposal); });
    card.appendChild(el('div', { class: 'miner-actions' }, [exportButton, ' ', proposeButton]));
    card.appendChild(draft);
    card.appendChild(proposal);
    return card;
  }

  function pairList(pairs, testid) {
    return el('ul', { class: 'miner-pairs' }, pairs.map(function (p) {
      return el('li', { class: 'miner-pair', 'data-testid': testid, 'data-pair-id': p.pair_id }, [
        el('div', { class: 'miner-q', text: t('miner.question', { text: p.question }) }),
        el('div', { class: 'miner-a', text: t('miner.answer', { text: p.answer, agent: p.agent }) })
      ]);
    }));
  }

  function renderCandidates(pairs) {
    var box = $('miner-candidates');
    C.clear(box);
    $('miner-candidates-section').hidden = pairs.length === 0;
    if (pairs.length) box.appendChild(pairList(pairs, 'miner-candidate'));
  }

  /* ------------------------------------------------------------------ export */

  function exportGroup(g, button, box) {
    var d = view.data;
    var path = '/api/miner/groups/' + C.enc(g.id) + '/export?' + view.query + '&mining_id=' + C.enc(d.mining_id);
    button.disabled = true;
    fetch(path, { credentials: 'same-origin', cache: 'no-store',
      headers: { 'Accept': 'application/x-yaml, application/json', 'Accept-Language': I18N.lang } })
      .then(function (res) {
        return res.text().then(function (text) {
          if (res.status === 200) return { text: text, filename: filenameOf(res, g) };
          var body = null;
          try { body = JSON.parse(text); } catch (e) { body = null; }
          var err = new Error(res.status === 202 ? t('miner.stillRunning')
            : (body && body.error && body.error.message) || t('error.http', { status: res.status }));
          err.code = res.status === 202 ? 'running' : (body && body.error && body.error.code);
          throw err;
        });
      }, function () { throw new Error(t('error.network')); })
      .then(function (draft) {
        button.disabled = false;
        showDraft(box, draft);
      }).catch(function (err) {
        button.disabled = false;
        C.notify(err.message, 'error', err.code);
        if (err.code === 'groups_changed') load(false);
      });
  }

  function filenameOf(res, g) {
    var m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
    return m ? m[1] : (g.intent_name || 'draft') + '.yml';
  }

  function showDraft(box, draft) {
    C.clear(box);
    var url = URL.createObjectURL(new Blob([draft.text], { type: 'application/x-yaml' }));
    box.appendChild(el('div', { class: 'miner-draft-bar' }, [
      el('span', { class: 'muted small', text: t('miner.draftHint') }),
      el('a', { class: 'btn btn-small', 'data-testid': 'miner-download', href: url, download: draft.filename,
        text: t('miner.download', { file: draft.filename }) })
    ]));
    box.appendChild(el('pre', { class: 'miner-yaml', 'data-testid': 'miner-draft', text: draft.text }));
    box.hidden = false;
  }

  /* ------------------------------------------------------------------ accept as an intent */

  /* The supervisor names the intent and may write the answer in each language; the service
   * builds the change (intent, examples, response, rule, test story), runs the designer's check
   * on it and returns the patch only when the check passes. Nothing is written to data/. */
  function proposalForm(g, box) {
    C.clear(box);
    var name = el('input', { type: 'text', 'data-testid': 'miner-proposal-intent', value: g.intent_name,
      'aria-label': t('miner.proposalIntent'), maxlength: '100' });
    var en = el('textarea', { rows: '2', 'data-testid': 'miner-proposal-en', maxlength: '1000',
      placeholder: t('miner.proposalAnswerEn'), 'aria-label': t('miner.proposalAnswerEn') });
    var fr = el('textarea', { rows: '2', 'data-testid': 'miner-proposal-fr', maxlength: '1000',
      placeholder: t('miner.proposalAnswerFr'), 'aria-label': t('miner.proposalAnswerFr') });
    var go = el('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'miner-proposal-check',
      text: t('miner.proposalCheck') });
    var result = el('div', { 'data-testid': 'miner-proposal-result' });
    go.addEventListener('click', function () {
      var q = view.query + '&mining_id=' + C.enc(view.data.mining_id) + '&intent=' + C.enc(name.value.trim()) +
        '&answer_en=' + C.enc(en.value.trim()) + '&answer_fr=' + C.enc(fr.value.trim());
      go.disabled = true;
      C.call('GET', '/api/miner/groups/' + C.enc(g.id) + '/change?' + q).then(function (d) {
        go.disabled = false;
        if (d.status === 'running') { C.notify(t('miner.stillRunning'), 'error', 'running'); return; }
        showProposal(result, d);
      }).catch(function (err) {
        go.disabled = false;
        C.notify(err.message, 'error', err.code);
        if (err.code === 'groups_changed') load(false);
      });
    });
    box.appendChild(el('p', { class: 'muted small', text: t('miner.proposalHint') }));
    box.appendChild(el('label', { text: t('miner.proposalIntent') }, [name]));
    box.appendChild(en);
    box.appendChild(fr);
    box.appendChild(el('div', {}, [go]));
    box.appendChild(result);
    box.hidden = false;
  }

  function showProposal(box, d) {
    C.clear(box);
    box.setAttribute('data-passed', d.passed ? 'true' : 'false');
    if (!d.passed) {
      box.appendChild(el('p', { 'data-testid': 'miner-proposal-verdict',
        text: t('miner.proposalFailed', { n: d.findings.length }) }));
      box.appendChild(el('ul', { class: 'miner-findings' }, d.findings.map(function (f) {
        return el('li', { 'data-testid': 'miner-proposal-finding',
          text: f.path + ':' + f.line + ': ' + f.message + (f.fix ? ' — ' + f.fix : '') });
      })));
      return;
    }
    var file = d.intent + '.diff';
    var url = URL.createObjectURL(new Blob([d.patch], { type: 'text/x-diff' }));
    box.appendChild(el('div', { class: 'miner-draft-bar' }, [
      el('span', { 'data-testid': 'miner-proposal-verdict', text: t('miner.proposalPassed', { files: d.files.join(', ') }) }),
      el('a', { class: 'btn btn-small', 'data-testid': 'miner-proposal-download', href: url, download: file,
        text: t('miner.download', { file: file }) })
    ]));
    box.appendChild(el('pre', { class: 'miner-yaml', 'data-testid': 'miner-proposal-patch', text: d.patch }));
  }

  /* ------------------------------------------------------------------ the page's frame */

  function build() {
    var section = $('miner-view');
    var languages = el('select', { id: 'miner-language', 'data-testid': 'miner-language' }, [
      el('option', { value: '', text: t('miner.allLanguages') }),
      el('option', { value: 'en', text: C.label('lang', 'en') }),
      el('option', { value: 'fr', text: C.label('lang', 'fr') })
    ]);
    var form = el('form', { class: 'miner-filters', 'data-testid': 'miner-filters', novalidate: true }, [
      el('label', { class: 'field' }, [el('span', { text: t('miner.language') }), languages]),
      el('label', { class: 'field' }, [el('span', { text: t('miner.from') }),
        el('input', { type: 'date', id: 'miner-from', 'data-testid': 'miner-from' })]),
      el('label', { class: 'field' }, [el('span', { text: t('miner.to') }),
        el('input', { type: 'date', id: 'miner-to', 'data-testid': 'miner-to' })]),
      el('button', { type: 'submit', class: 'btn btn-primary', id: 'miner-apply', 'data-testid': 'miner-apply',
        text: t('miner.apply') }),
      el('button', { type: 'button', class: 'btn', id: 'miner-refresh', 'data-testid': 'miner-refresh',
        title: t('miner.refreshTitle'), text: t('miner.refresh') })
    ]);
    form.addEventListener('submit', function (ev) { ev.preventDefault(); load(false); });
    var sorts = el('div', { class: 'miner-sorts', role: 'group', 'aria-label': t('miner.sortLabel') },
      ['volume', 'handling'].map(function (sort) {
        var b = el('button', { type: 'button', class: 'mode', 'data-testid': 'miner-sort', 'data-sort': sort,
          'aria-pressed': sort === view.sort ? 'true' : 'false', text: t('miner.sort.' + sort) });
        b.addEventListener('click', function () {
          if (view.sort === sort) return;
          view.sort = sort;
          load(false);   // the analysis is kept: only the order changes
        });
        return b;
      }));
    [
      el('h1', { text: t('miner.heading') }),
      el('p', { class: 'muted', text: t('miner.intro') }),
      form,
      el('div', { class: 'miner-bar' }, [
        el('p', { class: 'miner-status', id: 'miner-status', 'data-testid': 'miner-status', role: 'status',
          'aria-live': 'polite' }),
        sorts
      ]),
      el('p', { class: 'form-error', id: 'miner-truncated', 'data-testid': 'miner-truncated', hidden: true,
        text: t('miner.truncated') }),
      el('ol', { class: 'miner-groups', id: 'miner-groups', 'data-testid': 'miner-groups' }),
      el('p', { class: 'empty', id: 'miner-empty', hidden: true }),
      el('section', { id: 'miner-candidates-section', 'data-testid': 'miner-candidates', hidden: true }, [
        el('h2', { class: 'panel-title', text: t('miner.candidates') }),
        el('p', { class: 'muted small', text: t('miner.candidatesIntro') }),
        el('div', { id: 'miner-candidates' })
      ])
    ].forEach(function (node) { section.appendChild(node); });
    $('miner-refresh').addEventListener('click', function () { load(true); });
  }

  function init() {
    build();
    var toggle = $('miner-toggle');
    toggle.addEventListener('click', function () { setShown(!view.shown); });
    // Another view's toggle, or a conversation picked in the side bar, leaves this page.
    document.querySelector('.topbar').addEventListener('click', function (ev) {
      var b = ev.target.closest && ev.target.closest('button[aria-controls]');
      if (view.shown && b && b.id !== 'miner-toggle' && b.getAttribute('aria-pressed') !== 'true') setShown(false);
    }, true);
    document.querySelector('.sidebar').addEventListener('click', function (ev) {
      if (view.shown && ev.target.closest && ev.target.closest('[data-conversation-id]')) setShown(false);
    });
    C.onStart(function (me) {
      toggle.hidden = !(me && me.role === 'supervisor');
      if (toggle.hidden) setShown(false);
    });
    C.onStop(function () {
      toggle.hidden = true;
      setShown(false);
      view.data = null;
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
