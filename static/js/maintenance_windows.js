// The maintenance windows page: create a window or cancel one through the API; the server
// checks role, scope and input and answers per field.
(function () {
  const form = document.getElementById("window-form");
  const table = document.getElementById("maintenance-windows");
  const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
  const result = document.getElementById("window-result");

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    }).catch(() => null);
    if (!response) return { status: 0, data: null };
    return { status: response.status, data: await response.json().catch(() => null) };
  }

  function show(data, status) {
    if (!result) return;
    const lines =
      data && typeof data === "object"
        ? Object.entries(data).map(([key, value]) => `${key}: ${[].concat(value).join(" ")}`)
        : [`Refused (HTTP ${status}).`];
    result.replaceChildren(...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })));
    result.className = "field-error";
  }

  const iso = (value) => (value ? new Date(value).toISOString() : null);

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const kind = form.kind.value;
      const payload = {
        scope: form.scope.value,
        target: form.target.value,
        kind,
        reason: form.reason.value,
        starts_at: iso(form.starts_at.value),
        ends_at: iso(form.ends_at.value),
      };
      if (kind === "recurring") {
        payload.weekdays = [...form.querySelectorAll("[name=weekdays]:checked")].map((b) => Number(b.value));
        payload.start_time = form.start_time.value || null;
        payload.end_time = form.end_time.value || null;
      }
      const { status, data } = await post("/api/v1/maintenance-windows/", payload);
      if (status === 201) window.location.reload();
      else show(data, status);
    });
  }
  if (table) {
    table.addEventListener("click", async (event) => {
      const id = event.target.dataset && event.target.dataset.cancelWindow;
      if (!id) return;
      const { status, data } = await post(`/api/v1/maintenance-windows/${id}/cancel/`);
      if (status === 200) window.location.reload();
      else show(data, status);
    });
  }
})();
