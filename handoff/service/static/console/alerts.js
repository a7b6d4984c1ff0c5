/* What tells an agent something happened while they look elsewhere: the tab title
 * ("(2) Agent console · 14 waiting"), a chime, the browser's notifications, and the mute.
 *
 * (2) counts customer replies in my conversations that I have not opened yet, so a reply shows
 * from another tab. The mute is kept per browser; the count shows even when muted.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var $ = C.$;

  var MUTE_KEY = 'handoff.console.muted';

  var counts = { waiting: 0, unread: 0 };
  var audio = null;

  function updateTitle() {
    document.title = (counts.unread ? '(' + counts.unread + ') ' : '') + t('console.title') +
      (counts.waiting ? ' · ' + t('console.titleWaiting', { count: counts.waiting }) : '');
  }

  function alertsOn() {
    try { return window.localStorage.getItem(MUTE_KEY) !== '1'; } catch (e) { return true; }
  }

  function renderToggle() {
    var b = $('alerts-toggle');
    var on = alertsOn();
    b.setAttribute('aria-pressed', on ? 'false' : 'true');
    b.setAttribute('data-muted', on ? 'false' : 'true');
    b.textContent = t(on ? 'notify.on' : 'notify.off');
    b.setAttribute('aria-label', t('notify.mute'));
    b.title = t(on ? 'notify.toggleOn' : 'notify.toggleOff');
  }

  function onToggle() {
    var on = !alertsOn();
    try { window.localStorage.setItem(MUTE_KEY, on ? '0' : '1'); } catch (e) { /* private mode */ }
    // Asked on the agent's own click, as browsers require.
    if (on && window.Notification && Notification.permission === 'default') Notification.requestPermission();
    renderToggle();
  }

  // A short two-note chime made with WebAudio (no sound file to load). Browsers allow it once
  // the agent has interacted with the page, which signing in does.
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [660, 880].forEach(function (freq, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.15;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.14);
        osc.connect(gain).connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.15);
      });
      document.body.setAttribute('data-chimes', String(Number(document.body.getAttribute('data-chimes') || 0) + 1));
    } catch (e) { /* no audio device: the visible notice remains */ }
  }

  /* A customer replied in one of my conversations that is not the one on screen. */
  function alertReply(conv, turn) {
    if (!alertsOn()) return;
    chime();
    if (!document.hidden || !window.Notification || Notification.permission !== 'granted') return;
    try {
      var n = new Notification(t('notify.reply', { name: C.customerTitle(conv),
        text: C.firstLine(turn.text || '').slice(0, 120) }), { tag: 'handoff-' + conv.id });
      n.onclick = function () { window.focus(); C.open(conv.id); n.close(); };
    } catch (e) { /* notifications not allowed here */ }
  }

  C.on('console:waiting', function (f) { counts.waiting = f.count; updateTitle(); });
  C.on('console:unread', function (f) { counts.unread = f.count; updateTitle(); });
  C.on('console:reply', function (f) { alertReply(f.conversation, f.turn); });
  C.on('console:queued', function () { if (alertsOn()) chime(); });
  C.onStop(function () { counts = { waiting: 0, unread: 0 }; });

  // Browsers ask for the notifications' permission only on a person's gesture: signing in is the
  // first one (unless muted), turning the alerts back on the other.
  $('login-form').addEventListener('submit', function () {
    if (alertsOn() && window.Notification && Notification.permission === 'default') {
      try { Notification.requestPermission(); } catch (e) { /* an older browser's callback form */ }
    }
  });
  $('alerts-toggle').addEventListener('click', onToggle);
  renderToggle();
})();
