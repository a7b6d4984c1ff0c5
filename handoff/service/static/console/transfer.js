/* Transferring the open conversation to a colleague or a team (POST …/transfer), from the panel
 * under the conversation's header. Colleagues are listed online first, with their load; the
 * agent.presence frames keep the list true while it is open.
 * Publishes C.transfer = {hide()}.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;
  var el = C.el;

  var PRESENCE_ORDER = { online: 0, away: 1, offline: 2 };

  var view = { agents: [] };   // GET /api/agents

  function findAgent(username) {
    for (var i = 0; i < view.agents.length; i++) if (view.agents[i].username === username) return view.agents[i];
    return null;
  }

  function isOpen() { return !$('transfer-panel').hidden; }

  function show() {
    var sel = $('transfer-agent');
    $('transfer-panel').hidden = false;
    $('transfer-button').setAttribute('aria-expanded', 'true');
    C.clear(sel);
    sel.appendChild(el('option', { value: '', text: t('transfer.loading') }));
    sel.disabled = true;
    Promise.all([C.call('GET', '/api/agents'), C.loadTeams()]).then(function (r) {
      view.agents = Array.isArray(r[0].agents) ? r[0].agents : [];
      sel.disabled = false;
      renderTargets();
      if (isOpen()) sel.focus();
    }).catch(function (err) {
      sel.disabled = false;
      hide();
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  function hide() {
    $('transfer-panel').hidden = true;
    $('transfer-button').setAttribute('aria-expanded', 'false');
  }

  function byPresence(a, b) {
    var pa = PRESENCE_ORDER[a.presence] != null ? PRESENCE_ORDER[a.presence] : 3;
    var pb = PRESENCE_ORDER[b.presence] != null ? PRESENCE_ORDER[b.presence] : 3;
    return pa - pb || String(a.name || a.username).localeCompare(String(b.name || b.username));
  }

  /* Colleagues I can transfer to (not me), online first, with their presence and load; then teams. */
  function renderTargets() {
    var sel = $('transfer-agent');
    var previous = sel.value;
    var me = C.me();
    var teams = C.teams();
    C.clear(sel);
    var others = view.agents.filter(function (a) {
      return a && a.username && !(me && a.username === me.username);
    }).sort(byPresence);
    if (!others.length && !teams.length) {
      sel.appendChild(el('option', { value: '', text: t('transfer.noAgent') }));
      return;
    }
    var people = el('optgroup', { label: t('transfer.agents') });
    others.forEach(function (a) {
      var p = a.presence || 'offline';
      people.appendChild(el('option', {
        value: a.username, 'data-presence': p,
        text: t('transfer.option', { name: a.name || a.username, presence: C.label('presence', p),
          load: a.load != null ? a.load : 0, max: a.max_conversations != null ? a.max_conversations : '?' })
      }));
    });
    if (others.length) sel.appendChild(people);
    var group = el('optgroup', { label: t('transfer.teams') });
    teams.forEach(function (team) {
      group.appendChild(el('option', { value: 'team:' + team.id, 'data-team': team.id,
        text: t('transfer.teamOption', { team: C.teamLabel(team.id), online: team.online || 0 }) }));
    });
    if (teams.length) sel.appendChild(group);
    sel.value = previous;
    if (sel.selectedIndex < 0 || !sel.value) sel.selectedIndex = 0;
  }

  function submit() {
    var open = C.conversation;
    var conv = open.current();
    if (!conv || !C.isMine(conv) || open.busy()) return;
    var to = $('transfer-agent').value;
    if (!to) return;
    var team = to.indexOf('team:') === 0 ? to.slice(5) : null;
    var a = findAgent(to);
    var name = a ? (a.name || a.username) : to;
    var note = $('transfer-note').value.trim();
    var id = conv.id;
    var body = team ? { team: team, note: note } : { to: to, note: note };
    open.setBusy(true);
    C.reply.stopTyping();
    C.call('POST', '/api/conversations/' + C.enc(id) + '/transfer', body).then(function () {
      open.setBusy(false);
      hide();
      $('transfer-note').value = '';
      C.mine.remove(id);
      C.notify(team ? t('transfer.teamDone', { team: C.teamLabel(team) }) : t('transfer.done', { name: name }), 'info');
      if (open.id() === id) {
        if (C.isSupervisor()) C.open(id, { keepScroll: true });
        else open.closeView();
      }
      C.reply.forget(id);
    }).catch(function (err) {
      open.setBusy(false);
      if (err.status === 401) return;
      C.notify(err.message, 'error', err.code);
      if (err.status === 409 || err.status === 404) C.open(id, { keepScroll: true });
    });
  }

  C.on('agent.presence', function (f) {
    var a = findAgent(f.agent);
    if (a) a.presence = f.status;
    if (isOpen()) renderTargets();
  });
  C.onStop(function () { view.agents = []; hide(); });

  $('transfer-button').addEventListener('click', function () { if (isOpen()) hide(); else show(); });
  $('transfer-cancel').addEventListener('click', function () { hide(); $('transfer-button').focus(); });
  $('transfer-panel').addEventListener('submit', function (ev) { ev.preventDefault(); submit(); });
  $('transfer-panel').addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { ev.preventDefault(); hide(); $('transfer-button').focus(); }
  });

  C.transfer = { hide: hide };
})();
