// Threshold editor on the device page: preview, save, remove and revert through the API.
// The server validates everything; its per-field messages are shown next to the field.
// After a change the editor section is re-read from the page, so the table, the source
// badges and the history are exactly what the server now holds.
(function () {
  "use strict";

  const editorId = "threshold-editor";

  function editor() {
    return document.getElementById(editorId);
  }

  function csrfToken() {
    const input = editor().querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      data = { detail: "The server answered " + response.status + "." };
    }
    return { ok: response.ok, status: response.status, data };
  }

  function text(value) {
    return Array.isArray(value) ? value.join(" ") : String(value);
  }

  function showErrors(form, data) {
    const shown = new Set();
    form.querySelectorAll("[data-error-for]").forEach((el) => {
      const field = el.dataset.errorFor;
      if (data && data[field] !== undefined && field !== "detail") {
        el.textContent = text(data[field]);
        el.hidden = false;
        shown.add(field);
      } else {
        el.textContent = "";
        el.hidden = true;
      }
    });
    if (!data) return;
    // Anything without its own slot (detail, parameter, non_field_errors) goes to detail.
    const rest = Object.keys(data).filter((k) => !shown.has(k));
    const detail = form.querySelector("[data-error-for=detail]");
    if (rest.length && detail) {
      detail.textContent = rest.map((k) => text(data[k])).join(" ");
      detail.hidden = false;
    }
  }

  function setInvalid(form, data) {
    ["value", "reason"].forEach((name) => {
      const input = form.elements[name];
      if (input) input.setAttribute("aria-invalid", String(Boolean(data && data[name])));
    });
  }

  function valueOf(form) {
    const raw = form.elements.value.value.trim();
    return raw === "" ? null : Number(raw);
  }

  async function refresh(message) {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById(editorId);
      if (fresh) editor().replaceChildren(...fresh.childNodes);
    }
    const status = document.getElementById("threshold-status");
    if (status && message) {
      status.textContent = message;
      status.hidden = false;
      status.setAttribute("tabindex", "-1");
      status.focus();
    }
  }

  async function preview(form) {
    const out = form.querySelector(".preview");
    const url = editor().dataset.api + form.dataset.parameter + "/preview/";
    out.textContent = "Replaying the last 7 days…";
    const result = await call("POST", url, { value: valueOf(form) });
    showErrors(form, result.ok ? null : result.data);
    setInvalid(form, result.ok ? null : result.data);
    out.textContent = result.ok ? capitalise(result.data.message) + "." + byRule(result.data) : "";
  }

  // A parameter read by several rules (running time, post-defrost pause) says which fired.
  function byRule(data) {
    const rules = Object.keys(data.firings_by_rule || {});
    if (rules.length < 2) return "";
    const parts = rules.map(
      (rule) => rule + ": " + (data.by_rule[rule] || 0) + " / " + data.firings_by_rule[rule]
    );
    return " Alerts / firings by rule: " + parts.join(", ") + ".";
  }

  function capitalise(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  async function save(form) {
    const parameter = form.dataset.parameter;
    const reason = form.elements.reason.value;
    const result = await call("PUT", editor().dataset.api + parameter + "/", {
      value: valueOf(form),
      reason,
    });
    if (!result.ok) {
      showErrors(form, result.data);
      setInvalid(form, result.data);
      return;
    }
    const row = result.data.parameter;
    await refresh("Saved: " + parameter + " is now " + row.effective + " " + row.unit + ".");
  }

  async function remove(form) {
    const parameter = form.dataset.parameter;
    const result = await call("DELETE", editor().dataset.api + parameter + "/", {
      reason: form.elements.reason.value,
    });
    if (!result.ok) {
      showErrors(form, result.data);
      setInvalid(form, result.data);
      return;
    }
    const row = result.data.parameter;
    await refresh(
      "Removed the override: " + parameter + " is " + row.effective + " " + row.unit +
        " (" + row.source + ")."
    );
  }

  async function revert(form) {
    const id = form.dataset.historyId;
    const url = editor().dataset.api + "history/" + id + "/revert/";
    const result = await call("POST", url, { reason: form.elements.reason.value });
    const error = form.querySelector(".field-error");
    if (!result.ok) {
      error.textContent = Object.values(result.data).map(text).join(" ");
      error.hidden = false;
      return;
    }
    await refresh("Reverted change " + id + ": " + result.data.parameter + " is back.");
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach((b) => {
      b.disabled = on;
    });
    form.setAttribute("aria-busy", String(on));
  }

  async function run(form, action) {
    busy(form, true);
    try {
      await action(form);
    } catch (err) {
      const detail = form.querySelector("[data-error-for=detail], .field-error");
      if (detail) {
        detail.textContent = "Could not reach the server: " + err.message;
        detail.hidden = false;
      }
    } finally {
      busy(form, false);
    }
  }

  function init() {
    const root = editor();
    if (!root) return;
    // Delegated: the section's content is replaced after every change.
    root.addEventListener("submit", (event) => {
      const form = event.target;
      if (form.matches(".threshold-form")) {
        event.preventDefault();
        run(form, save);
      } else if (form.matches(".revert-form")) {
        event.preventDefault();
        run(form, revert);
      }
    });
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const form = button.closest(".threshold-form");
      if (button.dataset.action === "preview") run(form, preview);
      if (button.dataset.action === "remove") run(form, remove);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
