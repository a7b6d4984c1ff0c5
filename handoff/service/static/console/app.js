/* Sign-in, sign-out and the start of the console: loaded after every view, it asks who is
 * signed in (GET /api/me) and starts them all (C.start), or shows the sign-in form.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var I18N = window.HandoffI18n;
  var t = I18N.t;
  var $ = C.$;

  function showLogin(message) {
    $('app-view').hidden = true;
    $('login-view').hidden = false;
    $('logout').hidden = true;
    $('me-name').hidden = true;
    var errBox = $('login-error');
    if (message) { errBox.textContent = message; errBox.hidden = false; } else { errBox.hidden = true; }
    var submit = $('login-submit');
    submit.disabled = false;
    submit.textContent = t('login.submit');
    $('login-password').value = '';
    ($('login-username').value ? $('login-password') : $('login-username')).focus();
    document.title = t('console.title');
  }

  function showApp(agent) {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('logout').hidden = false;
    var me = $('me-name');
    me.textContent = agent ? (agent.name || agent.username) : '';
    me.hidden = !agent;
  }

  function onLoginSubmit(ev) {
    ev.preventDefault();
    var errBox = $('login-error');
    var submit = $('login-submit');
    errBox.hidden = true;
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    C.api('POST', '/api/login', { username: $('login-username').value.trim(), password: $('login-password').value })
      .then(function (data) {
        C.start(data.agent);
      }).catch(function (err) {
        errBox.textContent = err.message;
        errBox.hidden = false;
        submit.disabled = false;
        submit.textContent = t('login.submit');
        $('login-password').select();
      });
  }

  function onLogout() {
    var btn = $('logout');
    btn.disabled = true;
    C.connection.release();
    C.api('POST', '/api/logout', {}).catch(function () { /* signed out locally anyway */ }).then(function () {
      btn.disabled = false;
      C.stop(null);
    });
  }

  // Registered last: the views have started (or forgotten everything) when the page changes.
  C.onStart(showApp);
  C.onStop(showLogin);
  C.on('hello', function (f) {
    if (f.agent && typeof f.agent === 'object') $('me-name').textContent = f.agent.name || f.agent.username || '';
  });

  function init() {
    I18N.apply(document);
    $('login-form').addEventListener('submit', onLoginSubmit);
    $('logout').addEventListener('click', onLogout);
    C.api('GET', '/api/me').then(function (d) {
      C.start(d.agent);
    }).catch(function (err) {
      showLogin(err.status === 401 ? null : err.message);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
