// The Tasks page and the Users page.
"use strict";

/** Tasks: every task this cluster recorded, with its status and errors. */
Concord.pages.tasks = async (main) => {
  const list = h("div", { id: "tasks" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  main.replaceChildren(h("h1", {}, "Tasks"), error, list);
  every(3000, async () => {
    try {
      const [tasks, crdbs] = await Promise.all([api("GET", "/v1/crdb_tasks"), api("GET", "/v1/crdbs")]);
      showError(error, "");
      const names = new Map(crdbs.map((d) => [d.guid, d.name]));
      // Tasks under way first, then the ended ones as the cluster lists them.
      const running = tasks.filter((t) => ["queued", "started"].includes(t.status));
      const ended = tasks.filter((t) => !running.includes(t));
      list.replaceChildren(...[...running, ...ended].map((t) =>
        taskView(t, names.get(t.crdb_guid) || t.crdb_guid)));
      if (!tasks.length) list.replaceChildren(h("p", { class: "muted" }, "No tasks yet."));
    } catch (e) {
      showError(error, "Could not read the tasks: " + e.message);
    }
  });
};

/** Users: add, change and remove the cluster's users (Admin). */
Concord.pages.users = async (main) => {
  if (!allowed("admin")) {
    main.replaceChildren(h("p", { class: "error" }, "Managing users needs the Admin role."));
    return;
  }
  const role = (selected) => h("select", { "aria-label": "Role" },
    Object.entries(ROLE_NAMES).map(([v, label]) => h("option", { value: v, selected: v === selected }, label)));
  const table = h("tbody");
  const listError = h("p", { class: "error", role: "alert", hidden: true });
  // One user's row, saved and removed on its own (what is typed in the others stays).
  const rowFor = (u) => {
    const newRole = role(u.role);
    const newPassword = h("input", { type: "password", placeholder: "unchanged", autocomplete: "new-password", "aria-label": "New password" });
    const rowError = h("p", { class: "error", role: "alert", hidden: true });
    const save = h("button", {
      type: "button", onclick: async () => {
        const change = {};
        if (newRole.value !== u.role) change.role = newRole.value;
        if (newPassword.value) change.password = newPassword.value;
        if (!Object.keys(change).length) {
          rowError.className = "muted";
          showError(rowError, "Nothing changed.");
          return;
        }
        try {
          // Only this row changes: what is typed in the others stays.
          const saved = await api("PUT", "/v1/users/" + u.uid, change);
          u.role = saved.role;
          newPassword.value = "";
          rowError.className = "muted";
          showError(rowError, "Saved.");
        } catch (e) {
          rowError.className = "error";
          showError(rowError, e.message);
        }
      },
    }, "Save");
    const remove = h("button", {
      type: "button", class: "danger", onclick: async () => {
        if (!(await confirmAction(`Remove ${u.name}?`, "The user can no longer log in or call the API; other clusters using it as their service account lose access.", "Remove"))) return;
        try {
          await api("DELETE", "/v1/users/" + u.uid);
          remove.closest("tr").remove();
        } catch (e) {
          rowError.className = "error";
          showError(rowError, e.message);
        }
      },
    }, "Remove");
    return h("tr", { "data-user": u.name },
      h("td", {}, u.name), h("td", {}, u.email || ""), h("td", {}, newRole),
      h("td", {}, newPassword), h("td", {}, save, " ", remove, rowError));
  };
  const load = async () => {
    try {
      const users = await api("GET", "/v1/users");
      showError(listError, "");
      table.replaceChildren(...users.map(rowFor));
    } catch (e) {
      showError(listError, "Could not read the users: " + e.message);
    }
  };
  const name = h("input", { id: "user-name", required: true, autocomplete: "off" });
  const email = h("input", { id: "user-email", type: "email", autocomplete: "off" });
  const password = h("input", { id: "user-password", type: "password", required: true, autocomplete: "new-password" });
  const newRole = role("db_viewer");
  newRole.id = "user-role";
  const addError = h("p", { class: "error", role: "alert", hidden: true, id: "user-error" });
  const form = h("form", { id: "user-form" },
    h("fieldset", {}, h("legend", {}, "Add a user"),
      h("label", {}, "Name ", name), h("label", {}, "E-mail ", email),
      h("label", {}, "Password ", password), h("label", {}, "Role ", newRole),
      addError, h("button", { type: "submit" }, "Add user")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const made = await api("POST", "/v1/users", { name: name.value, email: email.value, password: password.value, role: newRole.value });
      showError(addError, "");
      form.reset();
      table.append(rowFor(made));
    } catch (e) {
      // What was typed stays: only the error is shown.
      showError(addError, e.message);
    }
  });
  main.replaceChildren(h("h1", {}, "Users"), listError,
    h("table", { class: "list", id: "users" },
      h("thead", {}, h("tr", {}, ["Name", "E-mail", "Role", "Password", ""].map((c) => h("th", {}, c)))), table),
    form);
  await load();
};
