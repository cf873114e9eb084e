// Device page: the 24 h / 7 d / 30 d buttons redraw the sensor and score charts for that
// range (both come from the API, downsampled in SQL) and keep the range in the address.
(function () {
  "use strict";

  function init() {
    const group = document.getElementById("range-buttons");
    const sensors = document.getElementById("sensor-charts");
    const scores = document.getElementById("score-charts");
    if (!group || !sensors || !window.FleetCharts) return;

    group.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (!button || button.getAttribute("aria-pressed") === "true") return;
      const range = button.dataset.range;
      group.querySelectorAll("button[data-range]").forEach((b) => {
        b.setAttribute("aria-pressed", String(b === button));
      });
      const query = "?range=" + encodeURIComponent(range);
      window.FleetCharts.load(sensors, sensors.dataset.historyUrl + query);
      if (scores) window.FleetCharts.load(scores, scores.dataset.scoresUrl + query);
      const url = new URL(window.location.href);
      url.searchParams.set("range", range);
      window.history.replaceState(null, "", url);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
