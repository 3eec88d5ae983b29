// One photo: the original beside a clip, every clip of it (choose the one shown, download, delete), new
// clips with a painted keep-still area, the links of all its clips, deletion.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, newestClip, shownClip, isPending, pollWhile } = window.Vivant;
  let photo = JSON.parse(document.getElementById("photo-data").textContent);
  const canDelete = Boolean(document.querySelector("[data-delete-photo]"));
  const frame = document.querySelector("[data-clip-frame]");
  const caption = document.querySelector("[data-clip-caption]");
  const loopToggle = document.querySelector("[data-loop-toggle]");
  const errorBox = document.querySelector("[data-photo-error]");
  const shareButton = document.querySelector("[data-open-share]");
  const sharesBox = document.querySelector("[data-shares]");
  const shareList = document.querySelector("[data-share-list]");
  const versionsBox = document.querySelector("[data-versions]");
  const versionList = document.querySelector("[data-version-list]");
  const aboutBox = document.querySelector("[data-about]");
  const aboutWords = document.querySelector("[data-about-words]");
  const metricsList = document.querySelector("[data-metrics-list]");
  const dialog = document.querySelector("[data-share-dialog]");
  let viewing = null; // the id of a clip the member chose to watch; null: the one shown everywhere
  let drawn = ""; // "<clip id>:<status>" of what the clip panel shows, so polling only redraws on change
  let sharesByClip = new Map(); // clip id -> how many links show it (the delete confirm says so)
  // Sizes both panels alike in the stylesheet (inline style attributes are barred by the CSP).
  document.querySelector(".pair").style.setProperty("--ratio", String(photo.width / photo.height));

  const byId = (id) => photo.clips.find((c) => c.id === id) || null;
  const newestFirst = () => [...photo.clips].reverse();

  // ---- Words for people ---------------------------------------------------------------------------

  const CAMERA_WORDS = { push: "push-in", drift: "drift", orbit: "slow orbit", still: "still camera" };

  function seconds(clip) {
    const s = Number((clip.settings || {}).seconds || 0);
    const n = Math.round(s * 10) / 10;
    return `${n} second${n === 1 ? "" : "s"}`;
  }

  function motion(clip) {
    const s = clip.settings || {};
    const camera = CAMERA_WORDS[s.camera];
    return [s.strength || "gentle", camera || "motion"].join(" ");
  }

  // The ambient motion a clip was given (its metrics say which kinds), in the order the engine lists them.
  const AMBIENT_WORDS = {
    sky: "the sky drifts slowly",
    water: "the water shimmers",
    foliage: "the leaves stir",
    light: "the light breathes",
  };

  function ambientWords(clip) {
    const kinds = ((clip.metrics || {}).ambient || []).map((kind) => AMBIENT_WORDS[kind]).filter(Boolean);
    if (!kinds.length) return null;
    return kinds.length === 1 ? kinds[0] : `${kinds.slice(0, -1).join(", ")} and ${kinds[kinds.length - 1]}`;
  }

  function madeOn(clip) {
    const device = (clip.metrics || {}).device;
    if (!device) return null;
    return device === "cpu" ? "made on this server's CPU" : `made on the GPU (${device})`;
  }

  function summary(clip) {
    const s = clip.settings || {};
    const parts = [seconds(clip), motion(clip), s.loop ? "loops" : "plays once"];
    if (s.keep_still) parts.push("keep-still area");
    if (s.ambient === "off") parts.push("no scene motion");
    return parts.join(" · ");
  }

  // ---- The clip panel ----------------------------------------------------------------------------

  function viewed() {
    return (viewing && byId(viewing)) || shownClip(photo) || newestClip(photo);
  }

  const LOOP_KEY = "vivant.loop";
  loopToggle.checked = window.localStorage.getItem(LOOP_KEY) === "1";
  loopToggle.addEventListener("change", () => {
    window.localStorage.setItem(LOOP_KEY, loopToggle.checked ? "1" : "0");
    const video = frame.querySelector("video");
    if (!video) return;
    video.loop = loopToggle.checked;
    if (video.loop && video.ended) video.play().catch(() => {});
  });

  function still() {
    return el("img", { src: photo.display_url, width: photo.width, height: photo.height, alt: "", className: "still" });
  }

  function drawClip() {
    const clip = viewed();
    const key = clip ? `${clip.id}:${clip.status}` : "none";
    if (key !== drawn) {
      drawn = key;
      frame.replaceChildren();
      if (clip && clip.status === "ready") {
        // Plays once and stays on its last frame, like a living photo; "Loop" keeps it going.
        const video = el("video", {
          src: clip.video_url,
          poster: clip.poster_url,
          width: clip.width || photo.width,
          height: clip.height || photo.height,
          autoplay: true,
          muted: true,
          loop: loopToggle.checked,
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
    caption.textContent = describe(clip);
    caption.classList.toggle("failed", Boolean(clip && clip.status === "failed"));
  }

  function describe(clip) {
    if (!clip) return "No clip yet: make one below.";
    if (clip.status === "queued") return "Waiting for its turn…";
    if (clip.status === "running") return `Bringing it to life… ${Math.round(clip.progress * 100)} %`;
    if (clip.status === "failed") return `This clip could not be made: ${clip.error || "unknown reason"}`;
    return clip.id === photo.shown_clip_id ? "The clip shown everywhere" : "Another version (not shown)";
  }

  // ---- About this clip ---------------------------------------------------------------------------

  const LABELS = {
    psnr_first: ["First frame vs photo (PSNR)", " dB"],
    flow_mean: ["Mean motion", " px/frame"],
    flow_max: ["Largest motion", " px/frame"],
    ambient: ["Scene motion", ""],
    flow_p99_max: ["Largest local motion", " px/frame"],
    parallax_p75: ["Parallax", " px"],
    depth: ["Depth", ""], // "learned" (the depth model) or "estimate" (from the photo alone)
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

  function drawAbout(clip) {
    metricsList.replaceChildren();
    if (!clip || clip.status !== "ready") {
      aboutBox.hidden = true;
      return;
    }
    const s = clip.settings || {};
    const sentence = [
      `${seconds(clip)} long`,
      `${motion(clip)}`,
      s.loop ? "made to loop" : "plays once",
      s.keep_still ? "with a painted area kept still" : null,
      madeOn(clip),
    ].filter(Boolean);
    const capital = (words) => words.replace(/^./, (c) => c.toUpperCase());
    const scene = ambientWords(clip);
    aboutWords.textContent = capital(sentence.join(", ")) + "." + (scene ? ` ${capital(scene)}.` : "");
    const rows = [["Photo file", photo.original_name], ["Engine", clip.engine]];
    if (clip.width && clip.height) rows.push(["Size", `${clip.width} × ${clip.height}`]);
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
      if (key === "width" || key === "height" || key === "device") continue;
      const [label, unit] = LABELS[key] || [humanize(key), ""];
      rows.push([label, value === null ? "–" : formatValue(value) + unit]);
    }
    for (const [label, value] of rows) {
      metricsList.append(el("div", {}, el("dt", { text: label }), el("dd", { text: value })));
    }
    aboutBox.hidden = false;
  }

  // ---- Versions ----------------------------------------------------------------------------------

  const STATUS_WORDS = { queued: "Waiting", running: "Being made", ready: "Ready", failed: "Failed" };

  function when(clip) {
    return new Date(clip.created_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function drawVersions() {
    versionList.replaceChildren();
    const current = viewed();
    for (const clip of newestFirst()) {
      const shown = clip.id === photo.shown_clip_id;
      const li = el("li", { className: "version", "data-version": clip.id, "aria-current": clip === current });
      const status = clip.status === "running" ? `Being made ${Math.round(clip.progress * 100)} %` : STATUS_WORDS[clip.status];
      const head = el(
        "div",
        { className: "version-text" },
        el("strong", { text: status }),
        shown ? el("span", { className: "tag", text: "shown" }) : null,
        el("span", { className: "version-when", text: ` ${when(clip)}` }),
      );
      const detail = el("div", { className: "version-detail", text: summary(clip) });
      if (clip.status === "failed") detail.textContent += ` · ${clip.error || "unknown reason"}`;
      const actions = el("div", { className: "version-actions" });
      if (clip.status === "ready") {
        if (clip !== current) {
          const watch = el("button", { type: "button", className: "button small quiet", text: "Watch" });
          watch.addEventListener("click", () => {
            viewing = clip.id;
            redraw();
          });
          actions.append(watch);
        }
        if (!shown) {
          const choose = el("button", { type: "button", className: "button small", text: "Show this one", "data-choose": "" });
          choose.addEventListener("click", () => chooseClip(clip, choose));
          actions.append(choose);
        }
        actions.append(
          el("a", { className: "button small quiet", href: clip.download_url, download: "", text: "Download clip" }),
        );
      }
      if (canDelete) {
        const remove = el("button", { type: "button", className: "button small danger", text: "Delete clip", "data-delete-clip": "" });
        remove.addEventListener("click", () => deleteClip(clip, remove));
        actions.append(remove);
      }
      li.append(head, detail, actions);
      versionList.append(li);
    }
    versionsBox.hidden = photo.clips.length === 0;
  }

  async function chooseClip(clip, button) {
    button.disabled = true;
    const result = await api("PUT", `/api/photos/${encodeURIComponent(photo.id)}/chosen-clip`, { clip_id: clip.id });
    if (!result.ok) {
      button.disabled = false;
      showError(errorBox, `Could not choose that clip: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    photo = result.data;
    viewing = null;
    redraw();
    loadShares();
  }

  async function deleteClip(clip, button) {
    const links = sharesByClip.get(clip.id) || 0;
    const also = links ? ` Its ${links} share link${links === 1 ? "" : "s"} will stop working too.` : "";
    const making = isPending(clip) ? " It is still being made: that stops." : "";
    if (!window.confirm(`Delete this clip?${making}${also} This cannot be undone.`)) return;
    button.disabled = true;
    const result = await api("DELETE", `/api/clips/${encodeURIComponent(clip.id)}`);
    if (!result.ok) {
      button.disabled = false;
      showError(errorBox, `Could not delete the clip: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    if (viewing === clip.id) viewing = null;
    await reloadPhoto();
    loadShares();
  }

  // ---- The keep-still brush ----------------------------------------------------------------------

  const brushFrame = document.querySelector("[data-brush-frame]");
  const canvas = document.querySelector("[data-brush-canvas]");
  const brushToggle = document.querySelector("[data-brush-toggle]");
  const brushTools = document.querySelector("[data-brush-tools]");
  const brushSize = document.querySelector("[data-brush-size]");
  const brushErase = document.querySelector("[data-brush-erase]");
  // Painted at most 1280 px on the long side: plenty for an area, and the PNG stays small. The server
  // scales it to the clip's size; only the photo's proportions matter.
  const scale = Math.min(1, 1280 / Math.max(photo.width, photo.height));
  canvas.width = Math.max(16, Math.round(photo.width * scale));
  canvas.height = Math.max(16, Math.round(photo.height * scale));
  const pen = canvas.getContext("2d");
  let painted = false;
  let last = null;

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  }

  function stroke(from, to) {
    const box = canvas.getBoundingClientRect();
    pen.globalCompositeOperation = brushErase.checked ? "destination-out" : "source-over";
    pen.strokeStyle = "#e0452b";
    pen.lineCap = "round";
    pen.lineJoin = "round";
    pen.lineWidth = (Number(brushSize.value) * canvas.width) / Math.max(1, box.width);
    pen.beginPath();
    pen.moveTo(...from);
    pen.lineTo(...to);
    pen.stroke();
    if (!brushErase.checked) painted = true;
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => (last = null));

  function anythingPainted() {
    if (!painted) return false;
    const alpha = pen.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < alpha.length; i += 4) if (alpha[i] >= 128) return true;
    return false;
  }

  function clearBrush() {
    pen.clearRect(0, 0, canvas.width, canvas.height);
    painted = false;
  }

  brushToggle.addEventListener("click", () => {
    const on = canvas.hidden;
    canvas.hidden = !on;
    brushTools.hidden = !on;
    brushFrame.classList.toggle("painting", on);
    brushToggle.setAttribute("aria-pressed", String(on));
    brushToggle.textContent = on ? "Done painting" : "Paint what stays still";
  });
  document.querySelector("[data-brush-clear]").addEventListener("click", clearBrush);

  // ---- Share links -------------------------------------------------------------------------------

  // Which clip a link shows: the photo may have several, and a link keeps showing the one it was made for.
  function clipName(clipId) {
    const number = photo.clips.findIndex((c) => c.id === clipId) + 1;
    const name = photo.clips.length > 1 ? `Clip ${number} of ${photo.clips.length}` : "This clip";
    return clipId === photo.shown_clip_id ? `${name} (shown)` : name;
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

  // Links of every clip of the photo, not only the shown one: a link nobody can see could not be revoked.
  async function loadShares() {
    const result = await api("GET", `/api/photos/${encodeURIComponent(photo.id)}/shares`);
    if (!result.ok) {
      showError(errorBox, `Could not list the share links: ${result.error}`);
      return;
    }
    sharesByClip = new Map();
    shareList.replaceChildren();
    for (const share of result.data) {
      sharesByClip.set(share.clip_id, (sharesByClip.get(share.clip_id) || 0) + 1);
      const expired = share.status === "expired";
      const revoke = el("button", { type: "button", className: "button small danger", text: expired ? "Remove" : "Revoke" });
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

  // The dialog is share-form.js's; the link is made for the clip being watched.
  const shareDialog = window.VivantShareForm.create(dialog, {
    endpoint: () => `/api/clips/${encodeURIComponent(viewed().id)}/shares`,
    created: loadShares,
  });
  shareButton.addEventListener("click", shareDialog.open);

  // ---- Progress, new clips, deletion -------------------------------------------------------------

  function redraw() {
    drawClip();
    const clip = viewed();
    shareButton.disabled = !(clip && clip.status === "ready");
    drawAbout(clip);
    drawVersions();
  }

  const anyPending = () => photo.clips.some(isPending);

  // The whole photo again: which clip is shown is the server's to say (app/clips.py clip_to_show).
  async function reloadPhoto() {
    const result = await api("GET", `/api/photos/${encodeURIComponent(photo.id)}`);
    if (!result.ok) return false;
    const readyBefore = photo.clips.filter((c) => c.status === "ready").length;
    photo = result.data;
    redraw();
    if (photo.clips.filter((c) => c.status === "ready").length !== readyBefore) loadShares();
    return true;
  }

  const poller = pollWhile(async () => (await reloadPhoto()) ? anyPending() : true);

  document.querySelector("[data-new-clip]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const submit = form.querySelector('button[type="submit"]');
    const body = {
      strength: form.elements.strength.value,
      camera: form.elements.camera.value,
      ambient: form.elements.ambient.value,
      loop: form.elements.loop.checked,
    };
    if (anythingPainted()) body.keep_still = canvas.toDataURL("image/png");
    submit.disabled = true;
    const result = await api("POST", `/api/photos/${encodeURIComponent(photo.id)}/clips`, body);
    submit.disabled = false;
    if (!result.ok) {
      showError(errorBox, `Could not start a new clip: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    photo.clips.push(result.data);
    viewing = result.data.id; // watch it being made; the one shown elsewhere changes only once it is ready
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
  if (anyPending()) poller.start();
});
