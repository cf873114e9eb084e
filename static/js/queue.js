// The triage queue page (/alerts/): load more, SLA countdowns, storms, live events, sound,
// bulk actions and saved views. The server renders the first page and enforces every rule;
// this file only keeps the table current. Rows are cloned from the <template>s the server
// renders from the same partial as its own rows (alerts/templates/alerts/queue_row.html).
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("queue-config").textContent);
  const table = document.getElementById("alert-queue");
  const body = document.getElementById("alert-queue-body");
  const rowTemplate = document.getElementById("alert-row-template");
  const stormTemplate = document.getElementById("storm-row-template");
  const loadMore = document.getElementById("load-more");
  const empty = document.getElementById("queue-empty");
  const toastBox = document.getElementById("live-toast");
  const notice = document.getElementById("queue-notice");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const statusesInView = new Set(cfg.statuses);

  // ------------------------------------------------------------ helpers

  function field(tr, name) {
    return tr.querySelector(`[data-field="${name}"]`);
  }

  function apiUrl(extra) {
    const params = new URLSearchParams(cfg.query);
    Object.entries(extra || {}).forEach(([key, value]) => params.set(key, value));
    return `${cfg.apiUrl}?${params}`;
  }

  async function getJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`${response.status} from ${url}`);
    return response.json();
  }

  async function sendJson(method, url, payload) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrf,
      },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    return { status: response.status, data };
  }

  function refreshEmpty() {
    empty.hidden = body.querySelector("tr") !== null;
  }

  // ------------------------------------------------------------ rows

  function setStatus(tr, status) {
    tr.dataset.status = status;
    const cell = field(tr, "status");
    cell.textContent = cfg.statusLabels[status] || status;
    cell.className = `status-${status}`;
    const sla = field(tr, "sla");
    if (sla) sla.dataset.status = status;
  }

  function setSeverity(tr, severity) {
    tr.dataset.severity = severity;
    const badge = field(tr, "severity");
    badge.textContent = severity;
    badge.className = `badge sev-${severity}`;
  }

  function alertRow(row) {
    const tr = rowTemplate.content.querySelector("tr").cloneNode(true);
    tr.dataset.alertId = row.alert_id;
    if (row.storm_id) tr.dataset.stormMember = row.storm_id;
    const box = tr.querySelector(".row-select");
    if (box) {
      box.value = row.alert_id;
      box.setAttribute("aria-label", `Select: ${row.title}`);
    }
    setSeverity(tr, row.severity);
    const title = field(tr, "title");
    title.textContent = row.title;
    title.href = `/alerts/${row.alert_id}/`;
    field(tr, "meta").textContent = [row.alert_type, row.source, row.model_id]
      .filter(Boolean)
      .join(" · ");
    const device = field(tr, "device");
    device.textContent = row.device_id;
    device.href = `/devices/${encodeURIComponent(row.device_id)}/`;
    const site = field(tr, "site");
    site.textContent = row.site_name || row.site_id;
    site.href = `/sites/${encodeURIComponent(row.site_id)}/`;
    field(tr, "region").textContent = row.region;
    setStatus(tr, row.status);
    const level = field(tr, "level");
    level.textContent = row.escalation_level || "";
    level.hidden = !row.escalation_level || row.escalation_level === "L1";
    const sla = field(tr, "sla");
    sla.dataset.slaDeadline = row.sla_deadline;
    sla.dataset.slaBreached = String(Boolean(row.sla_breached));
    field(tr, "age").dataset.createdAt = row.alert_created_at;
    setShelved(tr, row.shelved_until);
    const outOfService = field(tr, "out-of-service");
    if (outOfService) outOfService.hidden = !row.device_out_of_service_until;
    tick(tr);
    return tr;
  }

  function setShelved(tr, until) {
    const note = field(tr, "shelved");
    if (!note) return;
    note.hidden = !until;
    const stamp = note.querySelector("time");
    stamp.dateTime = until || "";
    stamp.textContent = until ? `${until.slice(0, 16).replace("T", " ")} UTC` : "";
  }

  function isShelved(payload) {
    return Boolean(payload.shelved_until) && Date.parse(payload.shelved_until) > Date.now();
  }

  function stormRow(row) {
    const tr = stormTemplate.content.querySelector("tr").cloneNode(true);
    tr.dataset.stormId = row.storm_id;
    tr.dataset.severity = row.severity;
    const badge = tr.querySelector(".badge");
    badge.textContent = row.severity;
    badge.className = `badge sev-${row.severity}`;
    tr.querySelector(".storm-toggle").dataset.stormId = row.storm_id;
    field(tr, "storm-title").textContent = row.title;
    const count = field(tr, "storm-count");
    count.dataset.count = row.alert_count;
    count.textContent = row.alert_count;
    const started = tr.querySelector("time");
    started.dateTime = row.started_at;
    started.textContent = row.started_at.slice(0, 16).replace("T", " ");
    tr.querySelector("a").href = row.runbook_url;
    field(tr, "sla").dataset.slaDeadline = row.sla_deadline;
    field(tr, "age").dataset.createdAt = row.started_at;
    tick(tr);
    return tr;
  }

  function renderRow(row) {
    return row.kind === "storm" ? stormRow(row) : alertRow(row);
  }

  function present(row) {
    if (row.kind === "storm") return body.querySelector(`tr[data-storm-id="${row.storm_id}"]`);
    return body.querySelector(`tr[data-alert-id="${row.alert_id}"]`);
  }

  function setCursor(cursor) {
    loadMore.dataset.cursor = cursor || "";
    loadMore.hidden = !cursor;
  }

  loadMore.addEventListener("click", async () => {
    loadMore.disabled = true;
    try {
      const page = await getJson(apiUrl({ cursor: loadMore.dataset.cursor }));
      page.results.forEach((row) => {
        if (!present(row)) body.appendChild(renderRow(row));
      });
      setCursor(page.next_cursor);
    } catch (error) {
      showNotice("Could not load more alerts; try again.");
    } finally {
      loadMore.disabled = false;
      refreshEmpty();
    }
  });

  async function reloadFirstPage() {
    const page = await getJson(apiUrl());
    body.replaceChildren(...page.results.map(renderRow));
    setCursor(page.next_cursor);
    refreshEmpty();
    selectionChanged();
  }

  // ------------------------------------------------------------ SLA countdown and age

  function ageText(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  }

  function clock(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0");
    return h ? `${h}:${mm}:${String(s).padStart(2, "0")}` : `${mm}:${String(s).padStart(2, "0")}`;
  }

  // Same words as alerts/views/queue.py sla_text.
  function tick(tr, now) {
    now = now || Date.now();
    const sla = field(tr, "sla");
    if (sla && sla.dataset.slaDeadline) {
      const status = tr.dataset.status;
      const left = Math.floor((Date.parse(sla.dataset.slaDeadline) - now) / 1000);
      let text;
      let late;
      if (status !== "open") {
        late = sla.dataset.slaBreached === "true";
        text = late ? "breached" : "met";
      } else if (left <= 0) {
        late = true;
        text = `breached ${ageText(-left)} ago`;
      } else {
        late = false;
        text = `${clock(left)} left`;
      }
      if (sla.textContent !== text) sla.textContent = text;
      sla.classList.toggle("sla-breached", late);
    }
    const age = field(tr, "age");
    if (age && age.dataset.createdAt) {
      age.textContent = ageText((now - Date.parse(age.dataset.createdAt)) / 1000);
    }
  }

  setInterval(() => {
    const now = Date.now();
    body.querySelectorAll("tr").forEach((tr) => tick(tr, now));
  }, 1000);

  // ------------------------------------------------------------ storms

  body.addEventListener("click", async (event) => {
    const toggle = event.target.closest(".storm-toggle");
    if (!toggle) return;
    const stormId = toggle.dataset.stormId;
    const stormTr = toggle.closest("tr");
    if (toggle.getAttribute("aria-expanded") === "true") {
      body.querySelectorAll(`tr[data-member-of="${stormId}"]`).forEach((tr) => tr.remove());
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = "Show alerts";
      selectionChanged();
      return;
    }
    toggle.disabled = true;
    try {
      let anchor = stormTr;
      let cursor = "";
      for (let pages = 0; pages < 5; pages += 1) {
        const extra = { storm: stormId, limit: 200 };
        if (cursor) extra.cursor = cursor;
        const page = await getJson(apiUrl(extra));
        page.results.forEach((row) => {
          const tr = alertRow(row);
          tr.dataset.memberOf = stormId;
          tr.classList.add("storm-member");
          anchor.after(tr);
          anchor = tr;
        });
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      toggle.setAttribute("aria-expanded", "true");
      toggle.textContent = "Hide alerts";
    } catch (error) {
      showNotice("Could not load the storm's alerts; try again.");
    } finally {
      toggle.disabled = false;
    }
  });

  const leftStorm = new Set();

  function stormCount(stormId, delta, alertId) {
    const tr = body.querySelector(`tr[data-storm-id="${stormId}"]`);
    if (!tr) return false;
    if (delta < 0) {
      if (leftStorm.has(alertId)) return true;
      leftStorm.add(alertId);
    }
    const count = field(tr, "storm-count");
    const value = Number(count.dataset.count) + delta;
    count.dataset.count = value;
    count.textContent = value;
    const title = field(tr, "storm-title");
    title.textContent = title.textContent.replace(/\d+ alerts?/, `${value} alert${value === 1 ? "" : "s"}`);
    if (value <= 0) {
      body.querySelectorAll(`tr[data-member-of="${stormId}"]`).forEach((m) => m.remove());
      tr.remove();
      refreshEmpty();
    } else if (delta > 0) {
      flash(tr);
    }
    return true;
  }

  // ------------------------------------------------------------ cues: flash, toast, sound

  function flash(tr) {
    tr.classList.remove("flash-new");
    void tr.offsetWidth; // restart the animation
    tr.classList.add("flash-new");
  }

  let toastTimer = null;

  function toast(text, href) {
    toastBox.replaceChildren();
    const message = document.createElement(href ? "a" : "span");
    message.textContent = text;
    if (href) message.href = href;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => {
      toastBox.hidden = true;
    });
    toastBox.append(message, close);
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      toastBox.hidden = true;
    }, 15000);
  }

  function showNotice(text, linkText, href) {
    notice.replaceChildren(document.createTextNode(text));
    if (linkText) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = linkText;
      notice.append(" ", link);
    }
    notice.hidden = false;
  }

  // Browsers only let a page play sound after the user interacted with it, so the audio
  // context is made on the first click or key press; until then the cue is silent.
  const sound = {
    enabled: localStorage.getItem("fleetmon.sound") !== "off",
    context: null,
    lastBeep: 0,
  };
  const soundToggle = document.getElementById("sound-toggle");
  const soundHint = document.getElementById("sound-hint");

  function showSound() {
    soundToggle.setAttribute("aria-pressed", String(sound.enabled));
    soundToggle.textContent = sound.enabled ? "Sound on" : "Sound off";
    soundHint.hidden = !sound.enabled || sound.context !== null;
    document.body.dataset.sound = !sound.enabled ? "off" : sound.context ? "on" : "locked";
  }

  function unlockSound() {
    if (sound.context) return;
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    sound.context = new AudioContext();
    sound.context.resume();
    showSound();
  }

  ["pointerdown", "keydown"].forEach((type) =>
    document.addEventListener(type, unlockSound, { capture: true })
  );
  soundToggle.addEventListener("click", () => {
    sound.enabled = !sound.enabled;
    localStorage.setItem("fleetmon.sound", sound.enabled ? "on" : "off");
    showSound();
  });
  showSound();

  function beep() {
    const now = Date.now();
    if (now - sound.lastBeep < 2000) return; // one cue for a burst
    sound.lastBeep = now;
    document.body.dataset.cues = String(Number(document.body.dataset.cues || 0) + 1);
    if (!sound.enabled || !sound.context) return;
    const ctx = sound.context;
    const start = ctx.currentTime;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    oscillator.type = "sine";
    oscillator.frequency.setValueAtTime(880, start);
    oscillator.frequency.setValueAtTime(660, start + 0.15);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.4);
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  }

  // ------------------------------------------------------------ live events

  const applied = new Map(); // alert id -> the last event id applied to it
  let newElsewhere = 0;
  let stormReload = null;

  function inView(payload) {
    return (
      statusesInView.has(payload.status) &&
      (!payload.suppressed || cfg.includeSuppressed) &&
      isShelved(payload) === Boolean(cfg.shelved)
    );
  }

  function removeRow(tr) {
    const box = tr.querySelector(".row-select");
    if (box) box.checked = false;
    tr.classList.add("row-leaving");
    setTimeout(() => {
      tr.remove();
      refreshEmpty();
      selectionChanged();
    }, 600);
  }

  function applyToRow(tr, payload) {
    if (!inView(payload)) {
      if (tr.dataset.stormMember) stormCount(tr.dataset.stormMember, -1, payload.alert_id);
      removeRow(tr);
      return;
    }
    setStatus(tr, payload.status);
    setSeverity(tr, payload.severity);
    setShelved(tr, payload.shelved_until);
    tick(tr);
  }

  async function arrived(payload) {
    let row = null;
    try {
      const page = await getJson(apiUrl({ alert_id: payload.alert_id, limit: 1 }));
      row = page.results[0];
      if (!row) return; // outside the current filters
    } catch (error) {
      if (payload.severity !== "CRITICAL") return;
      // Still show it: built from the event, completed on the next reload.
      const created = Date.parse(payload.at);
      row = {
        ...payload,
        site_name: payload.site_id,
        model_id: "",
        escalation_level: "L1",
        sla_breached: false,
        alert_created_at: payload.at,
        sla_deadline: new Date(created + 30 * 60 * 1000).toISOString(),
      };
    }
    if (present({ kind: "alert", alert_id: row.alert_id })) return;
    if (payload.kind === "unshelved" || payload.kind === "shelved") {
      // Back from (or onto) the shelf: an alert the operator already knows, shown in place.
      const tr = alertRow(row);
      body.prepend(tr);
      refreshEmpty();
      flash(tr);
      return;
    }
    if (row.severity === "CRITICAL") {
      const tr = alertRow(row);
      body.prepend(tr);
      refreshEmpty();
      flash(tr);
      toast(`New CRITICAL alert: ${row.title}`, `/alerts/${row.alert_id}/`);
      beep();
    } else {
      newElsewhere += 1;
      const noun = newElsewhere === 1 ? "alert matches" : "alerts match";
      showNotice(`${newElsewhere} new ${noun} your filters.`, "Show them", location.href);
    }
  }

  function joinedStorm(payload) {
    if (stormCount(payload.storm_id, +1)) return;
    // A new storm: its earlier members are rows of their own until the queue regroups.
    toast(`New CRITICAL alert: ${payload.title} (alert storm)`, `/alerts/${payload.alert_id}/`);
    beep();
    clearTimeout(stormReload);
    stormReload = setTimeout(() => {
      reloadFirstPage()
        .then(() => {
          const tr = body.querySelector(`tr[data-storm-id="${payload.storm_id}"]`);
          if (tr) flash(tr);
        })
        .catch(() => showNotice("The queue changed.", "Reload", location.href));
    }, 400);
  }

  document.addEventListener("fleetmon:alert-event", (event) => {
    const payload = event.detail;
    const last = applied.get(payload.alert_id);
    if (last !== undefined && last >= payload.event_id) return; // an older event, replayed
    applied.set(payload.alert_id, payload.event_id);
    const tr = body.querySelector(`tr[data-alert-id="${payload.alert_id}"]`);
    if (tr) {
      applyToRow(tr, payload);
      return;
    }
    if (!inView(payload)) {
      if (payload.storm_id) stormCount(payload.storm_id, -1, payload.alert_id);
      return;
    }
    if (!["created", "unshelved", "shelved"].includes(payload.kind)) return;
    if (payload.storm_id && !payload.suppressed) {
      joinedStorm(payload);
      return;
    }
    arrived(payload);
  });

  const liveStatus = document.getElementById("live-status");
  document.addEventListener("fleetmon:live-state", (event) => {
    const labels = { connected: "Live", "signed-out": "Signed out: sign in again for live alerts" };
    liveStatus.textContent = labels[event.detail] || "Reconnecting…";
    liveStatus.classList.toggle("is-live", event.detail === "connected");
  });
  window.FleetmonLive.start({ since: cfg.lastEventId, eventsUrl: cfg.eventsUrl });

  // ------------------------------------------------------------ bulk actions

  const bulk = document.getElementById("bulk-actions");
  const selectAll = document.getElementById("select-all");

  function selectedIds() {
    return [...body.querySelectorAll(".row-select:checked")].map((box) => box.value);
  }

  function selectionChanged() {
    if (!bulk) return;
    const count = selectedIds().length;
    bulk.dataset.selected = String(count);
    document.getElementById("bulk-count").textContent =
      count === 0 ? "No alerts selected" : `${count} alert${count === 1 ? "" : "s"} selected`;
    bulk.querySelectorAll("[data-bulk-action]").forEach((button) => {
      button.disabled = count === 0;
    });
    const boxes = body.querySelectorAll(".row-select");
    if (selectAll) {
      selectAll.checked = boxes.length > 0 && count === boxes.length;
      selectAll.indeterminate = count > 0 && count < boxes.length;
    }
  }

  function bulkMessage(lines, isError) {
    const box = document.getElementById("bulk-result");
    box.replaceChildren(
      ...lines.map((line) => {
        const p = document.createElement("p");
        p.textContent = line;
        return p;
      })
    );
    box.className = isError ? "field-error" : "";
  }

  function titleOf(alertId) {
    const tr = body.querySelector(`tr[data-alert-id="${alertId}"]`);
    return tr ? field(tr, "title").textContent : alertId;
  }

  const VERBS = {
    acknowledge: "acknowledged",
    mark_false_positive: "marked false positive",
    resolve: "resolved",
    shelve: "shelved",
    unshelve: "unshelved",
  };

  async function runBulk(action) {
    const ids = selectedIds();
    const note = document.getElementById("bulk-note");
    const reason = document.getElementById("bulk-reason");
    if (action === "mark_false_positive" && !reason.value.trim()) {
      bulkMessage(["Give a reason to mark alerts as false positives."], true);
      reason.focus();
      return;
    }
    if (action === "resolve" && !note.value.trim()) {
      bulkMessage(["Write resolution notes to resolve alerts."], true);
      note.focus();
      return;
    }
    if (action === "shelve" && !reason.value.trim()) {
      bulkMessage(["Give a reason to shelve alerts."], true);
      reason.focus();
      return;
    }
    const duration = document.getElementById("bulk-shelve-duration");
    const until = document.getElementById("bulk-shelve-until");
    const buttons = bulk.querySelectorAll("[data-bulk-action]");
    buttons.forEach((button) => {
      button.disabled = true;
    });
    const { status, data } = await sendJson("POST", cfg.bulkUrl, {
      action,
      alert_ids: ids,
      note: note.value,
      reason: reason.value,
      ...(action === "shelve"
        ? {
            duration: duration.value,
            until:
              duration.value === "until" && until.value
                ? new Date(until.value).toISOString()
                : null,
          }
        : {}),
    }).catch(() => ({ status: 0, data: null }));
    if (status !== 200) {
      const detail =
        data && typeof data === "object"
          ? Object.entries(data).map(([key, value]) => `${key}: ${[].concat(value).join(" ")}`)
          : ["The server did not answer; nothing was changed."];
      bulkMessage(detail, true);
      selectionChanged();
      return;
    }
    const lines = [`${data.succeeded} ${VERBS[action]}.`];
    data.results.forEach((result) => {
      const tr = body.querySelector(`tr[data-alert-id="${result.alert_id}"]`);
      if (result.result === "ok" && tr) {
        const box = tr.querySelector(".row-select");
        box.checked = false;
        applyToRow(tr, {
          alert_id: result.alert_id,
          status: result.status,
          severity: tr.dataset.severity,
          suppressed: false,
          shelved_until: result.shelved_until,
        });
      } else if (result.result !== "ok") {
        lines.push(`Not changed: ${titleOf(result.alert_id)}: ${result.detail}`);
      }
    });
    if (data.succeeded) {
      note.value = "";
      reason.value = "";
    }
    bulkMessage(lines, data.failed > 0);
    selectionChanged();
  }

  if (bulk) {
    body.addEventListener("change", (event) => {
      if (event.target.classList.contains("row-select")) selectionChanged();
    });
    if (selectAll) {
      selectAll.addEventListener("change", () => {
        body.querySelectorAll(".row-select").forEach((box) => {
          box.checked = selectAll.checked;
        });
        selectionChanged();
      });
    }
    bulk.querySelectorAll("[data-bulk-action]").forEach((button) => {
      button.addEventListener("click", () => runBulk(button.dataset.bulkAction));
    });
    const shelveDuration = document.getElementById("bulk-shelve-duration");
    if (shelveDuration) {
      shelveDuration.addEventListener("change", () => {
        document.getElementById("bulk-shelve-until").hidden = shelveDuration.value !== "until";
      });
    }
    selectionChanged();
  }

  // ------------------------------------------------------------ saved views

  const MULTI = new Set(["severity", "status", "site", "region", "alert_type", "source", "model_id"]);
  const views = JSON.parse(document.getElementById("saved-views-data").textContent);
  const viewSelect = document.getElementById("saved-view-select");
  const viewMessage = document.getElementById("saved-view-message");

  function currentFilters() {
    const filters = {};
    new URLSearchParams(location.search).forEach((value, key) => {
      if (!value || ["cursor", "limit", "storm", "alert_id"].includes(key)) return;
      if (MULTI.has(key)) (filters[key] = filters[key] || []).push(value);
      else if (key === "include_suppressed") filters[key] = value === "true";
      else filters[key] = value;
    });
    return filters;
  }

  function queryOf(filters) {
    const params = new URLSearchParams();
    Object.entries(filters).forEach(([key, value]) => {
      [].concat(value).forEach((item) => params.append(key, String(item)));
    });
    return params.toString();
  }

  document.getElementById("saved-view-apply").addEventListener("click", () => {
    const view = views.find((v) => String(v.id) === viewSelect.value);
    if (!view) {
      viewMessage.textContent = "Choose a view first.";
      return;
    }
    const query = queryOf(view.filters);
    location.assign(`/alerts/${query ? `?${query}` : ""}`);
  });

  document.getElementById("saved-view-delete").addEventListener("click", async () => {
    const view = views.find((v) => String(v.id) === viewSelect.value);
    if (!view) {
      viewMessage.textContent = "Choose a view first.";
      return;
    }
    const { status } = await sendJson("DELETE", `${cfg.savedViewsUrl}${view.id}/`);
    if (status === 204) {
      views.splice(views.indexOf(view), 1);
      viewSelect.querySelector(`option[value="${view.id}"]`).remove();
      viewMessage.textContent = `Deleted "${view.name}".`;
    } else {
      viewMessage.textContent = "Could not delete the view.";
    }
  });

  document.getElementById("saved-view-save").addEventListener("click", async () => {
    const nameInput = document.getElementById("saved-view-name");
    const name = nameInput.value.trim();
    if (!name) {
      viewMessage.textContent = "Give the view a name.";
      nameInput.focus();
      return;
    }
    const { status, data } = await sendJson("POST", cfg.savedViewsUrl, {
      name,
      filters: currentFilters(),
    });
    if (status === 201) {
      views.push(data);
      const option = new Option(data.name, data.id, true, true);
      viewSelect.add(option);
      nameInput.value = "";
      viewMessage.textContent = `Saved "${data.name}".`;
    } else if (data) {
      viewMessage.textContent = Object.entries(data)
        .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
        .join(" ");
    } else {
      viewMessage.textContent = "Could not save the view.";
    }
  });

  refreshEmpty();
  table.dataset.ready = "true";
})();
