// Notification settings: the webhook URL is required exactly when the webhook channel is
// ticked. The server checks the same rule; this only says so before submitting.
(function () {
  "use strict";
  var form = document.getElementById("notification-form");
  if (!form) return;
  var webhook = form.querySelector('input[name="channels"][value="webhook"]');
  var url = form.querySelector('input[name="webhook_url"]');
  if (!webhook || !url) return;
  function sync() {
    url.required = webhook.checked;
    url.setAttribute("aria-required", webhook.checked ? "true" : "false");
  }
  webhook.addEventListener("change", sync);
  sync();
})();
