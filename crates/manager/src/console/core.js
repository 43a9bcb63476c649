// The console's core: calls to the REST API (the only thing the page talks to), the
// login dialog, roles, the page router and small DOM helpers. Pages live in the other
// files and register themselves in `Concord.pages`.
"use strict";

const Concord = {
  token: sessionStorage.getItem("concord.token"),
  user: JSON.parse(sessionStorage.getItem("concord.user") || "null"),
  cluster: null,
  schema: null,
  pages: {},
  // Bumped at every navigation: a page's pollers and late answers of a page no longer on
  // screen see it changed and stop.
  generation: 0,
  // A login under way, shared by every call that found the session ended.
  relogin: null,
};

const ROLE_RANK = { db_viewer: 0, db_member: 1, admin: 2 };
const ROLE_NAMES = { db_viewer: "Viewer", db_member: "DB Member", admin: "Admin" };

/** An error the API answered (or the network's), in words for people. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Whether the logged-in user's role is at least `role`. */
function allowed(role) {
  return !!Concord.user && ROLE_RANK[Concord.user.role] >= ROLE_RANK[role];
}

/** Calls the API; on an ended session, asks for the login and tries again. */
async function api(method, path, body) {
  for (;;) {
    const headers = { Accept: "application/json" };
    if (Concord.token) headers.Authorization = "Bearer " + Concord.token;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", "The cluster did not answer. Check that its manager is running and reachable, then try again.");
    }
    if (r.status === 401 && path !== "/v1/users/authorize") {
      await login("Your session has ended. Log in again to go on; nothing you typed is lost.");
      continue;
    }
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!r.ok) {
      const why = (json && json.description) || text || r.statusText;
      throw new ApiError(r.status, json && json.error_code, explain(r.status, why));
    }
    return json;
  }
}

/** The API's description, with what a person can do about the status. */
function explain(status, why) {
  if (status === 403) return "Your role does not allow this: " + why;
  if (status === 408) return "The cluster took too long: " + why;
  if (status === 503) return "The cluster is busy; try again in a moment. (" + why + ")";
  return why;
}

/** Shows the login dialog until a login succeeds. */
function login(reason) {
  if (Concord.relogin) return Concord.relogin;
  const dialog = el("login");
  el("login-reason").textContent = reason || "";
  el("login-error").hidden = true;
  Concord.relogin = new Promise((resolve) => {
    const form = el("login-form");
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const submit = el("login-submit");
      submit.disabled = true;
      try {
        const s = await api("POST", "/v1/users/authorize", {
          username: el("login-user").value,
          password: el("login-password").value,
        });
        Concord.token = s.access_token;
        Concord.user = s.user;
        sessionStorage.setItem("concord.token", s.access_token);
        sessionStorage.setItem("concord.user", JSON.stringify(s.user));
        el("login-password").value = "";
        dialog.close();
        Concord.relogin = null;
        showUser();
        resolve();
      } catch (e) {
        const msg = e.status === 401 ? "Wrong user name or password." : e.message;
        showError(el("login-error"), msg);
      } finally {
        submit.disabled = false;
      }
    };
    // The dialog cannot be dismissed: nothing works without a login.
    dialog.oncancel = (ev) => ev.preventDefault();
  });
  if (!dialog.open) dialog.showModal();
  el("login-user").focus();
  return Concord.relogin;
}

/** Puts the user's name and role in the header and shows what the role allows. */
function showUser() {
  const u = Concord.user;
  el("whoami").textContent = u ? `${u.name} (${ROLE_NAMES[u.role] || u.role})` : "";
  el("logout").hidden = !u;
  el("nav").hidden = !u;
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = !!a.dataset.needs && !allowed(a.dataset.needs);
  }
}

/** Ends the session (on the cluster too) and asks for a login. */
function logout() {
  const token = Concord.token;
  if (token) {
    // Not through api(): an already ended session must not bring the login back here.
    fetch("/v1/users/authorize", { method: "DELETE", headers: { Authorization: "Bearer " + token } }).catch(() => {});
  }
  Concord.token = null;
  Concord.user = null;
  sessionStorage.removeItem("concord.token");
  sessionStorage.removeItem("concord.user");
  showUser();
  el("main").replaceChildren();
  login("").then(route);
}

/** Asks for confirmation; with `typed`, the user must type it. Resolves to a boolean. */
function confirmAction(title, text, okLabel, typed) {
  const dialog = el("confirm");
  el("confirm-title").textContent = title;
  el("confirm-text").textContent = text;
  el("confirm-ok").textContent = okLabel;
  const label = el("confirm-typed-label");
  const input = el("confirm-typed");
  label.hidden = !typed;
  input.value = "";
  el("confirm-ok").disabled = !!typed;
  input.oninput = () => {
    el("confirm-ok").disabled = input.value !== typed;
  };
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      resolve(answer);
    };
    el("confirm-form").onsubmit = (ev) => {
      ev.preventDefault();
      done(true);
    };
    el("confirm-cancel").onclick = () => done(false);
    dialog.oncancel = (ev) => {
      ev.preventDefault();
      done(false);
    };
    dialog.showModal();
    (typed ? input : el("confirm-cancel")).focus();
  });
}

// ---- DOM helpers ----

function el(id) {
  return document.getElementById(id);
}

/** An element: `h("a", {href: "#"}, "text", child)`. Attributes starting with `on` are
 * listeners; text is always text (never HTML). */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** Shows `message` in `where` (an error paragraph), or hides it when empty. */
function showError(where, message) {
  where.textContent = message || "";
  where.hidden = !message;
}

/** Bytes as people read them. */
function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? v : v.toFixed(1)) + " " + units[i];
}

/** The `crdt_peerN` lines of an instance's INFO crdt, as objects. */
function links(sync) {
  const out = [];
  for (const [k, v] of Object.entries(sync || {})) {
    const m = /^crdt_peer(\d+)$/.exec(k);
    if (!m) continue;
    const link = { peer: Number(m[1]) };
    for (const pair of String(v).split(",")) {
      const i = pair.indexOf("=");
      if (i > 0) link[pair.slice(0, i)] = pair.slice(i + 1);
    }
    for (const n of ["lag_ops", "lag_ms", "pending_ops", "pending_ms", "bytes_in", "bytes_out", "full_syncs", "partial_syncs", "link_errors"]) {
      link[n] = link[n] === undefined ? null : Number(link[n]);
    }
    out.push(link);
  }
  return out.sort((a, b) => a.peer - b.peer);
}

/** One word for a set of links: in sync, catching up, or links down. */
function syncState(status, linkList) {
  if (status !== "active") return { word: "instance not answering", cls: "bad" };
  const down = linkList.filter((l) => l.state !== "up").length;
  if (down) return { word: `${down} link${down > 1 ? "s" : ""} down`, cls: "bad" };
  if (linkList.some((l) => l.lag_ops > 0 || l.pending_ops > 0)) return { word: "catching up", cls: "warn" };
  return { word: "in sync", cls: "good" };
}

/** Polls `f` every `ms` while the page that started it is on screen (and once now);
 * `f` returning false stops it. */
function every(ms, f) {
  const generation = Concord.generation;
  const tick = async () => {
    if (generation !== Concord.generation) return;
    let more = true;
    try {
      more = (await f()) !== false;
    } finally {
      if (more && generation === Concord.generation) setTimeout(tick, ms);
    }
  };
  tick();
}

/** Follows a task until it ends, showing it in `box`; resolves to the ended task, or
 * null when the page was left or the task is gone. */
async function followTask(id, box) {
  const generation = Concord.generation;
  let failures = 0;
  while (generation === Concord.generation) {
    let t;
    try {
      t = await api("GET", "/v1/crdb_tasks/" + encodeURIComponent(id));
      failures = 0;
    } catch (e) {
      box.replaceChildren(h("p", { class: "error", role: "alert" }, "Could not read task " + id + ": " + e.message));
      // A task that is gone will not come back; other failures are retried a while.
      if (e.status === 404 || ++failures > 30) return null;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    box.replaceChildren(taskView(t));
    if (!["queued", "started"].includes(t.status)) return t;
    await new Promise((r) => setTimeout(r, 400));
  }
  return null;
}

/** A task: its operation, status, progress per cluster and errors; `db` names its
 * database when the page does not. */
function taskView(t, db) {
  return h("div", { class: "task", "data-status": t.status, "data-task": t.id },
    h("p", {}, h("strong", {}, t.operation), db ? [" of ", h("strong", {}, db)] : null,
      " task ", h("code", {}, t.id), ": ",
      h("span", { class: "status " + t.status }, t.status)),
    t.progress.length ? h("ul", { class: "progress" }, t.progress.map((p) => h("li", {}, p))) : null,
    t.errors.length ? h("ul", { class: "error", role: "alert" }, t.errors.map((e) => h("li", {}, e))) : null);
}

/** The schema of an API object, read from the OpenAPI document (for enums, patterns). */
async function schema(name) {
  if (!Concord.schema) Concord.schema = api("GET", "/v1/openapi.json");
  try {
    return (await Concord.schema).components.schemas[name];
  } catch (e) {
    Concord.schema = null;
    throw e;
  }
}

// ---- the router ----

/** Shows the page the address names. */
async function route() {
  const generation = ++Concord.generation;
  if (!Concord.user) {
    await login("");
  }
  if (!Concord.cluster) {
    try {
      Concord.cluster = await api("GET", "/v1/cluster");
      el("cluster-name").textContent = Concord.cluster.name;
      document.title = "Concord console: " + Concord.cluster.name;
    } catch (e) {
      el("main").replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
  }
  const [, page, arg] = /^#\/([a-z]+)\/?(.*)$/.exec(location.hash) || [null, "databases", ""];
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("current", a.dataset.page === page);
  }
  if (generation !== Concord.generation) return;
  const show = Concord.pages[page] || Concord.pages.databases;
  // Each page draws into a view of its own: a page left before its answers came draws
  // into a view no longer on screen.
  const view = h("div", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
  el("main").replaceChildren(view);
  try {
    await show(view, decodeURIComponent(arg));
  } catch (e) {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  el("logout").addEventListener("click", logout);
  showUser();
  window.addEventListener("hashchange", route);
  route();
});
