// Baton's small amount of behaviour: keyboard navigation for the inbox (and a ? list of the
// shortcuts), Ctrl+Enter to send, a live-connection dot, "due" times that count down and turn
// red when overdue, filters that apply on change, and a browser notification when an urgent
// handoff is offered to you. No framework.
(function () {
  "use strict";

  function rows() { return Array.from(document.querySelectorAll("#inbox-rows .row")); }

  function focusRow(delta) {
    const all = rows();
    if (!all.length) return;
    const current = all.indexOf(document.activeElement.closest ? document.activeElement.closest(".row") : null);
    const next = all[Math.max(0, Math.min(all.length - 1, current + delta))] || all[0];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (target.matches && target.matches("textarea") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (target.form) target.form.requestSubmit();
      return;
    }
    if (target.matches && target.matches("input, textarea, select")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") { toggleShortcuts(); event.preventDefault(); return; }
    if (event.key === "r" || event.key === "e") {
      // On a handoff: r focuses the reply box, e opens "resolve".
      const reply = document.getElementById("reply-body");
      const resolve = document.querySelector("details.resolve");
      if (event.key === "r" && reply) { reply.focus(); event.preventDefault(); return; }
      if (event.key === "e" && resolve) {
        resolve.open = true;
        const field = resolve.querySelector("textarea, input:not([type=hidden]), button");
        if (field) field.focus();
        event.preventDefault();
        return;
      }
    }
    const row = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".row") : null;
    if (event.key === "j") { focusRow(1); event.preventDefault(); }
    else if (event.key === "k") { focusRow(-1); event.preventDefault(); }
    else if (event.key === "Enter" && row && row.dataset.href && document.activeElement === row) { window.location = row.dataset.href; }
    else if (event.key === "c" && row) {
      const claim = row.querySelector("[data-claim]");
      if (claim) { claim.click(); event.preventDefault(); }
    }
  });

  const SHORTCUTS = [
    ["j / k", "Next / previous handoff in the inbox"],
    ["Enter", "Open the handoff"],
    ["c", "Claim the handoff"],
    ["r", "Reply (on a handoff)"],
    ["e", "Resolve (on a handoff)"],
    ["Ctrl + Enter", "Send the reply"],
    ["?", "Show or hide this list"],
  ];

  function toggleShortcuts() {
    let dialog = document.getElementById("shortcuts");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "shortcuts";
      dialog.className = "shortcuts";
      dialog.setAttribute("aria-labelledby", "shortcuts-title");
      const title = document.createElement("h2");
      title.id = "shortcuts-title";
      title.textContent = "Keyboard shortcuts";
      const list = document.createElement("dl");
      SHORTCUTS.forEach(function (pair) {
        const key = document.createElement("dt");
        const kbd = document.createElement("kbd");
        kbd.textContent = pair[0];
        key.appendChild(kbd);
        const what = document.createElement("dd");
        what.textContent = pair[1];
        list.append(key, what);
      });
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "Close";
      close.addEventListener("click", function () { dialog.close(); });
      dialog.append(title, list, close);
      document.body.appendChild(dialog);
    }
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  // An urgent handoff offered to me while the tab is in the background: a browser
  // notification (after the person allowed them with the inbox's button).
  function notifyOffers() {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    document.querySelectorAll("#toasts .toast-urgent[data-handoff]:not([data-notified])").forEach(function (toast) {
      toast.dataset.notified = "1";
      const note = new Notification("Urgent handoff offered to you", {
        body: toast.textContent.replace(/\s+/g, " ").trim(),
        tag: "handoff-" + toast.dataset.handoff,
      });
      note.onclick = function () { window.focus(); window.location = "/handoffs/" + toast.dataset.handoff + "/"; };
    });
  }

  function offerNotifications() {
    const button = document.getElementById("enable-notifications");
    if (!button || !("Notification" in window)) return;
    button.hidden = Notification.permission !== "default";
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[data-autosubmit-check]") && event.target.form) {
      event.target.form.requestSubmit();
      return;
    }
    const form = event.target.matches && event.target.matches("select[data-autosubmit]") && event.target.form;
    if (!form) return;
    // "Any" is left out of the address rather than sent empty.
    form.querySelectorAll("select[data-autosubmit]").forEach(function (select) { select.disabled = !select.value; });
    form.requestSubmit();
  });

  function markOverdue() {
    const now = Date.now();
    document.querySelectorAll("time.due").forEach(function (el) {
      const due = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(due)) {
        el.classList.toggle("overdue", due < now);
        const minutes = Math.round((due - now) / 60000);
        const hours = Math.floor(Math.abs(minutes) / 60);
        const span = hours ? hours + " h " + (Math.abs(minutes) % 60) + " min" : Math.abs(minutes) + " min";
        el.textContent = minutes >= 0 ? "in " + span : span + " late";
      }
    });
  }

  function setLive(on) {
    const dot = document.getElementById("live-status");
    if (dot) {
      dot.classList.toggle("on", on);
      dot.classList.toggle("off", !on);
      dot.title = on ? "Live: new handoffs appear as they are raised" : "Reconnecting…";
    }
  }

  // Reconnect from the last event this page has (the server sends it with every push), so a
  // dropped socket replays only what was missed.
  if (window.htmx) {
    const create = htmx.createWebSocket;
    htmx.createWebSocket = function (url) {
      const marker = document.getElementById("live-seq");
      if (marker && marker.dataset.seq) url = url.replace(/([?&]since=)\d*/, "$1" + marker.dataset.seq);
      return create ? create(url) : new WebSocket(url);
    };
  }

  // A live update replaces the row a rep is on; keep their place in the list.
  let lastRowId = null;
  document.addEventListener("focusin", function (event) {
    const row = event.target.closest && event.target.closest("#inbox-rows .row");
    if (row) lastRowId = row.id;
  });

  function tidyAfterPush() {
    // A row pushed twice (a reconnect racing a push) is kept once: the newest copy, on top.
    const seen = new Set();
    rows().forEach(function (row) {
      if (seen.has(row.id)) row.remove(); else seen.add(row.id);
    });
    // An "offered to you" toast goes once someone has taken the handoff.
    document.querySelectorAll("#toasts .toast[data-handoff]").forEach(function (toast) {
      const row = document.getElementById("handoff-row-" + toast.dataset.handoff);
      if (row && !row.querySelector("[data-claim]")) toast.remove();
    });
    if (lastRowId && (document.activeElement === document.body || !document.activeElement)) {
      const again = document.getElementById(lastRowId);
      if (again) again.focus({ preventScroll: true });
    }
    markOverdue();
    notifyOffers();
  }

  // Claim buttons in inbox rows: the request is sent from the list, which live updates never
  // replace, so the answer's out-of-band parts (the row, the tabs, a "claimed by" toast) land.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-claim-url]");
    const list = document.getElementById("inbox-list");
    if (!button || !list || !window.htmx) return;
    event.preventDefault();
    button.disabled = true;
    htmx.ajax("POST", button.dataset.claimUrl, {
      source: list,
      target: list,
      swap: "none",
      values: {
        from: "row",
        view: list.dataset.view || "all",
        team: list.dataset.team || "",
        trigger: list.dataset.trigger || "",
        priority: list.dataset.priority || "",
      },
    });
  });

  document.addEventListener("htmx:wsAfterMessage", tidyAfterPush);
  document.addEventListener("htmx:afterSwap", tidyAfterPush);
  document.addEventListener("htmx:wsOpen", function () { setLive(true); });
  document.addEventListener("htmx:wsClose", function () { setLive(false); });
  document.addEventListener("htmx:oobErrorNoTarget", function (event) { event.preventDefault(); });
  document.addEventListener("DOMContentLoaded", function () {
    markOverdue();
    setInterval(markOverdue, 15000);
    offerNotifications();
    // Toasts fade after a while; the inbox row stays.
    new MutationObserver(function () {
      document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (toast) {
        toast.dataset.timer = "1";
        setTimeout(function () { toast.remove(); }, 12000);
      });
    }).observe(document.getElementById("toasts") || document.body, { childList: true, subtree: true });
  });
})();
