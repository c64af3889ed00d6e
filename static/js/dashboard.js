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

  // Escape hides a definition shown on hover or focus (WCAG 1.4.13) until the pointer leaves.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".def-wrap:hover, .def-wrap:focus-within").forEach(function (wrap) {
      wrap.dataset.dismissed = "1";
    });
  });
  document.addEventListener("mouseout", function (event) {
    const wrap = event.target.closest && event.target.closest(".def-wrap");
    if (wrap && !wrap.contains(event.relatedTarget)) delete wrap.dataset.dismissed;
  });
  document.addEventListener("focusout", function (event) {
    const wrap = event.target.closest && event.target.closest(".def-wrap");
    if (wrap) delete wrap.dataset.dismissed;
  });

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
