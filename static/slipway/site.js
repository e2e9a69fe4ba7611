// Slipway's own small script: keyboard help for the search suggestions, and copy buttons.
// Everything here is an enhancement; every page works without it.
(function () {
  "use strict";

  function suggestionLinks(box) {
    return Array.prototype.slice.call(box.querySelectorAll("a"));
  }

  document.addEventListener("keydown", function (event) {
    var input = document.getElementById("home-search");
    var box = document.getElementById("search-suggestions");
    if (!input || !box) return;
    var inBox = box.contains(document.activeElement);
    if (event.key === "Escape" && (inBox || document.activeElement === input)) {
      box.innerHTML = "";
      input.focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (document.activeElement !== input && !inBox) return;
    var links = suggestionLinks(box);
    if (!links.length) return;
    event.preventDefault();
    var index = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown") {
      links[Math.min(index + 1, links.length - 1)].focus();
    } else if (index <= 0) {
      input.focus();
    } else {
      links[index - 1].focus();
    }
  });

  // Close the suggestions when focus or a click leaves the search box.
  document.addEventListener("click", function (event) {
    var box = document.getElementById("search-suggestions");
    if (box && !event.target.closest(".search-box")) box.innerHTML = "";
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    });
  });
})();
