// Render plotly figures. Two forms:
//   <div class="chart" data-figure-json="ID"> with <script type="application/json" id="ID">
//   {{ figure }}</script> (a figure built on the server), or
//   <div data-figures-url="/api/v1/devices/X/history/?range=7d"> (fetches {figures: [...]},
//   one chart per figure; call FleetCharts.load(el, url) to switch range).
(function () {
  "use strict";
  const config = { responsive: true, displaylogo: false };

  function plot(el, figure) {
    window.Plotly.react(el, figure.data, figure.layout, config);
  }

  async function load(container, url) {
    container.setAttribute("aria-busy", "true");
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    container.setAttribute("aria-busy", "false");
    if (!response.ok) {
      container.textContent = "Could not load the chart (" + response.status + ").";
      return;
    }
    const body = await response.json();
    container.replaceChildren();
    for (const item of body.figures) {
      const el = document.createElement("div");
      el.className = "chart";
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", item.title);
      container.appendChild(el);
      plot(el, item.figure);
    }
  }

  function init() {
    document.querySelectorAll("[data-figure-json]").forEach((el) => {
      const source = document.getElementById(el.dataset.figureJson);
      if (source) plot(el, JSON.parse(source.textContent));
    });
    document.querySelectorAll("[data-figures-url]").forEach((el) => load(el, el.dataset.figuresUrl));
  }

  window.FleetCharts = { load, plot };
  document.addEventListener("DOMContentLoaded", init);
})();
