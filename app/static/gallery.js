// The gallery: thumbnails newest first, clips that play on hover or tap, live progress of clips in the works.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, newestClip, newestReadyClip, isPending, pollWhile } = window.Vivant;
  const grid = document.querySelector("[data-gallery]");
  const loading = document.querySelector("[data-gallery-loading]");
  const empty = document.querySelector("[data-gallery-empty]");
  const errorBox = document.querySelector("[data-gallery-error]");
  const moreButton = document.querySelector("[data-load-more]");
  const PAGE = 60;
  const tiles = new Map(); // photo id -> {item, photo}
  let cursor = null;
  let lastPointer = "mouse";

  function tileFor(photo) {
    const link = el("a", { className: "tile", href: `/photos/${encodeURIComponent(photo.id)}` });
    const img = el("img", {
      src: photo.thumbnail_url,
      alt: photo.original_name,
      loading: "lazy",
      width: photo.width,
      height: photo.height,
    });
    link.append(img);
    const item = el("li", { className: "tile-item", "data-photo-id": photo.id }, link);
    link.addEventListener("pointerenter", (e) => {
      if (e.pointerType === "mouse") play(item);
    });
    link.addEventListener("pointerleave", (e) => {
      if (e.pointerType === "mouse") stop(item);
    });
    link.addEventListener("pointerdown", (e) => {
      lastPointer = e.pointerType;
    });
    // Touch has no hover: the first tap plays the clip, the second opens the photo.
    link.addEventListener("click", (e) => {
      const video = item.querySelector("video");
      if (lastPointer !== "mouse" && video && !item.classList.contains("playing")) {
        e.preventDefault();
        for (const other of grid.querySelectorAll(".tile-item.playing")) stop(other);
        play(item);
      }
    });
    return item;
  }

  function play(item) {
    const video = item.querySelector("video");
    if (!video) return;
    item.classList.add("playing");
    video.play().catch(() => item.classList.remove("playing"));
  }

  function stop(item) {
    const video = item.querySelector("video");
    item.classList.remove("playing");
    if (video) video.pause();
  }

  // Brings one tile in line with its photo's clips, touching only what changed.
  function update(item, photo) {
    const link = item.querySelector("a");
    const clip = newestClip(photo);
    const ready = newestReadyClip(photo);

    let video = link.querySelector("video");
    if (ready && (!video || video.dataset.clipId !== ready.id)) {
      if (video) video.remove();
      video = el("video", {
        src: ready.video_url,
        poster: ready.poster_url,
        muted: true,
        loop: true,
        playsinline: true,
        preload: "none",
        "data-clip-id": ready.id,
        "aria-hidden": "true",
      });
      video.muted = true; // the attribute alone does not mute a video made by script
      link.append(video);
    } else if (!ready && video) {
      video.remove();
    }
    setBadge(link, "badge motion", ready ? "motion" : null);

    let bar = link.querySelector("progress");
    if (isPending(clip)) {
      if (!bar) {
        bar = el("progress", { max: 1, "aria-label": "Making the clip" });
        link.append(bar);
      }
      // Left without a value while queued: the bar then shows as waiting rather than as 0 %.
      if (clip.status === "running") bar.value = clip.progress;
      bar.title = clip.status === "queued" ? "Waiting for its turn" : `${Math.round(clip.progress * 100)} %`;
    } else if (bar) {
      bar.remove();
    }

    const failed = clip && clip.status === "failed";
    const mark = setBadge(link, "badge failed", failed ? "failed" : null);
    if (mark) mark.title = clip.error || "The clip could not be made.";
  }

  function setBadge(link, className, text) {
    const selector = "." + className.split(" ").join(".");
    let badge = link.querySelector(selector);
    if (!text) {
      if (badge) badge.remove();
      return null;
    }
    if (!badge) {
      badge = el("span", { className });
      link.append(badge);
    }
    badge.textContent = text;
    return badge;
  }

  function place(photo, atTop) {
    let entry = tiles.get(photo.id);
    if (!entry) {
      entry = { item: tileFor(photo) };
      tiles.set(photo.id, entry);
      if (atTop) grid.prepend(entry.item);
      else grid.append(entry.item);
    }
    entry.photo = photo;
    update(entry.item, photo);
  }

  const anyPending = () => [...tiles.values()].some((t) => isPending(newestClip(t.photo)));

  function showState() {
    loading.hidden = true;
    empty.hidden = tiles.size > 0;
    moreButton.hidden = !cursor;
  }

  async function loadPage() {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) query.set("cursor", cursor);
    moreButton.disabled = true;
    const result = await api("GET", `/api/photos?${query}`);
    moreButton.disabled = false;
    if (!result.ok) {
      loading.hidden = true;
      showError(errorBox, `Could not load your photos: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    for (const photo of result.data.items) place(photo, false);
    cursor = result.data.next_cursor;
    showState();
    if (anyPending()) poller.start();
  }

  // Refreshes the newest photos (where clips in the works are), adding ones uploaded meanwhile.
  async function refresh() {
    const limit = Math.min(200, Math.max(PAGE, tiles.size));
    const result = await api("GET", `/api/photos?limit=${limit}`);
    if (!result.ok) return true; // a hiccup: try again on the next beat
    const fresh = result.data.items.filter((p) => !tiles.has(p.id)).reverse();
    for (const photo of result.data.items) if (tiles.has(photo.id)) place(photo, false);
    for (const photo of fresh) place(photo, true);
    showState();
    return anyPending();
  }

  const poller = pollWhile(refresh);
  moreButton.addEventListener("click", loadPage);
  loadPage();
});
