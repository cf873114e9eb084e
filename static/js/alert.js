// The alert page: SLA countdown, score chart, the action forms (POST to the API with the
// CSRF token, inline 400/409 messages) and re-rendering of status, timeline, maintenance and
// labels from the alert detail the API answers. Live: another operator's action on this
// alert (websocket event) refreshes the page's state too.
(function () {
  "use strict";
  const dataEl = document.getElementById("alert-data");
  if (!dataEl) return;
  let alert = JSON.parse(dataEl.textContent);
  const api = "/api/v1/alerts/" + alert.alert_id + "/";

  const STATUS = {
    open: "Open",
    acknowledged: "Acknowledged",
    in_progress: "In progress",
    resolved: "Resolved",
    false_positive: "False positive",
  };
  // Same words as alerts/views/alert.py EVENT_LABELS.
  const EVENTS = {
    created: "Created",
    sustained: "Sustained",
    acknowledged: "Acknowledged",
    maintenance_scheduled: "Maintenance scheduled",
    false_positive: "Marked false positive",
    resolved: "Resolved",
    escalated: "Escalated",
    sla_breached: "SLA breached",
    shelved: "Shelved",
    unshelved: "Back from the shelf",
    suppressed_by_window: "Suppressed by a maintenance window",
  };
  // form data-action -> the workflow action named in allowed_actions.
  const WORKFLOW = {
    acknowledge: "acknowledge",
    "schedule-maintenance": "schedule_maintenance",
    "false-positive": "mark_false_positive",
    resolve: "resolve",
    escalate: "escalate",
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function utc(iso) {
    if (!iso) return "";
    return new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function time(iso) {
    return el("time", { datetime: iso }, utc(iso));
  }

  function words(value) {
    return String(value).replace(/_/g, " ");
  }

  // ------------------------------------------------------------ SLA countdown

  function minutesText(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    return hours + " h " + (minutes % 60) + " min";
  }

  function renderSla() {
    const sla = document.getElementById("alert-sla");
    if (!sla) return;
    const left = new Date(alert.sla_deadline).getTime() - Date.now();
    sla.replaceChildren();
    if (alert.status === "open") {
      if (left > 0) {
        sla.append("SLA: acknowledge within ", el("strong", {}, minutesText(left)), " (by ");
        sla.append(time(alert.sla_deadline), ")");
      } else {
        sla.append(
          el("span", { class: "sla-breached" }, "SLA breached " + minutesText(left) + " ago"),
          " (deadline ",
          time(alert.sla_deadline),
          ")"
        );
      }
    } else {
      sla.append(
        alert.sla_breached
          ? el("span", { class: "sla-breached" }, "SLA breached")
          : el("span", {}, "SLA met"),
        " (deadline ",
        time(alert.sla_deadline),
        ")"
      );
    }
  }

  // ------------------------------------------------------------ state from the detail

  function renderStatus() {
    const status = document.getElementById("alert-status");
    status.textContent = STATUS[alert.status] || words(alert.status);
    status.className = "status-" + alert.status;
    status.dataset.status = alert.status;
    document.getElementById("alert-level").textContent = alert.escalation_level;
    document.getElementById("alert-escalated-to").textContent = alert.escalated_to
      ? " · " + alert.escalated_to
      : "";
    renderSla();
  }

  function renderTimeline() {
    const list = document.getElementById("alert-timeline");
    list.replaceChildren(
      ...alert.events.map((event) => {
        const item = el(
          "li",
          { "data-event-id": event.id },
          el("strong", {}, EVENTS[event.kind] || words(event.kind)),
          " by " + event.actor + " · ",
          time(event.at)
        );
        const details = event.details || {};
        if (event.kind === "escalated" && details.to) {
          const to = details.escalated_to ? " (" + details.escalated_to + ")" : "";
          item.append(" ", el("span", { class: "muted" }, "· to " + details.to + to));
        }
        if (event.kind === "maintenance_scheduled" && details.event_type) {
          item.append(" ", el("span", { class: "muted" }, "· " + details.event_type));
        }
        if (event.note) item.append(el("p", { class: "event-note" }, event.note));
        return item;
      })
    );
  }

  function renderMaintenance() {
    const list = document.getElementById("alert-maintenance");
    if (list) {
      const items = alert.maintenance_events.map((job) => {
        let text = words(job.event_type) + " (" + job.priority + ") · scheduled " + utc(job.scheduled_date);
        if (job.completed_date) text += " · completed " + utc(job.completed_date);
        if (job.technician_id) text += " · " + job.technician_id;
        return el("li", {}, text);
      });
      list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No maintenance scheduled.")]));
    }
    const select = document.getElementById("resolve-maintenance_event_id");
    if (select) {
      const chosen = select.value;
      select.replaceChildren(
        el("option", { value: "" }, "None"),
        ...alert.maintenance_events.map((job) =>
          el(
            "option",
            { value: job.event_id },
            words(job.event_type) + " · " + utc(job.scheduled_date).replace(" UTC", "") +
              (job.completed_date ? " · done" : "")
          )
        )
      );
      select.value = chosen;
    }
  }

  function renderLabels() {
    const list = document.getElementById("alert-labels");
    if (!list) return;
    const items = alert.label_events.map((label) =>
      el(
        "li",
        {},
        words(label.label_type) + " · " + words(label.label_source) + " by " + label.labeled_by +
          " · " + utc(label.labeled_at) + (label.notes ? ": " + label.notes : "")
      )
    );
    list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No labels.")]));
  }

  function renderForms() {
    document.querySelectorAll("form[data-action]").forEach((form) => {
      const action = WORKFLOW[form.dataset.action];
      const allowed = alert.allowed_actions.includes(action);
      form.querySelector("fieldset").disabled = !allowed;
      const note = form.querySelector(".unavailable");
      note.hidden = allowed;
      note.textContent = allowed
        ? ""
        : action === "escalate" && alert.escalation_level === "L3"
          ? "Already at L3, the highest level."
          : "Not possible while the alert is " + (STATUS[alert.status] || alert.status).toLowerCase() + ".";
    });
    // Escalation only goes up.
    const level = document.getElementById("escalate-level");
    if (level) {
      const current = Number(alert.escalation_level.slice(1));
      for (const option of level.options) option.disabled = Number(option.value.slice(1)) <= current;
      const first = [...level.options].find((o) => !o.disabled);
      if (first && level.selectedOptions[0].disabled) level.value = first.value;
    }
  }

  function render() {
    renderStatus();
    renderTimeline();
    renderMaintenance();
    renderLabels();
    renderForms();
  }

  async function refresh() {
    const response = await fetch(api, { headers: { Accept: "application/json" } });
    if (response.ok) {
      alert = await response.json();
      render();
    }
  }

  // ------------------------------------------------------------ actions

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function payload(form) {
    const body = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (value === "") continue; // optional fields left empty are not sent
      const input = form.elements[name];
      if (input && input.dataset && "localDatetime" in input.dataset) {
        const parsed = new Date(value); // the operator's local time -> UTC ISO
        body[name] = isNaN(parsed) ? value : parsed.toISOString();
      } else {
        body[name] = value;
      }
    }
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error[id]").forEach((p) => {
      p.hidden = true;
      p.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    form.querySelector(".form-error").textContent = "";
  }

  function showErrors(form, status, body) {
    const general = form.querySelector(".form-error");
    if (status === 400 && body && typeof body === "object" && !body.detail) {
      const prefix = form.dataset.fieldPrefix;
      const unplaced = [];
      for (const [field, messages] of Object.entries(body)) {
        const text = [].concat(messages).join(" ");
        const slot = document.getElementById(prefix + "-" + field + "-error");
        const input = form.elements[field];
        if (slot) {
          slot.textContent = text;
          slot.hidden = false;
          if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
        } else {
          unplaced.push(field + ": " + text);
        }
      }
      general.textContent = unplaced.length
        ? unplaced.join(" ")
        : "Please correct the fields marked above.";
      const invalid = form.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
      return;
    }
    general.textContent =
      (body && body.detail) || "The action failed (" + status + "). Reload the page and try again.";
  }

  function announce(text) {
    const message = document.getElementById("alert-message");
    message.textContent = text;
    message.hidden = false;
  }

  async function submit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    clearErrors(form);
    button.disabled = true;
    try {
      const response = await fetch(api + form.dataset.action + "/", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify(payload(form)),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (ignored) {
        body = null;
      }
      if (!response.ok) {
        showErrors(form, response.status, body);
        return;
      }
      alert = body;
      // Messages of earlier attempts, in any form, are stale now.
      document.querySelectorAll("form[data-action]").forEach(clearErrors);
      form.reset();
      const details = form.closest("details");
      details.open = false;
      details.querySelector("summary").focus(); // keep keyboard users where they were
      render();
      announce(
        "Done: " + details.querySelector("summary").textContent +
          ". The alert is now " + (STATUS[alert.status] || alert.status).toLowerCase() + "."
      );
    } catch (error) {
      form.querySelector(".form-error").textContent =
        "Could not reach the server; check the connection and try again.";
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ score chart

  async function loadScores() {
    const container = document.getElementById("score-chart");
    if (!container) return;
    const response = await fetch(container.dataset.scoresUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      container.textContent = "Could not load the scores (" + response.status + ").";
      return;
    }
    const body = await response.json();
    if (!body.models.length) {
      container.classList.remove("chart");
      container.textContent = "No model scored this device within 24 h of the alert.";
      return;
    }
    container.replaceChildren();
    window.FleetCharts.plot(container, body.figure);
  }

  // ------------------------------------------------------------ live updates

  let retryMs = 2000;

  function listen() {
    if (!("WebSocket" in window)) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/alerts/");
    socket.addEventListener("open", () => {
      retryMs = 2000;
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.alert_id === alert.alert_id && !alert.events.some((e) => e.id === event.event_id)) {
        refresh();
      }
    });
    // Reconnect, and catch up by re-reading the alert (what we missed is in its timeline).
    socket.addEventListener("close", () => {
      setTimeout(() => {
        listen();
        refresh();
      }, retryMs);
      retryMs = Math.min(retryMs * 2, 60000);
    });
  }

  // Contributor bar widths come as data attributes: the CSP allows no inline style attribute.
  document.querySelectorAll(".bar-fill[data-width]").forEach((bar) => {
    bar.style.width = `${Number(bar.dataset.width)}%`;
  });
  document.querySelectorAll("form[data-action]").forEach((form) => form.addEventListener("submit", submit));
  renderForms();
  renderSla();
  setInterval(renderSla, 15000);
  document.addEventListener("DOMContentLoaded", loadScores);
  listen();
})();
