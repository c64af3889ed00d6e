// The playbook's reply drafts (templates/journeys/_playbook.html). "Use this draft" copies a
// draft into the reply box (#reply-body) for the rep to edit and send; it never sends anything.
// On the handoff page, ?draft=<key> (the contact page's link) puts that draft in the reply box.
(function () {
  "use strict";

  function draftText(article) {
    const body = article.querySelector(".pb-draft-body");
    return body ? body.textContent : "";
  }

  function note(article, text) {
    const status = article.querySelector(".pb-note");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  function useDraft(article, ask) {
    const box = document.getElementById("reply-body");
    if (!box) {
      note(article, "Only the person handling this handoff can reply to it.");
      return false;
    }
    const text = draftText(article);
    const typed = box.value.trim();
    if (ask && typed && typed !== text.trim() && !window.confirm("Replace what you have written with this draft?")) {
      return false;
    }
    box.value = text;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    document.querySelectorAll(".pb-draft.in-use").forEach(function (other) {
      other.classList.remove("in-use");
      note(other, "");
    });
    article.classList.add("in-use");
    note(article, "In your reply box: edit it, then send.");
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    box.scrollIntoView({ block: "center" });
    return true;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-use-draft]");
    if (!button) return;
    const article = button.closest(".pb-draft");
    if (article) {
      event.preventDefault();
      useDraft(article, true);
    }
  });

  // The reply box was re-rendered (sent, or the page changed hands): a draft marked "in your
  // reply box" no longer is, unless the box came back with text (a refused send keeps it).
  document.addEventListener("htmx:afterSwap", function () {
    const box = document.getElementById("reply-body");
    if (box && box.value.trim()) return;
    document.querySelectorAll(".pb-draft.in-use").forEach(function (article) {
      article.classList.remove("in-use");
      note(article, "");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    const key = new URLSearchParams(window.location.search).get("draft");
    if (!key) return;
    const article = Array.from(document.querySelectorAll("#playbook .pb-draft")).find(function (a) {
      return a.dataset.draftKey === key;
    });
    const box = document.getElementById("reply-body");
    if (article && box && box.value.trim()) note(article, "Your reply box already has text: use this draft to replace it.");
    else if (article) useDraft(article, false);
  });
})();
