/* The agent's own presence (online / away), in the top bar: POST /api/me/presence, and the
 * agent.presence frames (the same agent in another tab). Signed in with the console open
 * means online, unless the agent chose "away" earlier.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;

  var view = { presence: null };

  function render(p) {
    view.presence = p;
    var b = $('presence-toggle');
    b.hidden = false;
    b.setAttribute('data-presence', p);
    b.setAttribute('aria-pressed', p === 'away' ? 'true' : 'false');
    b.setAttribute('title', t('presence.title'));
    b.querySelector('.presence-text').textContent = t('presence.' + p);
  }

  function load() {
    C.call('GET', '/api/agents').then(function (d) {
      var me = C.me();
      var mine = (Array.isArray(d.agents) ? d.agents : []).filter(function (a) {
        return me && a && a.username === me.username;
      })[0];
      var p = mine && mine.presence;
      if (p === 'online' || p === 'away') render(p); else set('online', true);
    }).catch(function (err) {
      if (err.status !== 401) render('offline');
    });
  }

  function set(status, quiet) {
    var b = $('presence-toggle');
    b.disabled = true;
    C.call('POST', '/api/me/presence', { status: status }).then(function (d) {
      b.disabled = false;
      var p = (d.agent && d.agent.presence) || status;
      render(p);
      if (!quiet) C.notify(t(p === 'away' ? 'presence.nowAway' : 'presence.nowOnline'), 'info');
    }).catch(function (err) {
      b.disabled = false;
      if (err.status !== 401) C.notify(err.message, 'error', err.code);
    });
  }

  C.on('agent.presence', function (f) {
    var me = C.me();
    if (me && f.agent === me.username && (f.status === 'online' || f.status === 'away')) render(f.status);
  });
  C.onStart(load);
  C.onStop(function () {
    view.presence = null;
    $('presence-toggle').hidden = true;
  });
  $('presence-toggle').addEventListener('click', function () {
    set(view.presence === 'online' ? 'away' : 'online');
  });
})();
