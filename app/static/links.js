// The Links page: revoke a live link (or clear away an expired one); its row leaves the list.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, showError } = window.Vivant;
  const list = document.querySelector("[data-link-list]");
  const status = document.querySelector("[data-link-status]");
  const errorBox = document.querySelector("[data-link-error]");
  const empty = document.querySelector("[data-links-empty]");

  async function revoke(row, button) {
    const title = row.dataset.title;
    const live = row.dataset.status === "live";
    if (live && !window.confirm(`Revoke this link to ${title}? Whoever has it can no longer open it.`)) {
      return;
    }
    button.disabled = true;
    const result = await api("DELETE", `/api/shares/${encodeURIComponent(row.dataset.shareId)}`);
    if (!result.ok) {
      button.disabled = false;
      showError(errorBox, `Could not revoke the link: ${result.error}`);
      return;
    }
    row.remove();
    showError(errorBox, "");
    status.textContent = live
      ? `The link to ${title} is revoked: it no longer opens.`
      : `The expired link to ${title} is cleared away.`;
    status.hidden = false;
    empty.hidden = list.children.length > 0;
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-revoke]");
    if (button) revoke(button.closest("[data-share-id]"), button);
  });
});
