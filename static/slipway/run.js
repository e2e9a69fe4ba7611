// The run page: htmx swaps the live part about every second. Keep the logs a reader opened open
// across swaps, announce a changed status sentence once (not the whole list), and copy the clone
// command.
(function () {
  "use strict";

  var openLogs = [];
  var lastAnnounced = "";

  document.addEventListener("htmx:beforeSwap", function () {
    openLogs = Array.prototype.map.call(document.querySelectorAll("#run-status details[open]"), function (details) {
      return details.id;
    });
  });

  document.addEventListener("htmx:afterSwap", function () {
    openLogs.forEach(function (id) {
      var details = id && document.getElementById(id);
      if (details) {
        details.open = true;
      }
    });
    var sentence = document.querySelector("#run-status [data-announce]");
    var announcer = document.getElementById("run-announcer");
    if (sentence && announcer && sentence.textContent !== lastAnnounced) {
      lastAnnounced = sentence.textContent;
      announcer.textContent = lastAnnounced;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var sentence = document.querySelector("#run-status [data-announce]");
    lastAnnounced = sentence ? sentence.textContent : "";
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
