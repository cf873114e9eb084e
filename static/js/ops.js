// Operations dashboard: refresh the live part of the page every 60 s (pausable), keeping
// the scroll position; charts are re-drawn from the new page's figure JSON.
(function () {
  "use strict";
  const PERIOD_MS = 60000;
  let timer = null;

  async function refresh() {
    const live = document.getElementById("ops-live");
    const status = document.getElementById("ops-refreshed");
    try {
      const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(String(response.status));
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("ops-live");
      if (!fresh) throw new Error("no live section");
      live.replaceChildren(...fresh.childNodes);
      live.querySelectorAll("[data-figure-json]").forEach((el) => {
        const source = document.getElementById(el.dataset.figureJson);
        if (source) window.FleetCharts.plot(el, JSON.parse(source.textContent));
      });
      status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
    } catch (error) {
      status.textContent = "Could not refresh (" + error.message + "); retrying in a minute.";
    }
  }

  function start() {
    timer = window.setInterval(refresh, PERIOD_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("ops-pause");
    start();
    button.addEventListener("click", () => {
      const paused = button.getAttribute("aria-pressed") === "true";
      if (paused) {
        start();
        refresh();
      } else {
        window.clearInterval(timer);
      }
      button.setAttribute("aria-pressed", String(!paused));
      button.textContent = paused ? "Pause auto-refresh" : "Resume auto-refresh";
    });
  });
})();
