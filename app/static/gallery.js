// The gallery: a timeline of thumbnails by the month they were taken, newest first, with a jump to any
// year; clips that play on hover or tap (tiles.js); live progress of clips in the works; selection mode
// (selection.js). With ?favourites=1, only the member's favourites.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError, newestClip, isPending, pollWhile } = window.Vivant;
  const timeline = document.querySelector("[data-gallery]");
  const yearsNav = document.querySelector("[data-years]");
  const year = new URLSearchParams(location.search).get("year");
  // The Favourites view: the same timeline, only the photos this member marked.
  const favourites = new URLSearchParams(location.search).get("favourites") === "1";
  const months = new Map(); // "2023-02" -> the <ul> of that month
  const loading = document.querySelector("[data-gallery-loading]");
  const empty = document.querySelector("[data-gallery-empty]");
  const errorBox = document.querySelector("[data-gallery-error]");
  const moreButton = document.querySelector("[data-load-more]");
  const PAGE = 60;
  const tiles = new Map(); // photo id -> {item, photo}
  let cursor = null;

  // The camera's wall clock, as the server sorts by: "2023-02-21T14:33:08+03:00" is February's.
  const monthKey = (photo) => photo.taken_at.slice(0, 7);
  const sortKey = (photo) => `${photo.taken_at.slice(0, 19)} ${photo.id}`;

  function monthTitle(key) {
    const [y, m] = key.split("-").map(Number);
    return new Date(y, m - 1, 1).toLocaleDateString(undefined, { month: "long", year: "numeric" });
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

  // Takes away the tiles of deleted photos, and a month left empty.
  function removed(ids) {
    for (const id of ids) {
      const entry = tiles.get(id);
      if (!entry) continue;
      tiles.delete(id);
      const list = entry.item.parentElement;
      entry.item.remove();
      if (list && !list.children.length) {
        months.delete(list.parentElement.dataset.month);
        list.parentElement.remove();
      }
    }
    showState();
  }

  const selection = window.VivantSelection.create(timeline, { removed, reload: () => refresh().then((more) => more && poller.start()) });

  // Puts a photo's tile in its month, in date order. A photo older than the last page loaded waits for
  // "Load more" to reach it, so the timeline never shows a gap as if it were complete.
  let oldestLoaded = null;
  function place(photo) {
    let entry = tiles.get(photo.id);
    if (!entry) {
      if (cursor && oldestLoaded && sortKey(photo) < oldestLoaded) return;
      entry = { item: window.VivantTiles.make(photo, selection) };
      entry.item.dataset.sort = sortKey(photo);
      tiles.set(photo.id, entry);
      const list = monthList(monthKey(photo));
      const before = [...list.children].find((other) => other.dataset.sort < entry.item.dataset.sort);
      list.insertBefore(entry.item, before || null);
    }
    entry.photo = photo;
    window.VivantTiles.update(entry.item, photo);
    if (selection.active()) selection.render();
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
    if (favourites) query.set("favourites", "true");
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
    if (favourites) query.set("favourites", "true");
    const result = await api("GET", `/api/photos?${query}`);
    if (!result.ok) return true; // a hiccup: try again on the next beat
    for (const photo of result.data.items) place(photo);
    showState();
    return anyPending();
  }

  const poller = pollWhile(refresh);
  moreButton.addEventListener("click", loadPage);
  loadPage();
  if (!favourites) loadYears();
});
