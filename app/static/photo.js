// One photo: the original beside its newest clip, live progress, new clips, the links of all its clips,
// deletion.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, newestClip, newestReadyClip, isPending, pollWhile } = window.Vivant;
  const photo = JSON.parse(document.getElementById("photo-data").textContent);
  const frame = document.querySelector("[data-clip-frame]");
  const caption = document.querySelector("[data-clip-caption]");
  const errorBox = document.querySelector("[data-photo-error]");
  const shareButton = document.querySelector("[data-open-share]");
  const sharesBox = document.querySelector("[data-shares]");
  const shareList = document.querySelector("[data-share-list]");
  const metricsBox = document.querySelector("[data-metrics]");
  const metricsList = document.querySelector("[data-metrics-list]");
  const dialog = document.querySelector("[data-share-dialog]");
  const shareForm = document.querySelector("[data-share-form]");
  const shareResult = document.querySelector("[data-share-result]");
  let shown = ""; // "<clip id>:<status>" of what the clip panel shows, so polling only redraws on change
  // Sizes both panels alike in the stylesheet (inline style attributes are barred by the CSP).
  document.querySelector(".pair").style.setProperty("--ratio", String(photo.width / photo.height));

  // ---- The clip panel -------------------------------------------------------------------------

  function still() {
    return el("img", {
      src: photo.display_url,
      width: photo.width,
      height: photo.height,
      alt: "",
      className: "still",
    });
  }

  // The clip the panel shows: the newest one, unless it failed and an older one worked; the family
  // keeps seeing the clip that exists (the one shared and measured below), with the failure beside it.
  function shownClip() {
    const newest = newestClip(photo);
    if (newest && newest.status === "failed") return newestReadyClip(photo) || newest;
    return newest;
  }

  function drawClip() {
    const newest = newestClip(photo);
    const clip = shownClip();
    const key = clip ? `${clip.id}:${clip.status}` : "none";
    if (key !== shown) {
      shown = key;
      frame.replaceChildren();
      if (clip && clip.status === "ready") {
        const video = el("video", {
          src: clip.video_url,
          poster: clip.poster_url,
          width: clip.width || photo.width,
          height: clip.height || photo.height,
          autoplay: true,
          muted: true,
          loop: true,
          playsinline: true,
          controls: true,
          "data-clip-video": clip.id,
        });
        video.muted = true; // autoplay is allowed only for a muted video, and script must say so
        frame.append(video);
        video.play().catch(() => {}); // a browser that refuses autoplay still shows the controls
      } else {
        frame.append(still());
        if (isPending(clip)) frame.append(el("progress", { max: 1, "aria-label": "Making the clip" }));
      }
    }
    const bar = frame.querySelector("progress");
    if (bar && clip.status === "running") bar.value = clip.progress;
    caption.textContent =
      clip === newest
        ? describe(clip)
        : `${describe(clip)}. The newer clip could not be made: ${newest.error || "unknown reason"}`;
    caption.classList.toggle("failed", Boolean(newest && newest.status === "failed"));
  }

  function describe(clip) {
    if (!clip) return "No clip yet: make one below.";
    const s = clip.settings || {};
    const how = [s.strength, s.camera && s.camera !== "auto" ? s.camera : null, s.loop ? "loop" : null]
      .filter(Boolean)
      .join(" · ");
    if (clip.status === "queued") return "Waiting for its turn…";
    if (clip.status === "running") return `Bringing it to life… ${Math.round(clip.progress * 100)} %`;
    if (clip.status === "failed") return `This clip could not be made: ${clip.error || "unknown reason"}`;
    return how ? `Clip · ${how}` : "Clip";
  }

  // ---- Metrics --------------------------------------------------------------------------------

  const LABELS = {
    psnr_first: ["First frame vs photo (PSNR)", " dB"],
    flow_mean: ["Mean motion", " px/frame"],
    flow_max: ["Largest motion", " px/frame"],
    flow_p99_max: ["Largest local motion", " px/frame"],
    parallax_p75: ["Parallax", " px"],
    steadiness: ["Jitter", ""],
    flicker: ["Flicker score", ""],
    smoothness: ["Smoothness", ""],
    edge_change: ["Edge change", ""],
    edges_ok: ["Edges steady", ""],
    loop_seam: ["Loop seam", ""],
    frames: ["Frames", ""],
    fps: ["Frames per second", ""],
  };

  function formatValue(value) {
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      return String(Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3)));
    }
    if (Array.isArray(value)) return value.length ? value.map(formatValue).join(", ") : "none";
    if (value === null || value === undefined) return "–";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function humanize(key) {
    const words = key.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function drawMetrics(clip) {
    metricsList.replaceChildren();
    if (!clip) {
      metricsBox.hidden = true;
      return;
    }
    const rows = [["Engine", clip.engine]];
    if (clip.width && clip.height) rows.push(["Size", `${clip.width} × ${clip.height}`]);
    const s = clip.settings || {};
    if (s.seconds) rows.push(["Length", `${formatValue(s.seconds)} s`]);
    const metrics = clip.metrics || {};
    // The measures we know first, in a sensible order; any others after them.
    const keys = [
      ...Object.keys(LABELS).filter((k) => k in metrics),
      ...Object.keys(metrics)
        .filter((k) => !(k in LABELS))
        .sort(),
    ];
    for (const key of keys) {
      const value = metrics[key];
      if (key === "width" || key === "height") continue;
      const [label, unit] = LABELS[key] || [humanize(key), ""];
      rows.push([label, value === null ? "–" : formatValue(value) + unit]);
    }
    for (const [label, value] of rows) {
      metricsList.append(el("div", {}, el("dt", { text: label }), el("dd", { text: value })));
    }
    metricsBox.hidden = false;
  }

  // ---- Share links ----------------------------------------------------------------------------

  // Which clip a link shows: the photo may have several, and a link keeps showing the one it was made for.
  function clipName(clipId) {
    const number = photo.clips.findIndex((c) => c.id === clipId) + 1;
    const name = photo.clips.length > 1 ? `Clip ${number} of ${photo.clips.length}` : "This clip";
    return clipId === shownClip()?.id ? `${name} (shown above)` : name;
  }

  function shareLabel(share) {
    const parts = [clipName(share.clip_id)];
    const day = share.expires_at ? new Date(share.expires_at).toLocaleDateString() : "";
    if (share.status === "expired") parts.push(`expired ${day}`);
    else parts.push(day ? `expires ${day}` : "never expires");
    if (share.has_password) parts.push("password");
    parts.push(share.allow_download ? "download allowed" : "view only");
    parts.push(share.opens ? `opened ${share.opens} time${share.opens === 1 ? "" : "s"}` : "not opened yet");
    return parts.join(" · ");
  }

  // Links of every clip of the photo, not only the newest: a link nobody can see could not be revoked.
  async function loadShares() {
    const result = await api("GET", `/api/photos/${encodeURIComponent(photo.id)}/shares`);
    if (!result.ok) {
      showError(errorBox, `Could not list the share links: ${result.error}`);
      return;
    }
    shareList.replaceChildren();
    for (const share of result.data) {
      const expired = share.status === "expired";
      const revoke = el("button", {
        type: "button",
        className: "button small danger",
        text: expired ? "Remove" : "Revoke",
      });
      revoke.addEventListener("click", async () => {
        revoke.disabled = true;
        const gone = await api("DELETE", `/api/shares/${encodeURIComponent(share.id)}`);
        if (!gone.ok) {
          revoke.disabled = false;
          showError(errorBox, `Could not revoke the link: ${gone.error}`);
          return;
        }
        loadShares();
      });
      const li = el("li", {
        className: expired ? "share-item expired" : "share-item",
        "data-share-id": share.id,
        "data-clip-id": share.clip_id,
      });
      li.append(el("span", { text: shareLabel(share) }), revoke);
      shareList.append(li);
    }
    sharesBox.hidden = result.data.length === 0;
  }

  function openShareDialog() {
    shareForm.reset();
    shareForm.hidden = false;
    shareResult.hidden = true;
    showError(shareForm.querySelector(".form-error"), "");
    dialog.showModal();
  }

  shareForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const clip = newestReadyClip(photo);
    const formError = shareForm.querySelector(".form-error");
    const password = shareForm.elements.password.value;
    if (password && password.length < 4) {
      showError(formError, "A password needs at least 4 characters (or leave it empty).");
      return;
    }
    const body = { allow_download: shareForm.elements.allow_download.checked };
    if (shareForm.elements.expires.value) body.expires_in_days = Number(shareForm.elements.expires.value);
    if (password) body.password = password;
    const submit = shareForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    const result = await api("POST", `/api/clips/${encodeURIComponent(clip.id)}/shares`, body);
    submit.disabled = false;
    if (!result.ok) {
      showError(formError, result.error);
      return;
    }
    shareForm.hidden = true;
    shareResult.hidden = false;
    const urlBox = shareResult.querySelector("[data-share-url]");
    urlBox.value = result.data.url;
    urlBox.select();
    loadShares();
  });

  shareResult.querySelector("[data-copy]").addEventListener("click", async (event) => {
    const urlBox = shareResult.querySelector("[data-share-url]");
    const button = event.currentTarget;
    try {
      await navigator.clipboard.writeText(urlBox.value);
      button.textContent = "Copied";
    } catch {
      // No clipboard permission (plain http on a LAN address): leave it selected for Ctrl+C.
      urlBox.select();
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  });

  for (const close of dialog.querySelectorAll("[data-close-dialog]")) {
    close.addEventListener("click", () => dialog.close());
  }
  shareButton.addEventListener("click", openShareDialog);

  // ---- Progress, new clips, deletion ----------------------------------------------------------

  function redraw() {
    drawClip();
    const ready = newestReadyClip(photo);
    shareButton.disabled = !ready;
    drawMetrics(ready);
  }

  async function refreshClip() {
    const clip = newestClip(photo);
    if (!isPending(clip)) return false;
    const result = await api("GET", `/api/clips/${encodeURIComponent(clip.id)}`);
    if (!result.ok) return true;
    const wasReady = Boolean(newestReadyClip(photo));
    Object.assign(clip, result.data);
    redraw();
    if (clip.status === "ready" && (!wasReady || newestReadyClip(photo) === clip)) loadShares();
    return isPending(clip);
  }

  const poller = pollWhile(refreshClip);

  document.querySelector("[data-new-clip]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    const result = await api("POST", `/api/photos/${encodeURIComponent(photo.id)}/clips`, {
      strength: form.elements.strength.value,
      camera: form.elements.camera.value,
      loop: form.elements.loop.checked,
    });
    submit.disabled = false;
    if (!result.ok) {
      showError(errorBox, `Could not start a new clip: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    photo.clips.push(result.data);
    redraw();
    loadShares(); // "clip 1 of 2" now: the links say which clip they show
    poller.start();
  });

  // Only whoever added the photo, or an admin, is shown the button.
  document.querySelector("[data-delete-photo]")?.addEventListener("click", async (event) => {
    const button = event.currentTarget;
    if (!window.confirm("Delete this photo and all its clips and share links? This cannot be undone.")) {
      return;
    }
    button.disabled = true;
    const result = await api("DELETE", `/api/photos/${encodeURIComponent(photo.id)}`);
    if (result.ok) {
      window.location.assign("/");
      return;
    }
    button.disabled = false;
    showError(errorBox, `Could not delete the photo: ${result.error}`);
  });

  redraw();
  loadShares();
  if (isPending(newestClip(photo))) poller.start();
});
