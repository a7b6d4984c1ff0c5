/* The console's WebSocket (/api/ws): every frame it brings goes to the dispatcher (core.js).
 *
 * Reconnects with jittered backoff; a socket that stays silent past DEAD_AFTER_MS is dropped
 * (the server answers pings). Pushes are at most once: on every (re)connection the views reload
 * what they show (the `console:connected` event) and drop what they already have (ids are stable).
 * The agent's messages go out on it too (`send`); a socket that goes down tells them
 * (`console:disconnected`), so that those still unanswered are posted instead.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;

  var PING_EVERY_MS = 20000;
  var DEAD_AFTER_MS = 50000;

  var ws = { socket: null, wanted: false, attempt: 0, timer: null, pingTimer: null, lastFrameAt: 0 };

  function statusNode() { return document.querySelector('[data-testid="connection-status"]'); }

  function setConn(kind) {
    var node = statusNode();
    node.setAttribute('data-state', kind);
    node.querySelector('.conn-text').textContent = t('conn.' + kind);
  }

  function connect() {
    ws.wanted = true;
    clearTimeout(ws.timer);
    if (ws.socket) return;
    setConn(ws.attempt ? 'reconnecting' : 'connecting');
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    var socket;
    try {
      socket = new WebSocket(proto + '//' + location.host + '/api/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws.socket = socket;
    socket.onopen = function () {
      if (ws.socket !== socket) return;
      ws.attempt = 0;
      ws.lastFrameAt = Date.now();
      setConn('connected');
      startPing();
      // Anything may have happened while we were away: the views reload what is on screen.
      C.emit('connected');
    };
    socket.onmessage = function (ev) {
      if (ws.socket !== socket) return;
      ws.lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame === 'object' && typeof frame.type === 'string') C.dispatch(frame);
    };
    socket.onclose = function () {
      if (ws.socket !== socket) return;
      lost();
    };
    socket.onerror = function () { /* a close event follows */ };
  }

  function lost() {
    var socket = ws.socket;
    ws.socket = null;
    stopPing();
    if (socket) C.emit('disconnected');
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try { socket.close(); } catch (e) { /* already closed */ }
    }
    if (!ws.wanted) { setConn('offline'); return; }
    setConn('reconnecting');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(ws.timer);
    var attempt = ws.attempt++;
    var base = Math.min(30000, 1000 * Math.pow(2, attempt));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    ws.timer = setTimeout(function () {
      if (!ws.wanted) return;
      // A WebSocket refused for an expired session looks like any other failure: ask first.
      C.api('GET', '/api/me').then(function () {
        connect();
      }).catch(function (err) {
        if (err.status === 401) C.stop(t('login.expired'));
        else if (ws.wanted) scheduleReconnect();
      });
    }, delay);
  }

  function stop() {
    ws.wanted = false;
    clearTimeout(ws.timer);
    if (ws.socket) lost();
    ws.attempt = 0;
    setConn('offline');
  }

  function startPing() {
    stopPing();
    ws.pingTimer = setInterval(function () {
      var socket = ws.socket;
      if (!socket) return;
      if (Date.now() - ws.lastFrameAt > DEAD_AFTER_MS) { lost(); return; }
      try { socket.send(JSON.stringify({ type: 'ping' })); } catch (e) { lost(); }
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(ws.pingTimer);
    ws.pingTimer = null;
  }

  C.onStart(function () { statusNode().hidden = false; connect(); });
  C.onStop(function () { stop(); statusNode().hidden = true; });
  // Signing out on purpose: no reconnection while the request is on its way.
  /* A frame for the server, if the socket is open now: true when it went. */
  function send(frame) {
    var socket = ws.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    try { socket.send(JSON.stringify(frame)); } catch (e) { return false; }
    return true;
  }

  C.connection = { release: function () { ws.wanted = false; }, send: send };

  window.addEventListener('online', function () {
    if (ws.wanted && !ws.socket) { ws.attempt = 0; scheduleReconnect(); }
  });
})();
