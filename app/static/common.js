// Shared helpers for every page: the JSON API with the CSRF header, safe DOM building, sign-out.
"use strict";

window.Vivant = (() => {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // FastAPI's validation errors are a list of {loc, msg}; everything else is a plain string.
  function errorText(data, status) {
    const detail = data && data.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
    }
    if (status === 0) return "Could not reach the server. Check the connection and try again.";
    return `The server answered ${status}. Please try again.`;
  }

  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch {
      return { ok: false, status: 0, data: null, error: errorText(null, 0) };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    }
    return {
      ok: response.ok,
      status: response.status,
      data,
      error: response.ok ? "" : errorText(data, response.status),
    };
  }

  // Builds an element; text goes in with textContent, never as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // Only a path on this site: "/x" but never "//host" or "/\host", which browsers treat as other sites.
  function safeLocalPath(target) {
    if (typeof target !== "string" || !target.startsWith("/")) return "/";
    if (target.startsWith("//") || target.includes("\\")) return "/";
    return target;
  }

  function showError(node, message) {
    if (!node) return;
    node.textContent = message;
    node.hidden = !message;
  }

  // The newest clip is the last one (the API lists them oldest first).
  const newestClip = (photo) => (photo.clips.length ? photo.clips[photo.clips.length - 1] : null);
  const newestReadyClip = (photo) => [...photo.clips].reverse().find((c) => c.status === "ready") || null;
  // The clip to show, as the server decided it (the family's choice while it is ready, else the newest
  // ready one); a clip that became ready since the photo was fetched counts until the next fetch.
  const shownClip = (photo) => photo.clips.find((c) => c.id === photo.shown_clip_id) || newestReadyClip(photo);
  const isPending = (clip) => Boolean(clip) && (clip.status === "queued" || clip.status === "running");

  // Polls while `step` says there is more to wait for; pauses while the tab is hidden.
  function pollWhile(step, intervalMs = 1500) {
    let timer = null;
    let running = false;
    async function tick() {
      timer = null;
      if (document.hidden || running) return;
      running = true;
      let again = false;
      try {
        again = await step();
      } finally {
        running = false;
      }
      if (again) timer = setTimeout(tick, intervalMs);
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && timer === null) tick();
    });
    return {
      start() {
        if (timer === null && !running) timer = setTimeout(tick, intervalMs);
      },
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const signOut = document.querySelector("[data-sign-out]");
    if (!signOut) return;
    signOut.addEventListener("click", async () => {
      signOut.disabled = true;
      await api("POST", "/api/auth/logout");
      window.location.assign("/login");
    });
  });

  return {
    api,
    el,
    errorText,
    safeLocalPath,
    showError,
    newestClip,
    newestReadyClip,
    shownClip,
    isPending,
    pollWhile,
  };
})();
