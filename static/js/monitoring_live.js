// Keep the ML and data-health charts live: every minute (while the tab is visible) fetch
// the figures endpoint named by [data-live-figures] and redraw each chart whose
// data-figure-id matches a figure id. Tables keep their server-rendered numbers.
(function () {
  "use strict";
  const PERIOD_MS = 60 * 1000;

  async function refresh(url) {
    if (document.hidden) return;
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    for (const item of body.figures) {
      const el = document.querySelector('[data-figure-id="' + CSS.escape(item.id) + '"]');
      if (el) window.FleetCharts.plot(el, item.figure);
    }
    const stamp = document.querySelector("[data-live-stamp]");
    if (stamp && body.generated_at) {
      stamp.textContent = "Charts as of " + body.generated_at.slice(0, 16).replace("T", " ") + " UTC; they refresh every minute.";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-live-figures]").forEach((el) => {
      const url = el.dataset.liveFigures;
      setInterval(() => refresh(url).catch(() => {}), PERIOD_MS);
    });
  });
})();
