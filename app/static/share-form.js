// The "make a share link" dialog, the same for a clip (photo page) and a whole album (album page):
// expiry, password, downloads; the URL is shown once, with a copy button. Markup: _share_dialog.html.
"use strict";

window.VivantShareForm = (() => {
  const { api, showError } = window.Vivant;

  // `endpoint()` gives the URL to POST to when the form is sent; `created(share)` runs once a link is made.
  function create(dialog, { endpoint, created = () => {} }) {
    const form = dialog.querySelector("[data-share-form]");
    const result = dialog.querySelector("[data-share-result]");
    const formError = form.querySelector(".form-error");
    const urlBox = result.querySelector("[data-share-url]");
    const copy = result.querySelector("[data-copy]");

    function open() {
      form.reset();
      form.hidden = false;
      result.hidden = true;
      showError(formError, "");
      dialog.showModal();
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const password = form.elements.password.value;
      if (password && password.length < 4) {
        showError(formError, "A password needs at least 4 characters (or leave it empty).");
        return;
      }
      const body = { allow_download: form.elements.allow_download.checked };
      if (form.elements.expires.value) body.expires_in_days = Number(form.elements.expires.value);
      if (password) body.password = password;
      const submit = form.querySelector('button[type="submit"]');
      submit.disabled = true;
      const made = await api("POST", endpoint(), body);
      submit.disabled = false;
      if (!made.ok) {
        showError(formError, made.error);
        return;
      }
      form.hidden = true;
      result.hidden = false;
      urlBox.value = made.data.url;
      urlBox.select();
      created(made.data);
    });

    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(urlBox.value);
        copy.textContent = "Copied";
      } catch {
        // No clipboard permission (plain http on a LAN address): leave it selected for Ctrl+C.
        urlBox.select();
        copy.textContent = "Press Ctrl+C";
      }
      setTimeout(() => {
        copy.textContent = "Copy";
      }, 2000);
    });

    for (const close of dialog.querySelectorAll("[data-close-dialog]")) {
      close.addEventListener("click", () => dialog.close());
    }
    return { open };
  }

  return { create };
})();
