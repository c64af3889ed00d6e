// Presence on a handoff page, over the live socket the page already has (htmx's ws extension;
// no second connection): a heartbeat, so the others keep seeing you as viewing and a tab that
// died without closing drops out; and typing pings that take the soft reply lock ("Riley is
// replying…"), renewed while you type and released when you clear the box. Sending releases
// it on the server; leaving the page closes the socket, which releases it too.
(function () {
  "use strict";

  let socket = null; // the ws extension's socket (its public interface) while it is open
  let beat = null;
  let lastPing = 0; // when a typing ping last went
  let typing = false; // the box has text we told the server about

  function page() { return document.querySelector("[data-presence]"); }

  function seconds(name, fallback) {
    const el = page();
    const value = el ? parseInt(el.dataset[name], 10) : NaN;
    return value > 0 ? value : fallback;
  }

  function send(type) {
    if (!socket) return; // closed: nothing queues up; the reconnect starts afresh
    try {
      socket.send(JSON.stringify({ type: type }));
    } catch (error) {
      socket = null;
    }
  }

  function noteTyping(box) {
    if (!box.value.trim()) {
      if (typing) send("idle");
      typing = false;
      lastPing = 0;
      return;
    }
    typing = true;
    const now = Date.now();
    if (now - lastPing >= seconds("typingPing", 5) * 1000) {
      lastPing = now;
      send("typing");
    }
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    if (!page() || !event.detail || !event.detail.socketWrapper) return;
    socket = event.detail.socketWrapper;
    clearInterval(beat);
    beat = setInterval(function () { send("heartbeat"); }, seconds("heartbeat", 15) * 1000);
    // Reconnected mid-reply: the old socket's lock went with it; take it again.
    const box = document.getElementById("reply-body");
    lastPing = 0;
    if (box && typing) noteTyping(box);
  });

  document.addEventListener("htmx:wsClose", function () {
    socket = null;
    clearInterval(beat);
  });

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "reply-body") noteTyping(event.target);
  });

  // The composer was re-rendered (sent: empty, the server released the lock; refused: the
  // draft is back). The next keystroke pings at once.
  document.addEventListener("htmx:afterSwap", function () {
    const box = document.getElementById("reply-body");
    typing = Boolean(box && box.value.trim());
    lastPing = 0;
  });
})();
