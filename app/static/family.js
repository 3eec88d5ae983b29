// The family page: anyone changes their own password; an admin adds someone (they appear in the list
// without a reload), sets a forgotten password, or removes an account.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError } = window.Vivant;

  // The first problem with a password field, in words, or "" when there is none.
  function passwordProblem(field, again) {
    if (!field.value) return "Please fill in the password.";
    if (field.value.length < field.minLength) {
      return `The password needs at least ${field.minLength} characters.`;
    }
    if (again && again.value !== field.value) return "The two new passwords are not the same.";
    return "";
  }

  // Sends a form's body; shows the refusal in its error line, or the success text in its status line.
  function wire(form, { send, done }) {
    if (!form) return;
    const errorBox = form.querySelector(".form-error");
    const status = form.querySelector(".form-done");
    const submit = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.hidden = true;
      const problem = send.check();
      showError(errorBox, problem);
      if (problem) return;
      submit.disabled = true;
      const result = await api("POST", send.url, send.body());
      submit.disabled = false;
      if (!result.ok) {
        showError(errorBox, result.error);
        return;
      }
      status.textContent = done(result.data);
      status.hidden = false;
      form.reset();
    });
  }

  const addForm = document.querySelector("[data-add-member]");
  const list = document.querySelector("[data-member-list]");
  wire(addForm, {
    send: {
      url: "/api/users",
      check: () =>
        addForm.elements.email.value.trim()
          ? passwordProblem(addForm.elements.password)
          : "Please fill in their e-mail.",
      body: () => ({
        email: addForm.elements.email.value.trim(),
        password: addForm.elements.password.value,
        is_admin: addForm.elements.is_admin.checked,
      }),
    },
    done: (member) => {
      list.append(memberRow(member));
      return `Added ${member.email}. Give them the password you chose.`;
    },
  });

  // ---- An admin's actions on someone else's account ----------------------------------------

  const memberStatus = document.querySelector("[data-member-status]");
  const memberError = document.querySelector("[data-member-error]");

  function memberRow(member) {
    return el(
      "li",
      { className: "member", "data-member": member.email, "data-user-id": member.id },
      el("span", { className: "member-email", text: member.email }),
      member.is_admin ? el("span", { className: "tag", text: "admin" }) : null,
      el(
        "span",
        { className: "member-actions" },
        el("button", {
          type: "button",
          className: "button quiet small",
          "data-reset-password": true,
          text: "New password",
        }),
        el("button", {
          type: "button",
          className: "button quiet small danger",
          "data-remove-member": true,
          text: "Remove",
        }),
      ),
    );
  }

  function report(message, failed) {
    memberStatus.textContent = failed ? "" : message;
    memberStatus.hidden = failed || !message;
    showError(memberError, failed ? message : "");
  }

  async function resetPassword(row) {
    const email = row.dataset.member;
    const password = window.prompt(
      `A new password for ${email} (at least 8 characters). Give it to them yourself.`,
    );
    if (password === null) return;
    if (password.length < 8) {
      report("The password needs at least 8 characters.", true);
      return;
    }
    const url = `/api/users/${encodeURIComponent(row.dataset.userId)}/password`;
    const result = await api("POST", url, { password });
    if (result.ok) report(`${email} has a new password and was signed out everywhere.`, false);
    else report(result.error, true);
  }

  async function removeMember(row) {
    const email = row.dataset.member;
    if (!window.confirm(`Remove ${email}? They can no longer sign in; the photos they added stay.`)) return;
    const result = await api("DELETE", `/api/users/${encodeURIComponent(row.dataset.userId)}`);
    if (result.ok) {
      row.remove();
      report(`${email} was removed.`, false);
    } else {
      report(result.error, true);
    }
  }

  list?.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const row = button?.closest("[data-user-id]");
    if (!row) return;
    if (button.hasAttribute("data-reset-password")) resetPassword(row);
    else if (button.hasAttribute("data-remove-member")) removeMember(row);
  });

  const passwordForm = document.querySelector("[data-change-password]");
  wire(passwordForm, {
    send: {
      url: "/api/me/password",
      check: () =>
        passwordForm.elements.current_password.value
          ? passwordProblem(passwordForm.elements.new_password, passwordForm.elements.new_password_again)
          : "Please fill in your current password.",
      body: () => ({
        current_password: passwordForm.elements.current_password.value,
        new_password: passwordForm.elements.new_password.value,
      }),
    },
    done: () => "Your password is changed. Other devices signed in as you have been signed out.",
  });
});
