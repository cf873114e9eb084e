// The device page's Service card: take the device out of service (reason, until when) or
// return it; the server checks role, scope and input and answers per field.
(function () {
  const card = document.getElementById("out-of-service");
  if (!card) return;
  const result = document.getElementById("out-of-service-result");

  function csrf() {
    const input = card.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(lines, isError) {
    result.replaceChildren(
      ...lines.map((line) => {
        const p = document.createElement("p");
        p.textContent = line;
        return p;
      })
    );
    result.className = isError ? "field-error" : "";
  }

  async function post(action, payload) {
    const response = await fetch(`${card.dataset.url}${action}/`, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrf(),
      },
      body: JSON.stringify(payload),
    }).catch(() => null);
    if (!response) {
      show(["The server did not answer; nothing was changed."], true);
      return;
    }
    const data = await response.json().catch(() => null);
    if (response.status === 200) {
      window.location.reload();
      return;
    }
    const lines =
      data && typeof data === "object"
        ? Object.entries(data).map(([key, value]) => `${key}: ${[].concat(value).join(" ")}`)
        : [`Refused (HTTP ${response.status}).`];
    show(lines, true);
  }

  const take = document.getElementById("take-out-of-service");
  if (take) {
    take.addEventListener("click", () => {
      const until = document.getElementById("out-of-service-until").value;
      post("out-of-service", {
        reason: document.getElementById("out-of-service-reason").value,
        until: until ? new Date(until).toISOString() : null,
      });
    });
  }
  const back = document.getElementById("return-to-service");
  if (back) {
    back.addEventListener("click", () => {
      post("return-to-service", { note: document.getElementById("return-note").value });
    });
  }
})();
