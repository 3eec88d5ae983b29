// The album film, played in the browser: full screen, each photo's clip once, then its still held a moment,
// then a cross-fade into the next. Self-contained and without API calls, so that any page can hand it items:
//   window.VivantPlayer.open([{ title, still_url, clip_url, original_url }, ...], { album, startIndex, onClose })
// where `album` is the album's title, shown above each photo's date.
"use strict";

window.VivantPlayer = (() => {
  // The exported film's timing (worker/film_plan.py FilmTiming), which the page carries in a meta tag.
  const timing = (() => {
    try {
      return JSON.parse(document.querySelector('meta[name="vivant-film-timing"]').content);
    } catch {
      return {};
    }
  })();
  const HOLD_MS = timing.hold_ms ?? 1500; // the still at the end of a clip, before the fade
  const STILL_MS = timing.still_ms ?? 3000; // a photo without a clip
  const FADE_MS = timing.fade_ms ?? 750; // .player-layer's transition reads it from --player-fade
  const SWIPE_PX = 50;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  let playing = null; // the one open player

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children);
    return node;
  }

  // A timeout that can be paused and resumed where it left off (the hold of a still).
  function countdown() {
    let timer = null;
    let then = null;
    let left = 0;
    let since = 0;
    const api = {
      start(ms, action, running) {
        api.cancel();
        then = action;
        left = ms;
        if (running) api.resume();
      },
      pause() {
        if (timer === null) return;
        clearTimeout(timer);
        timer = null;
        left -= performance.now() - since;
      },
      resume() {
        if (then === null || timer !== null) return;
        since = performance.now();
        timer = setTimeout(() => {
          const action = then;
          timer = then = null;
          action();
        }, Math.max(0, left));
      },
      cancel() {
        clearTimeout(timer);
        timer = then = null;
      },
    };
    return api;
  }

  function button(className, label, glyph) {
    return el("button", { type: "button", className: `player-button ${className}`, "aria-label": label, title: label }, glyph);
  }

  function open(items, options = {}) {
    if (!Array.isArray(items) || items.length === 0) return null;
    if (playing) playing.close();
    const opener = document.activeElement;
    const onClose = typeof options.onClose === "function" ? options.onClose : () => {};
    const first = Math.min(Math.max(0, Number(options.startIndex) || 0), items.length - 1);

    // 1. The overlay: two or more stacked layers on the stage, the bars over them.
    const stage = el("div", { className: "player-stage" });
    const albumTitle = el("p", { className: "player-album", text: options.album || "" });
    albumTitle.hidden = !options.album;
    const title = el("p", { className: "player-title" });
    const count = el("p", { className: "player-count" });
    const original = el("a", { className: "player-button player-original", title: "The original photo" }, "Original");
    const close = button("player-close", "Close the film (Esc)", "✕");
    const previous = button("player-previous", "Previous photo (←)", "‹");
    const toggle = button("player-toggle", "Pause (Space)", "❚❚");
    const next = button("player-next", "Next photo (→)", "›");
    const again = el("button", { type: "button", className: "button primary player-again" }, "Play again");
    const end = el("div", { className: "player-end" }, again);
    end.hidden = true;
    const overlay = el(
      "div",
      {
        className: "player",
        role: "dialog",
        "aria-modal": "true",
        "aria-label": options.album ? `Album film: ${options.album}` : "Album film",
        tabindex: "-1",
      },
      stage,
      el("div", { className: "player-bar player-top" }, el("div", { className: "player-caption" }, albumTitle, title, count), original, close),
      end,
      el("div", { className: "player-bar player-controls" }, previous, toggle, next),
    );
    overlay.style.setProperty("--player-fade", `${FADE_MS}ms`);

    // Everything behind the dialog is out of reach of the keyboard and of screen readers while it is open.
    const inerted = [...document.body.children].filter((node) => !node.inert);
    for (const node of inerted) node.inert = true;
    document.body.append(overlay);
    document.body.classList.add("player-open");

    let index = first;
    let phase = "clip"; // "clip" (playing) | "hold" (its still) | "end" (the last still, Play again shown)
    let paused = false;
    let video = null; // the current item's video, if it has one
    let wasFullscreen = false;
    const hold = countdown();

    function drop(layer) {
      const old = layer.querySelector("video");
      if (old) {
        old.pause();
        old.removeAttribute("src");
        old.load(); // frees the decoder at once rather than when collected
      }
      layer.remove();
    }

    function playVideo() {
      const current = video;
      current.play().catch((error) => {
        // A browser that refuses autoplay leaves the film paused: the Play button starts it.
        if (error.name === "NotAllowedError" && current === video) setPaused(true);
      });
    }

    function startHold(ms) {
      phase = "hold";
      hold.start(ms, advance, !paused);
    }

    function layerFor(item, at) {
      const layer = el("div", { className: "player-layer", "data-index": at });
      layer.append(el("img", { className: "player-still", src: item.still_url, alt: "" }));
      if (item.clip_url) {
        const clip = el("video", { className: "player-video", src: item.clip_url, poster: item.still_url, preload: "auto", playsinline: true, muted: true });
        clip.muted = true; // the attribute alone does not mute a video made by script
        clip.playsInline = true;
        clip.addEventListener("ended", () => {
          if (clip === video && phase === "clip") startHold(HOLD_MS); // it ends on its last frame: the photo at rest
        });
        clip.addEventListener("error", () => {
          if (clip !== video) return;
          clip.remove(); // the still beneath it stays
          video = null;
          if (phase === "clip") startHold(STILL_MS);
        });
        layer.append(clip);
      }
      return layer;
    }

    // 2. One item: a new layer over the old ones, faded in; the old ones go once it covers them.
    function show(at, fade) {
      hold.cancel();
      index = at;
      const item = items[at];
      const old = [...stage.children];
      for (const layer of old) layer.classList.remove("current");
      const layer = layerFor(item, at);
      stage.append(layer);
      const instant = !fade || reducedMotion.matches;
      if (!instant) void layer.offsetWidth; // starts the transition from opacity 0
      layer.classList.add("current", "shown");
      setTimeout(() => old.forEach(drop), instant ? 0 : FADE_MS);

      title.textContent = item.title || "";
      count.textContent = `${at + 1} / ${items.length}`;
      original.href = item.original_url;
      previous.disabled = at === 0;
      next.disabled = at === items.length - 1;
      end.hidden = true;
      video = layer.querySelector("video");
      phase = video ? "clip" : "hold";
      showToggle();
      if (!video) startHold(STILL_MS);
      else if (!paused) playVideo();
      if (at + 1 < items.length) new Image().src = items[at + 1].still_url; // ready before its fade
    }

    function advance() {
      if (index + 1 < items.length) return show(index + 1, true);
      phase = "end";
      end.hidden = false;
      showToggle();
      again.focus();
    }

    function showToggle() {
      const label = phase === "end" ? "Play again (Space)" : paused ? "Play (Space)" : "Pause (Space)";
      toggle.setAttribute("aria-label", label);
      toggle.title = label;
      toggle.textContent = paused || phase === "end" ? "▶" : "❚❚";
      overlay.classList.toggle("paused", paused);
    }

    function setPaused(on) {
      paused = on;
      if (phase === "clip" && video) {
        if (paused) video.pause();
        else playVideo();
      }
      if (paused) hold.pause();
      else hold.resume();
      showToggle();
    }

    function playAgain() {
      paused = false;
      show(0, true);
      toggle.focus();
    }

    const togglePlay = () => (phase === "end" ? playAgain() : setPaused(!paused));
    const goNext = () => index + 1 < items.length && show(index + 1, true);
    const goPrevious = () => index > 0 && show(index - 1, true);

    // 3. Keys, buttons, swipes and leaving full screen.
    function onKey(event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const actions = { " ": togglePlay, ArrowRight: goNext, ArrowLeft: goPrevious, Escape: shut };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault(); // a focused button would otherwise take Space as a click too
      action();
    }
    // Space clicks a focused button on key up; the key down above already acted.
    const onKeyUp = (event) => event.key === " " && event.preventDefault();

    let swipe = null;
    overlay.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse") return;
      swipe = { id: event.pointerId, x: event.clientX, y: event.clientY };
    });
    overlay.addEventListener("pointerup", (event) => {
      if (!swipe || event.pointerId !== swipe.id) return;
      const dx = event.clientX - swipe.x;
      const dy = event.clientY - swipe.y;
      swipe = null;
      if (Math.abs(dx) < SWIPE_PX || Math.abs(dx) < Math.abs(dy)) return;
      if (dx < 0) goNext();
      else goPrevious();
    });
    overlay.addEventListener("pointercancel", () => (swipe = null));

    function onFullscreen() {
      if (document.fullscreenElement === overlay) wasFullscreen = true;
      else if (wasFullscreen) shut(); // the browser's own Esc (or gesture) left full screen: the film ends too
    }

    function shut() {
      if (playing !== handle) return;
      playing = null;
      hold.cancel();
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("keyup", onKeyUp);
      document.removeEventListener("fullscreenchange", onFullscreen);
      if (document.fullscreenElement === overlay) document.exitFullscreen().catch(() => {});
      for (const layer of [...stage.children]) drop(layer);
      overlay.remove();
      for (const node of inerted) node.inert = false;
      document.body.classList.remove("player-open");
      if (opener && typeof opener.focus === "function" && opener.isConnected) opener.focus();
      onClose();
    }

    close.addEventListener("click", shut);
    previous.addEventListener("click", goPrevious);
    next.addEventListener("click", goNext);
    toggle.addEventListener("click", togglePlay);
    again.addEventListener("click", playAgain);
    document.addEventListener("keydown", onKey);
    document.addEventListener("keyup", onKeyUp);
    document.addEventListener("fullscreenchange", onFullscreen);

    const handle = { close: shut, next: goNext, previous: goPrevious, toggle: togglePlay };
    playing = handle;
    // Full screen where the browser allows it; the fixed overlay already covers the page where it does not.
    if (document.fullscreenEnabled && overlay.requestFullscreen) overlay.requestFullscreen().catch(() => {});
    show(first, false);
    toggle.focus();
    return handle;
  }

  return { open };
})();
