// The governance dashboard's filters (templates/governance/dashboard/dashboard.html): the
// custom dates take part only while "Custom" is chosen, so a preset is never overridden by the
// dates left in the boxes. Runs in the capture phase, before htmx reads the form on "change".
(function () {
  "use strict";

  function sync(form) {
    const custom = form.querySelector('input[name="period"][value="custom"]');
    form.querySelectorAll("[data-custom-dates] input").forEach(function (input) {
      input.disabled = !(custom && custom.checked);
    });
  }

  function wire() {
    const form = document.getElementById("dash-filters");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "1";
    form.addEventListener("change", function () { sync(form); }, true);
    sync(form);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
