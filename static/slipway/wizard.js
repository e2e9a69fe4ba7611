// The new-service wizard: open a previewed file from the tree, expand or collapse every file, and
// send the Create form once. Everything works without it; this only makes it nicer.
(function () {
  "use strict";

  function openFromHash() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open]");
    if (link) {
      var details = document.getElementById(link.getAttribute("data-open"));
      if (details) {
        details.open = true;
      }
    }
    var toggle = event.target.closest("[data-details]");
    if (toggle) {
      var open = toggle.getAttribute("data-details") === "open";
      document.querySelectorAll("details.wz-file").forEach(function (details) {
        details.open = open;
      });
    }
  });

  // A second click on Create while the first request is on its way would only answer the same run
  // (the form carries an idempotency key), but it need not be sent at all.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-submit-once")) {
      return;
    }
    if (form.getAttribute("data-submitted") === "yes") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitted", "yes");
    form.setAttribute("aria-busy", "true");
  });

  // Coming back to the page (browser Back) must not leave the form locked.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      form.removeAttribute("data-submitted");
      form.removeAttribute("aria-busy");
    });
  });

  window.addEventListener("hashchange", openFromHash);
  document.addEventListener("DOMContentLoaded", openFromHash);
})();
