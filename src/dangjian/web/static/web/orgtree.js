/* The org tree browser: open and close branches (children arrive by htmx on the first click) and
 * keep the highlighted organisation in step with the panel on the right. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest(".dj-tree-toggle");
    if (toggle) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      var kids = document.getElementById(toggle.getAttribute("aria-controls"));
      if (kids) { kids.hidden = !open; }
      return;
    }
    var link = e.target.closest(".dj-tree-link");
    if (link) {
      document.querySelectorAll(".dj-tree-link.active").forEach(function (a) { a.classList.remove("active"); });
      link.classList.add("active");
    }
  });
})();
