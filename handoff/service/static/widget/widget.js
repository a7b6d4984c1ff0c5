/* Embeddable chat widget: one tag on any page,
 *
 *   <script src="https://support.example.com/widget.js" defer></script>
 *
 * adds a "Chat with us" button in the corner that opens the project's chat page in a frame
 * (served by the handoff service, so the page's own styles and scripts never mix with it, and the
 * conversation is the same one the standalone page at /chat would show). Nothing else is loaded;
 * the widget's own elements live in a shadow root. Options, as data attributes on the tag:
 * data-position="left" (default right), data-open="true" (open at once).
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || window.__handoffWidget) return;
  window.__handoffWidget = true;
  var base = new URL(script.src, location.href);
  var fr = /^fr/i.test(navigator.language || '');
  var TEXT = fr
    ? { open: 'Discuter avec nous', close: 'Fermer la discussion', title: 'Service client' }
    : { open: 'Chat with us', close: 'Close the chat', title: 'Customer service' };
  var OPEN_KEY = 'handoff.widget.open';
  var left = script.getAttribute('data-position') === 'left';

  var host = document.createElement('handoff-chat-widget');  // no page rule for 'div' reaches it
  host.setAttribute('data-handoff-widget', '');
  var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
  var side = left ? 'left' : 'right';
  var style = document.createElement('style');
  style.textContent = [
    ':host { all: initial; }',
    '.launcher { position: fixed; bottom: 20px; ' + side + ': 20px; z-index: 2147483000;',
    '  font: 600 15px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;',
    '  color: #fff; background: #1d4ed8; border: 0; border-radius: 999px; padding: 12px 18px;',
    '  box-shadow: 0 6px 20px rgba(0,0,0,.25); cursor: pointer; }',
    '.launcher:hover { background: #1e40af; }',
    '.launcher:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }',
    '.panel { position: fixed; bottom: 80px; ' + side + ': 20px; z-index: 2147483000;',
    '  width: min(400px, calc(100vw - 40px)); height: min(600px, calc(100vh - 110px));',
    '  border: 0; border-radius: 14px; overflow: hidden; background: #fff;',
    '  box-shadow: 0 12px 40px rgba(0,0,0,.3); }',
    '.panel[hidden] { display: none; }',
    '.panel iframe { width: 100%; height: 100%; border: 0; display: block; }'
  ].join('\n');

  var button = document.createElement('button');
  button.type = 'button';
  button.className = 'launcher';
  button.setAttribute('data-testid', 'widget-launcher');
  button.setAttribute('aria-expanded', 'false');
  button.textContent = TEXT.open;

  var panel = document.createElement('div');
  panel.className = 'panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', TEXT.title);
  var frame = null;

  function storage() { try { return window.sessionStorage; } catch (e) { return null; } }

  function setOpen(open) {
    if (open && !frame) {
      frame = document.createElement('iframe');
      frame.title = TEXT.title;
      frame.setAttribute('data-testid', 'widget-frame');
      frame.src = new URL('/chat?embed=1', base).href;
      frame.allow = 'clipboard-write';
      panel.appendChild(frame);
    }
    panel.hidden = !open;
    button.textContent = open ? TEXT.close : TEXT.open;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    var s = storage();
    try { if (s) s.setItem(OPEN_KEY, open ? '1' : '0'); } catch (e) { /* private mode */ }
    if (open && frame && frame.contentWindow) frame.focus();
  }

  button.addEventListener('click', function () { setOpen(panel.hidden); });
  root.appendChild(style);
  root.appendChild(panel);
  root.appendChild(button);

  function mount() {
    document.body.appendChild(host);
    var s = storage();
    var wasOpen = s && s.getItem(OPEN_KEY) === '1';
    if (wasOpen || script.getAttribute('data-open') === 'true') setOpen(true);
  }

  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
