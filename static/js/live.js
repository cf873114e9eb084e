// Live alert events for a page: the /ws/alerts/ websocket, with catch-up from the database.
//
//   FleetmonLive.start({since: <last event id the page was rendered with>, eventsUrl})
//
// Every event the user may see is dispatched once, as a "fleetmon:alert-event" DOM event on
// document (detail = the payload of alerts/events.py). After each (re)connect the page asks
// GET <eventsUrl>?since=<last id> for what it missed while disconnected (and between the
// render and the first connect); events are de-duplicated by id, so the socket and the
// catch-up can overlap. document.body.dataset.live is "connected", "disconnected" or, once the
// session has ended (logout, expiry), "signed-out": then the page stops reconnecting.
(function () {
  "use strict";

  const CATCH_UP_PAGE = 500; // alerts/events.py CATCH_UP_LIMIT
  const MAX_RETRY_MS = 30000;
  const SESSION_ENDED = 4401; // alerts/consumers.py

  function start(options) {
    const eventsUrl = options.eventsUrl || "/api/v1/alert-events/";
    const seen = new Set();
    let lastId = Number(options.since) || 0;
    let retryMs = 1000;
    let socket = null;
    let stopped = false;

    function setState(state) {
      document.body.dataset.live = state;
      document.dispatchEvent(new CustomEvent("fleetmon:live-state", { detail: state }));
    }

    function deliver(payload) {
      if (!payload || payload.type !== "alert.event" || seen.has(payload.event_id)) return;
      seen.add(payload.event_id);
      lastId = Math.max(lastId, payload.event_id);
      document.dispatchEvent(new CustomEvent("fleetmon:alert-event", { detail: payload }));
    }

    async function catchUp() {
      // Page through everything after the id we had when the connection (re)opened.
      let since = lastId;
      for (;;) {
        let batch;
        try {
          const response = await fetch(`${eventsUrl}?since=${since}`, {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          if (response.status === 401 || response.status === 403) return signedOut();
          if (!response.ok) return;
          batch = await response.json();
        } catch (error) {
          return; // the next reconnect tries again
        }
        batch.forEach(deliver);
        if (batch.length < CATCH_UP_PAGE) return;
        since = batch[batch.length - 1].event_id;
      }
    }

    function signedOut() {
      stopped = true;
      setState("signed-out");
      if (socket) socket.close();
    }

    async function reconnect() {
      // A refused handshake reaches the browser as a bare 1006, like a network error; the
      // events API says whether the session is still there before another attempt.
      try {
        const response = await fetch(`${eventsUrl}?since=${lastId}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.status === 401 || response.status === 403) return signedOut();
      } catch (error) {
        // the server is away: try the socket anyway, it backs off
      }
      if (!stopped) connect();
    }

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(`${scheme}${location.host}/ws/alerts/`);
      const opened = socket;
      opened.addEventListener("open", async () => {
        retryMs = 1000;
        // Live means caught up: what was missed while away is in before "connected".
        await catchUp();
        if (opened.readyState === WebSocket.OPEN) setState("connected");
      });
      socket.addEventListener("message", (message) => {
        let payload;
        try {
          payload = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        deliver(payload);
      });
      socket.addEventListener("close", (event) => {
        if (event.code === SESSION_ENDED) return signedOut();
        if (document.body.dataset.live !== "signed-out") setState("disconnected");
        if (stopped) return;
        // Back off, with jitter so a restarted server is not hit by every page at once.
        setTimeout(reconnect, retryMs + Math.random() * 500);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      });
    }

    setState("disconnected");
    connect();
    return {
      get lastEventId() {
        return lastId;
      },
      close() {
        stopped = true;
        if (socket) socket.close();
      },
    };
  }

  window.FleetmonLive = { start };
})();
