// The gallery: a timeline of thumbnails by the month they were taken, newest first, with a jump to any
// year; clips that play on hover or tap; live progress of clips in the works.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, newestClip, newestReadyClip, isPending, pollWhile } = window.Vivant;
  const timeline = document.querySelector("[data-gallery]");
  const yearsNav = document.querySelector("[data-years]");
  const year = new URLSearchParams(location.search).get("year");
  const months = new Map(); // "2023-02" -> the <ul> of that month
  const loading = document.querySelector("[data-gallery-loading]");
  const empty = document.querySelector("[data-gallery-empty]");
  const errorBox = document.querySelector("[data-gallery-error]");
  const moreButton = document.querySelector("[data-load-more]");
  const PAGE = 60;
  const tiles = new Map(); // photo id -> {item, photo}
  let cursor = null;
  let lastPointer = "mouse";

  // The camera's wall clock, as the server sorts by: "2023-02-21T14:33:08+03:00" is February's.
  const monthKey = (photo) => photo.taken_at.slice(0, 7);
  const sortKey = (photo) => `${photo.taken_at.slice(0, 19)} ${photo.id}`;

  function monthTitle(key) {
    const [y, m] = key.split("-").map(Number);
    return new Date(y, m - 1, 1).toLocaleDateString(undefined, { month: "long", year: "numeric" });
  }

  function takenWords(photo) {
    const [y, m, d] = photo.taken_at.slice(0, 10).split("-").map(Number);
    const day = new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });
    return photo.taken_at_source === "exif" ? `Photo taken ${day}` : `Photo added ${day} (no date taken in the file)`;
  }

  // The list of a month, made in its place among the others (newest month first).
  function monthList(key) {
    let list = months.get(key);
    if (list) return list;
    list = el("ul", { className: "grid", "aria-label": monthTitle(key) });
    const section = el("section", { className: "month", "data-month": key },
      el("h2", { className: "month-title" }, monthTitle(key)), list);
    const after = [...months.keys()].filter((other) => other < key).sort().pop();
    if (after) timeline.insertBefore(section, months.get(after).parentElement);
    else timeline.append(section);
    months.set(key, list);
    return list;
  }

  function tileFor(photo) {
    const link = el("a", { className: "tile", href: `/photos/${encodeURIComponent(photo.id)}` });
    link.title = takenWords(photo);
    const img = el("img", {
      src: photo.thumbnail_url,
      alt: takenWords(photo),
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
        for (const other of timeline.querySelectorAll(".tile-item.playing")) stop(other);
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
    const ready = window.Vivant.shownClip(photo);

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

  // Puts a photo's tile in its month, in date order. A photo older than the last page loaded waits for
  // "Load more" to reach it, so the timeline never shows a gap as if it were complete.
  let oldestLoaded = null;
  function place(photo) {
    let entry = tiles.get(photo.id);
    if (!entry) {
      if (cursor && oldestLoaded && sortKey(photo) < oldestLoaded) return;
      entry = { item: tileFor(photo) };
      entry.item.dataset.sort = sortKey(photo);
      tiles.set(photo.id, entry);
      const list = monthList(monthKey(photo));
      const before = [...list.children].find((other) => other.dataset.sort < entry.item.dataset.sort);
      list.insertBefore(entry.item, before || null);
    }
    entry.photo = photo;
    update(entry.item, photo);
  }

  async function loadYears() {
    const result = await api("GET", "/api/photos/years");
    if (!result.ok || result.data.length < 2) return;
    const links = result.data.map(({ year: y, count }) => {
      const link = el("a", { href: `/?year=${y}`, title: `${count} photo${count === 1 ? "" : "s"}` }, String(y));
      if (String(y) === year) link.setAttribute("aria-current", "page");
      return link;
    });
    yearsNav.replaceChildren(el("span", { className: "years-label" }, "Jump to"),
      el("a", { href: "/", ...(year ? {} : { "aria-current": "page" }) }, "Newest"), ...links);
    yearsNav.hidden = false;
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
    if (year) query.set("year", year);
    moreButton.disabled = true;
    const result = await api("GET", `/api/photos?${query}`);
    moreButton.disabled = false;
    if (!result.ok) {
      loading.hidden = true;
      showError(errorBox, `Could not load your photos: ${result.error}`);
      return;
    }
    showError(errorBox, "");
    cursor = result.data.next_cursor;
    const items = result.data.items;
    if (items.length) oldestLoaded = sortKey(items[items.length - 1]);
    for (const photo of items) place(photo);
    showState();
    if (anyPending()) poller.start();
  }

  // Refreshes the photos shown (where clips in the works are), adding ones uploaded meanwhile.
  async function refresh() {
    const query = new URLSearchParams({ limit: String(Math.min(200, Math.max(PAGE, tiles.size))) });
    if (year) query.set("year", year);
    const result = await api("GET", `/api/photos?${query}`);
    if (!result.ok) return true; // a hiccup: try again on the next beat
    for (const photo of result.data.items) place(photo);
    showState();
    return anyPending();
  }

  const poller = pollWhile(refresh);
  moreButton.addEventListener("click", loadPage);
  loadPage();
  loadYears();
});
