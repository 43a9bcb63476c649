// The Databases page, the Create page, and the participating-cluster rows both the
// Create page and the Database page's "add a cluster" use.
"use strict";

/** Databases: every database this cluster hosts, with its local instance's figures. */
Concord.pages.databases = async (main) => {
  const table = h("tbody");
  const error = h("p", { class: "error", role: "alert", hidden: true });
  main.replaceChildren(
    h("h1", {}, "Databases"),
    allowed("db_member") ? h("p", {}, h("a", { href: "#/create", class: "button" }, "Create active-active database")) : null,
    error,
    h("table", { class: "list", id: "databases" },
      h("thead", {}, h("tr", {},
        ["Name", "Port", "Memory used / limit", "Instances", "Sync"].map((c) => h("th", {}, c)))),
      table));
  every(3000, async () => {
    try {
      const [crdbs, bdbs] = await Promise.all([api("GET", "/v1/crdbs"), api("GET", "/v1/bdbs")]);
      showError(error, "");
      const local = new Map(bdbs.map((b) => [b.crdt_guid, b]));
      table.replaceChildren(...crdbs.map((d) => {
        const b = local.get(d.guid);
        const state = b ? syncState(b.status, links(b.crdt_sync)) : { word: "no local instance", cls: "bad" };
        const limit = b && b.memory_size ? bytes(b.memory_size) : "no limit";
        return h("tr", { "data-name": d.name },
          h("td", {}, h("a", { href: "#/db/" + encodeURIComponent(d.guid) }, d.name)),
          h("td", {}, b ? String(b.port) : "–"),
          h("td", {}, b ? `${bytes(b.used_memory)} / ${limit}` : "–"),
          h("td", {}, `${d.instances.length}: `, d.instances.map((i) => i.cluster.name).join(", ")),
          h("td", {}, h("span", { class: "state " + state.cls }, state.word)));
      }));
      if (!crdbs.length) {
        table.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No databases yet.")));
      }
    } catch (e) {
      showError(error, "Could not read the databases: " + e.message);
    }
  });
};

/** A row of the participating-cluster list: URL and service account, checked through
 * `POST /v1/remote_clusters/check` as they are entered. `onchange` is called whenever
 * the row's state changes; `row.cluster` is the checked cluster reference or null. */
function clusterRow(defaults, onchange, onremove) {
  const url = h("input", { type: "url", placeholder: "https://host:9443", value: defaults.url || "", "aria-label": "Cluster URL", class: "url" });
  const user = h("input", { placeholder: "service account", value: defaults.username || "", "aria-label": "User name", autocomplete: "off" });
  const pass = h("input", { type: "password", placeholder: "password", "aria-label": "Password", autocomplete: "new-password" });
  const status = h("div", { class: "check", "aria-live": "polite" }, h("span", { class: "muted" }, "Not checked yet."));
  const checkButton = h("button", { type: "button" }, "Check");
  const row = h("div", { class: "cluster-row" }, url, user, pass, checkButton,
    onremove ? h("button", { type: "button", class: "link", onclick: () => onremove(row) }, "Remove") : null,
    status);
  row.cluster = null;
  // The fingerprint the user confirmed (none when the cluster's CA vouches for it).
  let fingerprint = null;
  // Bumped by every check and every edit: an answer to an older one is dropped.
  let attempt = 0;
  const set = (cluster, ...content) => {
    row.cluster = cluster;
    row.dataset.state = cluster ? "ok" : content.length ? "error" : "unchecked";
    status.replaceChildren(...content);
    onchange();
  };
  const run = async () => {
    const mine = ++attempt;
    if (!url.value || !user.value || !pass.value) {
      set(null, h("span", { class: "error" }, "Give the cluster's URL, a user name and its password."));
      return;
    }
    row.dataset.state = "checking";
    checkButton.disabled = true;
    status.replaceChildren(h("span", { class: "muted" }, "Checking…"));
    const body = { url: url.value.trim(), credentials: { username: user.value, password: pass.value } };
    if (fingerprint) body.fingerprint = fingerprint;
    try {
      const r = await api("POST", "/v1/remote_clusters/check", body);
      if (mine !== attempt) return;
      if (!r.trusted) {
        row.dataset.state = "untrusted";
        status.replaceChildren(
          h("span", {}, "Reached. Its certificate is self-signed, with SHA-256 fingerprint "),
          h("code", { class: "fingerprint" }, r.fingerprint),
          h("span", {}, ". Compare it with the one that cluster shows (its tls/api-cert.pem), then "),
          h("button", {
            type: "button", class: "trust", onclick: () => {
              fingerprint = r.fingerprint;
              run();
            },
          }, "Trust this certificate"));
        row.cluster = null;
        onchange();
        return;
      }
      // Exactly what was checked, not what the fields hold now.
      const cluster = { name: r.name, url: body.url, credentials: body.credentials };
      if (body.fingerprint) cluster.fingerprint = body.fingerprint;
      set(cluster, h("span", { class: "state good" }, "✓ " + r.name), h("span", { class: "muted" }, " reachable, Admin credentials accepted"));
    } catch (e) {
      if (mine !== attempt) return;
      const words = { credentials_refused: "That cluster refused the user name or password." };
      set(null, h("span", { class: "error", role: "alert" }, words[e.code] || e.message));
    } finally {
      if (mine === attempt) checkButton.disabled = false;
    }
  };
  checkButton.addEventListener("click", run);
  // A change of what was checked makes it unchecked again (a new URL: a new certificate).
  for (const input of [url, user, pass]) {
    input.addEventListener("input", () => {
      if (input === url) fingerprint = null;
      attempt++;
      checkButton.disabled = false;
      if (row.dataset.state !== "unchecked") set(null);
    });
  }
  row.dataset.state = "unchecked";
  return row;
}

/** Create active-active database. */
Concord.pages.create = async (main) => {
  if (!allowed("db_member")) {
    main.replaceChildren(h("p", { class: "error" }, "Creating databases needs the DB Member or Admin role."));
    return;
  }
  const [crdb, config] = await Promise.all([schema("Crdb"), schema("DbConfig")]);
  const namePattern = new RegExp(crdb.properties.name.pattern);
  const options = (field, labels) => (config.properties[field].enum || []).map((v) =>
    h("option", { value: v, selected: v === config.properties[field].default }, labels[v] || v));

  const name = h("input", { id: "db-name", required: true, autocomplete: "off" });
  const nameError = h("p", { class: "error field", hidden: true });
  const portMode = h("select", { id: "db-port-mode" },
    h("option", { value: "random" }, "Any free port (each cluster picks)"),
    h("option", { value: "fixed" }, "This port on every cluster"));
  // This cluster's range of database ports (the others check theirs when asked).
  const [low, high] = String(Concord.cluster.ports).split("-").map(Number);
  const port = h("input", { id: "db-port", type: "number", min: low, max: high, placeholder: String(low), disabled: true });
  const portError = h("p", { class: "error field", hidden: true });
  const memory = h("input", { id: "db-memory", type: "number", min: 0, step: "any", placeholder: "0 = no limit" });
  const memoryUnit = h("select", { id: "db-memory-unit" }, h("option", { value: 2 ** 20 }, "MiB"), h("option", { value: 2 ** 30 }, "GiB"));
  const eviction = h("select", { id: "db-eviction" }, options("eviction_policy", { noeviction: "noeviction: refuse writes past the limit" }));
  const persistence = h("select", { id: "db-persistence" }, options("data_persistence", { aof: "append-only file", disabled: "none (memory only)" }));
  const aof = h("select", { id: "db-aof" }, options("aof_policy", { "appendfsync-every-sec": "fsync every second", "appendfsync-always": "fsync every write" }));
  const tls = h("input", { id: "db-tls", type: "checkbox", checked: true });
  const password = h("input", { id: "db-password", type: "password", autocomplete: "new-password", placeholder: "none" });
  const rows = h("div", { id: "clusters" });
  const createButton = h("button", { id: "create", type: "submit", disabled: true }, "Create");
  const why = h("p", { class: "muted", id: "create-why" });
  const formError = h("p", { class: "error", role: "alert", hidden: true, id: "create-error" });
  const progress = h("div", { id: "create-task" });

  const here = Concord.cluster;
  const validate = () => {
    const problems = [];
    const n = name.value;
    const nameBad = n && !namePattern.test(n) ? "1 to 63 letters, digits, '-' or '_'." : "";
    showError(nameError, nameBad);
    if (!n || nameBad) problems.push("a valid name");
    const fixed = portMode.value === "fixed";
    port.disabled = !fixed;
    const p = Number(port.value);
    const portBad = fixed && !(Number.isInteger(p) && p >= low && p <= high) ? `A port from ${low} to ${high}, free on every participating cluster.` : "";
    showError(portError, port.value || !fixed ? portBad : "");
    if (portBad) problems.push("a port");
    aof.disabled = persistence.value !== "aof";
    const all = [...rows.children];
    if (!all.length || all.some((r) => !r.cluster)) problems.push("every participating cluster checked");
    else if (!all.some((r) => r.cluster.name === here.name)) problems.push(`this cluster (${here.name}) among the participating clusters`);
    createButton.disabled = problems.length > 0;
    why.textContent = problems.length ? "Create needs " + problems.join(", ") + "." : "Ready.";
  };
  const addRow = (defaults) => {
    rows.append(clusterRow(defaults || {}, validate, (r) => {
      r.remove();
      validate();
    }));
    validate();
  };
  for (const input of [name, portMode, port, persistence]) input.addEventListener("input", validate);
  // How the other clusters reach this one: by its name (a host name they resolve).
  addRow({ url: `https://${here.name}:${here.rest_port}`, username: Concord.user.name });

  const form = h("form", { id: "create-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Database"),
      h("label", {}, "Name ", name), nameError,
      h("label", {}, "Port ", portMode, " ", port), portError,
      h("label", {}, "Memory limit ", memory, memoryUnit),
      h("label", {}, "Eviction policy ", eviction),
      h("label", {}, "Persistence ", persistence),
      h("label", {}, "Append-only fsync ", aof),
      h("label", { class: "check" }, tls, " Encrypt the links between instances (TLS, with certificates the clusters issue)"),
      h("label", {}, "Client password ", password)),
    h("fieldset", {}, h("legend", {}, "Participating clusters"),
      h("p", { class: "muted" }, "Each cluster's REST API URL and an Admin service account on it. This cluster is listed first."),
      rows,
      h("button", { type: "button", id: "add-cluster", onclick: () => addRow() }, "Add a participating cluster")),
    why, formError, createButton, progress);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    validate();
    if (createButton.disabled) return;
    const bytesLimit = Math.round(Number(memory.value || 0) * Number(memoryUnit.value));
    const body = {
      name: name.value,
      encryption: tls.checked,
      default_db_config: {
        memory_size: bytesLimit,
        port: portMode.value === "fixed" ? Number(port.value) : 0,
        data_persistence: persistence.value,
        aof_policy: aof.value,
        eviction_policy: eviction.value,
      },
      instances: [...rows.children].map((r) => ({ cluster: r.cluster })),
    };
    if (password.value) body.default_db_config.password = password.value;
    createButton.disabled = true;
    showError(formError, "");
    try {
      const task = await api("POST", "/v1/crdbs", body);
      const ended = await followTask(task.id, progress);
      if (!ended) return;
      if (ended.status === "finished") {
        progress.append(h("p", {}, "Created. ", h("a", { href: "#/db/" + encodeURIComponent(task.crdb_guid), id: "open-db" }, "Open " + name.value)));
      } else {
        showError(formError, "The database was not created; the task's errors say why. Fix what they name and try again.");
      }
    } catch (e) {
      showError(formError, e.message);
    } finally {
      validate();
    }
  });
  main.replaceChildren(h("h1", {}, "Create active-active database"), form);
  name.focus();
};
