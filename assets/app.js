// hwtransfer web UI: the only script of our own. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  // Print buttons on the approval certificate.
  function wirePrint(root) {
    root.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  }

  // Dashboard charts: each <canvas data-chart='{"type":..,"data":..}'> becomes a Chart.js chart.
  function drawCharts(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (c) {
      if (c.dataset.drawn) { return; }
      c.dataset.drawn = "1";
      var spec = JSON.parse(c.dataset.chart);
      spec.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, spec.options || {});
      new Chart(c, spec);
    });
  }

  function wire(root) { wirePrint(root); drawCharts(root); }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSwap", function (e) { wire(e.target); });
})();
