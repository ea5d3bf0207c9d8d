// The playground's page: renders the fake Discord's channel and threads, and acts as a member
// or the admin through the playground API (/api/...). No framework, no build step.
"use strict";

const EPHEMERAL = 1 << 6;
const LOADING = 1 << 7;
const OPTION = { SUB: 1, GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7,
  ROLE: 8, MENTIONABLE: 9, NUMBER: 10, ATTACHMENT: 11 };
const PALETTE = ["#5865f2", "#eb459e", "#3ba55c", "#faa61a", "#ed4245", "#9b59b6", "#1abc9c"];

const state = {
  world: null, userId: null, channelId: null, channels: null,
  rendered: new Map(), // message id -> JSON last drawn
  command: null, // the slash command being filled: {name, spec}
  files: {}, // option name -> {sample} | {filename, content_type, data_b64, label}
  plainFile: null, // a file for a plain message
  modalFor: null, // interaction id whose modal is open
  pickerIndex: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// -- people -------------------------------------------------------------------------------------

function nameOf(user) { return user.global_name || user.username; }

function initials(name) {
  const parts = name.replace(/[^\p{L}\p{N} ]/gu, "").split(/\s+/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : (parts[0] || "?").slice(0, 2)).toUpperCase();
}

function colourOf(id) {
  const who = state.world ? state.world.people.findIndex((p) => p.id === String(id)) : -1;
  return PALETTE[who >= 0 ? 2 + who : Number(BigInt(id) % BigInt(PALETTE.length))];
}

function avatar(user) {
  const bot = user.bot;
  return el("div", { class: "avatar", style: `background:${bot ? "#5865f2" : colourOf(user.id)}` },
    bot ? "▶" : initials(nameOf(user)));
}

function person(id) {
  const w = state.world;
  return w.members.find((m) => m.id === String(id)) || w.people.find((p) => p.id === String(id));
}

// -- text ---------------------------------------------------------------------------------------

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function relative(seconds) {
  const delta = seconds - Date.now() / 1000;
  const abs = Math.abs(delta);
  const [n, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [abs / 60, "minute"]
    : abs < 86400 ? [abs / 3600, "hour"] : [abs / 86400, "day"];
  const count = Math.max(1, Math.round(n));
  const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
  return delta >= 0 ? `in ${words}` : `${words} ago`;
}

function markdown(text) {
  let html = escapeHtml(text || "");
  html = html.replace(/&lt;t:(\d+)(?::([a-zA-Z]))?&gt;/g, (_, s, style) => {
    const when = new Date(Number(s) * 1000);
    return `<span title="${when.toLocaleString()}">${style === "R" ? relative(Number(s)) : when.toLocaleString()}</span>`;
  });
  html = html.replace(/&lt;@!?(\d+)&gt;/g, (_, id) => {
    const who = person(id);
    return `<span class="mention">@${escapeHtml(who ? nameOf(who) : "someone")}</span>`;
  });
  html = html.replace(/&lt;#(\d+)&gt;/g, (_, id) => `<span class="mention">#${escapeHtml(channelName(id))}</span>`);
  html = html.replace(/`([^`]+)`/g, "<code>$1</code>");
  html = html.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
  html = html.replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>");
  html = html.replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
  html = html.replace(/(^|[\s(])(https?:\/\/[^\s<)]+)/g, '$1<a href="$2" target="_blank" rel="noopener">$2</a>');
  html = html.replace(/^-# (.*)$/gm, '<span class="sub">$1</span>');
  return html;
}

// A jump link (https://discord.com/channels/GUILD/CHANNEL[/MESSAGE]) opens that channel here.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  const jump = link && link.href.match(/^https:\/\/discord\.com\/channels\/\d+\/(\d+)/);
  if (!jump || !state.channels) return;
  const known = [state.channels.channel, ...state.channels.threads].some((c) => c.id === jump[1]);
  if (!known) return;
  event.preventDefault();
  openChannel(jump[1]);
});

function channelName(id) {
  const c = state.channels;
  if (!c) return "channel";
  if (c.channel.id === String(id)) return c.channel.name;
  const thread = c.threads.find((t) => t.id === String(id));
  return thread ? thread.name : "channel";
}

function clock(iso) {
  const when = new Date(iso);
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// -- messages -----------------------------------------------------------------------------------

function renderEmbed(embed) {
  const colour = embed.color !== undefined && embed.color !== null
    ? `#${Number(embed.color).toString(16).padStart(6, "0")}` : "#1e1f22";
  const box = el("div", { class: "embed", style: `border-left-color:${colour}`, "data-testid": "embed" });
  if (embed.author && embed.author.name) box.append(el("div", { class: "embed-author", text: embed.author.name }));
  if (embed.title) {
    const title = el("div", { class: "embed-title", "data-testid": "embed-title" });
    title.innerHTML = embed.url ? `<a href="${escapeHtml(embed.url)}" target="_blank" rel="noopener">${markdown(embed.title)}</a>` : markdown(embed.title);
    box.append(title);
  }
  if (embed.description) box.append(el("div", { class: "embed-desc", "data-testid": "embed-desc", html: markdown(embed.description) }));
  if (embed.fields && embed.fields.length) {
    box.append(el("div", { class: "embed-fields" }, embed.fields.map((f) => el("div",
      { class: `embed-field${f.inline ? " inline" : ""}` },
      el("div", { class: "embed-field-name", html: markdown(f.name) }),
      el("div", { class: "embed-field-value", html: markdown(f.value) })))));
  }
  if (embed.image && embed.image.url) box.append(el("img", { src: embed.image.url, alt: "" }));
  if (embed.thumbnail && embed.thumbnail.url) box.append(el("img", { src: embed.thumbnail.url, alt: "", style: "max-width:80px" }));
  const foot = [embed.footer && embed.footer.text, embed.timestamp && new Date(embed.timestamp).toLocaleString()].filter(Boolean);
  if (foot.length) box.append(el("div", { class: "embed-footer", text: foot.join(" • ") }));
  return box;
}

function renderAttachment(file) {
  const type = file.content_type || "";
  if (type.startsWith("image/")) return el("img", { src: file.url, alt: file.filename, "data-testid": "image" });
  if (type.startsWith("video/")) {
    return el("video", { src: file.url, controls: true, preload: "auto", muted: true, loop: true,
      playsinline: true, "data-testid": "clip" });
  }
  return el("div", { class: "file" }, el("a", { href: file.url, target: "_blank", text: file.filename }));
}

function renderComponents(message) {
  const rows = (message.components || []).filter((row) => row.type === 1);
  if (!rows.length) return null;
  return el("div", { class: "components" }, rows.map((row) => el("div", { class: "action-row" },
    (row.components || []).map((c) => renderComponent(message, c)))));
}

function renderComponent(message, c) {
  if (c.type === 2) {
    const label = `${c.emoji && c.emoji.name ? c.emoji.name + " " : ""}${c.label || ""}`;
    if (c.style === 5) {
      return el("button", { type: "button", class: "dbtn s5", disabled: c.disabled, text: `${label} ↗`,
        onclick: () => window.open(c.url, "_blank", "noopener") });
    }
    return el("button", { type: "button", class: `dbtn s${c.style || 2}`, disabled: c.disabled, text: label,
      "data-testid": "button", "data-custom-id": c.custom_id,
      onclick: (event) => press(message, c.custom_id, null, event.currentTarget) });
  }
  if (c.type === 3) {
    const select = el("select", { class: "dselect", disabled: c.disabled,
      onchange: (event) => press(message, c.custom_id, [event.target.value], event.target) },
    el("option", { value: "", text: c.placeholder || "Make a selection" }),
    (c.options || []).map((o) => el("option", { value: o.value, text: o.label })));
    return select;
  }
  return null;
}

function renderMessage(message) {
  const author = message.author;
  const meta = message.interaction_metadata;
  const node = el("article", { class: "msg", "data-testid": "message", "data-id": message.id });
  if (meta && meta.name) {
    const used = el("div", { class: "used" });
    used.innerHTML = `<b>${escapeHtml(nameOf(meta.user))}</b> used <b>/${escapeHtml(meta.name)}</b>`;
    node.append(el("div"), used);
  }
  const body = el("div", { class: "body" });
  body.append(el("div", { class: "msg-head" },
    el("span", { class: "author", text: nameOf(author) }),
    author.bot ? el("span", { class: "app-tag", text: "App" }) : null,
    el("span", { class: "time", text: clock(message.timestamp) })));
  const flags = Number(message.flags || 0);
  if (flags & LOADING) body.append(el("div", { class: "thinking", text: `${nameOf(author)} is thinking…` }));
  if (message.content) {
    const content = el("div", { class: "content", "data-testid": "content", html: markdown(message.content) });
    if (message.edited_timestamp) content.append(el("span", { class: "edited", text: "(edited)" }));
    body.append(content);
  }
  (message.embeds || []).forEach((e) => body.append(renderEmbed(e)));
  if (message.attachments && message.attachments.length) {
    body.append(el("div", { class: "attachments" }, message.attachments.map(renderAttachment)));
  }
  const components = renderComponents(message);
  if (components) body.append(components);
  if (message.thread) {
    body.append(el("div", { class: "thread-chip", "data-testid": "thread-chip",
      onclick: () => openChannel(message.thread.id) },
    `↳ ${message.thread.name}`, el("span", { text: "Open thread" })));
  }
  if (flags & EPHEMERAL) body.append(el("div", { class: "ephemeral-note", "data-testid": "ephemeral", text: "Only you can see this" }));
  const apps = messageCommands();
  if (apps.length && !(flags & EPHEMERAL)) {
    body.append(el("button", { type: "button", class: "more", title: "More", text: "⋯ Apps",
      "data-testid": "message-apps", onclick: (event) => openMenu(event, message, apps) }));
  }
  node.append(avatar(author), body);
  return node;
}

function renderMessages(list) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const seen = new Set();
  let previous = null;
  if (!list.length && !box.querySelector(".msg")) {
    box.replaceChildren(el("div", { class: "empty", text: "No messages yet. Type / to see the bot's commands." }));
  } else if (box.querySelector(".empty")) {
    box.replaceChildren();
  }
  for (const message of list) {
    seen.add(message.id);
    const json = JSON.stringify(message);
    let node = box.querySelector(`[data-id="${message.id}"]`);
    if (!node || state.rendered.get(message.id) !== json) {
      const fresh = renderMessage(message);
      if (node) node.replaceWith(fresh); else if (previous) previous.after(fresh); else box.prepend(fresh);
      node = fresh;
      state.rendered.set(message.id, json);
    }
    previous = node;
  }
  for (const node of box.querySelectorAll(".msg")) {
    if (!seen.has(node.dataset.id)) { node.remove(); state.rendered.delete(node.dataset.id); }
  }
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// -- channels and refresh -----------------------------------------------------------------------

function renderChannels() {
  const list = $("channel-list");
  const { channel, threads } = state.channels;
  const item = (c, cls) => el("li", { class: `${cls}${c.id === state.channelId ? " active" : ""}`,
    "data-testid": cls === "thread" ? "thread" : "channel", "data-id": c.id,
    onclick: () => openChannel(c.id) }, cls === "thread" ? c.name : `# ${c.name}`);
  list.replaceChildren(item(channel, "channel"), ...threads.map((t) => item(t, "thread")));
  const inThread = state.channelId !== channel.id;
  $("chat-title").textContent = channelName(state.channelId);
  $("chat-hash").textContent = inThread ? "↳" : "#";
  $("back-to-channel").hidden = !inThread;
  $("composer-input").placeholder = `Message ${inThread ? "" : "#"}${channelName(state.channelId)}, or type / for the bot's commands`;
}

let refreshing = null;
let again = false;

async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        again = false;
        state.channels = await api("/api/channels");
        renderChannels();
        const channelId = state.channelId;
        const data = await api(`/api/messages?channel_id=${channelId}&user_id=${state.userId}`);
        if (channelId === state.channelId) {
          renderMessages(data.messages);
          document.body.dataset.shown = `${state.userId}:${channelId}`; // for tests: drawn for whom, where
        }
      } while (again);
    } catch (error) {
      toast(error.message);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function openChannel(id) {
  if (state.channelId !== String(id)) {
    state.channelId = String(id);
    state.rendered.clear();
    $("messages").replaceChildren();
  }
  refresh();
}

function listen() {
  const source = new EventSource("/api/events");
  source.onmessage = () => refresh();
  source.onerror = () => { /* EventSource reconnects by itself */ };
}

// -- acting -------------------------------------------------------------------------------------

function setUser(role) {
  const who = state.world.people.find((p) => p.role === role);
  state.userId = who.id;
  $("as-member").classList.toggle("active", role === "member");
  $("as-admin").classList.toggle("active", role === "admin");
  document.body.dataset.actingAs = role;
  state.rendered.clear();
  $("messages").replaceChildren();
  closeCommand();
  refresh();
}

function acting() { return state.world.people.find((p) => p.id === state.userId); }

async function afterInteraction(summary) {
  if (summary && summary.callback_type === 9 && summary.modal) openModal(summary.id, summary.modal);
  await refresh();
}

async function press(message, customId, values, control) {
  if (control) control.disabled = true;
  try {
    const summary = await api("/api/button", { user_id: state.userId, message_id: message.id, custom_id: customId, values });
    await afterInteraction(summary);
  } catch (error) {
    toast(error.message);
  } finally {
    if (control) control.disabled = false;
  }
}

function messageCommands() {
  return (state.world ? state.world.commands : []).filter((c) => c.type === 3 && allowed(c));
}

function openMenu(event, message, apps) {
  event.stopPropagation();
  const menu = $("message-menu");
  menu.replaceChildren(el("div", { class: "menu-title", text: "Apps" }), ...apps.map((c) =>
    el("button", { type: "button", text: c.name, "data-testid": "menu-item", onclick: async () => {
      menu.hidden = true;
      try {
        await afterInteraction(await api("/api/menu", { user_id: state.userId, name: c.name, message_id: message.id }));
      } catch (error) { toast(error.message); }
    } })));
  const box = event.currentTarget.getBoundingClientRect();
  menu.style.top = `${box.bottom + 4}px`;
  menu.style.left = `${Math.max(8, box.right - 220)}px`;
  menu.hidden = false;
}

// -- modals -------------------------------------------------------------------------------------

function modalInputs(components) {
  const inputs = [];
  for (const c of components || []) {
    if (c.type === 1) inputs.push(...(c.components || []).filter((x) => x.type === 4).map((x) => ({ label: x.label, input: x })));
    else if (c.type === 18 && c.component && c.component.type === 4) inputs.push({ label: c.label, input: c.component });
  }
  return inputs;
}

function openModal(interactionId, modal) {
  state.modalFor = interactionId;
  $("modal-title").textContent = modal.title || "";
  $("modal-fields").replaceChildren(...modalInputs(modal.components).map(({ label, input }) => {
    const attrs = { name: input.custom_id, required: input.required !== false, placeholder: input.placeholder,
      maxlength: input.max_length, minlength: input.min_length, "data-testid": "modal-input" };
    const field = input.style === 2 ? el("textarea", attrs) : el("input", attrs);
    field.value = input.value || "";
    return el("label", {}, label || input.custom_id, field);
  }));
  $("modal").hidden = false;
  const first = $("modal-fields").querySelector("input, textarea");
  if (first) first.focus();
}

async function submitModal(event) {
  event.preventDefault();
  const values = {};
  for (const field of $("modal-fields").querySelectorAll("input, textarea")) values[field.name] = field.value;
  const interactionId = state.modalFor;
  $("modal").hidden = true;
  try {
    await afterInteraction(await api("/api/modal", { user_id: state.userId, interaction_id: interactionId, values }));
  } catch (error) { toast(error.message); }
}

// -- slash commands -----------------------------------------------------------------------------

function allowed(command) {
  // Discord hides a command from members without its default permissions; the admin owns the server.
  const perms = command.default_member_permissions;
  return acting().role === "admin" || perms === null || perms === undefined;
}

function slashCommands() {
  const out = [];
  for (const c of state.world.commands.filter((x) => x.type === 1 && allowed(x))) {
    const subs = (c.options || []).filter((o) => o.type === OPTION.SUB || o.type === OPTION.GROUP);
    if (!subs.length) { out.push({ name: c.name, spec: c }); continue; }
    for (const sub of subs) {
      if (sub.type === OPTION.SUB) out.push({ name: `${c.name} ${sub.name}`, spec: sub });
      else for (const inner of sub.options || []) out.push({ name: `${c.name} ${sub.name} ${inner.name}`, spec: inner });
    }
  }
  return out;
}

function showPicker(query) {
  const picker = $("command-picker");
  const needle = query.toLowerCase();
  const found = slashCommands().filter((c) => c.name.startsWith(needle) || c.name.includes(needle));
  if (!found.length) { picker.hidden = true; return; }
  state.pickerIndex = Math.min(state.pickerIndex, found.length - 1);
  picker.replaceChildren(...found.map((c, i) => el("li", { class: i === state.pickerIndex ? "sel" : "",
    "data-testid": "command-choice", "data-name": c.name, onclick: () => chooseCommand(c) },
  el("span", { class: "cmd", text: `/${c.name}` }), el("span", { class: "desc", text: c.spec.description || "" }))));
  picker.hidden = false;
  picker.found = found;
}

function chooseCommand(command) {
  state.command = command;
  state.files = {};
  $("command-picker").hidden = true;
  $("composer-input").value = "";
  $("command-name").textContent = `/${command.name}`;
  $("command-desc").textContent = command.spec.description || "";
  $("command-options").replaceChildren(...(command.spec.options || []).map(optionField));
  $("command-form").hidden = false;
  $("composer-input").placeholder = `Press Enter or Send to run /${command.name}`;
  const first = $("command-options").querySelector("input, select");
  if (first) first.focus();
}

function closeCommand() {
  state.command = null;
  state.files = {};
  $("command-form").hidden = true;
  $("command-picker").hidden = true;
  if (state.channels) renderChannels();
}

function optionField(option) {
  const id = `opt-${option.name}`;
  const label = el("label", { for: id }, el("b", { text: option.name }), option.required ? el("span", { class: "req", text: " *" }) : null,
    option.description ? ` ${option.description}` : "");
  let input;
  if (option.type === OPTION.ATTACHMENT) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}`, onchange: (event) => pickFile(option.name, event.target) },
      el("option", { value: "", text: "— no file —" }),
      state.world.samples.map((s) => el("option", { value: `sample:${s.name}`, text: `Sample: ${s.title}` })),
      el("option", { value: "upload", text: "Upload a file…" }));
  } else if (option.type === OPTION.USER || option.type === OPTION.MENTIONABLE) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}` },
      el("option", { value: "", text: "— choose —" }),
      state.world.members.filter((m) => !m.bot).map((m) => el("option", { value: m.id, text: nameOf(m) })));
  } else if (option.type === OPTION.ROLE) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}` },
      el("option", { value: "", text: "— choose —" }), state.world.roles.map((r) => el("option", { value: r.id, text: r.name })));
  } else if (option.type === OPTION.CHANNEL) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}` },
      el("option", { value: "", text: "— choose —" }), el("option", { value: state.channels.channel.id, text: `#${state.channels.channel.name}` }));
  } else if (option.type === OPTION.BOOLEAN) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}` },
      el("option", { value: "", text: "—" }), el("option", { value: "true", text: "True" }), el("option", { value: "false", text: "False" }));
  } else if (option.choices && option.choices.length) {
    input = el("select", { id, "data-option": option.name, "data-testid": `option-${option.name}` },
      el("option", { value: "", text: "—" }), option.choices.map((c) => el("option", { value: String(c.value), text: c.name })));
  } else {
    const list = option.autocomplete ? `${id}-list` : null;
    input = el("input", { id, "data-option": option.name, "data-testid": `option-${option.name}`, list,
      type: option.type === OPTION.INTEGER || option.type === OPTION.NUMBER ? (option.autocomplete ? "text" : "number") : "text",
      maxlength: option.max_length, placeholder: option.autocomplete ? "type or pick" : "" });
    if (option.autocomplete) {
      input.addEventListener("focus", () => suggest(option, input));
      input.addEventListener("input", () => suggest(option, input));
      return el("div", { class: "opt" }, label, input, el("datalist", { id: list }));
    }
  }
  return el("div", { class: "opt" }, label, input);
}

function pickFile(name, select) {
  delete state.files[name];
  if (select.value.startsWith("sample:")) state.files[name] = { sample: select.value.slice(7) };
  else if (select.value === "upload") {
    const picker = $("attach-file");
    picker.onchange = async () => {
      const file = picker.files[0];
      if (!file) return;
      state.files[name] = await readFile(file);
      select.options[select.options.length - 1].textContent = `Upload: ${file.name}`;
      picker.value = "";
    };
    picker.click();
  }
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({ filename: file.name, content_type: file.type || "application/octet-stream",
      data_b64: String(reader.result).split(",", 2)[1], label: file.name });
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function typed(option, raw) {
  if (raw === "") return undefined;
  if (option.type === OPTION.INTEGER) return Number.parseInt(raw, 10);
  if (option.type === OPTION.NUMBER) return Number(raw);
  if (option.type === OPTION.BOOLEAN) return raw === "true";
  return raw;
}

function collectOptions() {
  const options = {};
  for (const option of state.command.spec.options || []) {
    if (option.type === OPTION.ATTACHMENT) continue;
    const input = document.querySelector(`[data-option="${option.name}"]`);
    const value = input ? typed(option, input.value.trim()) : undefined;
    if (value !== undefined) options[option.name] = value;
  }
  return options;
}

async function suggest(option, input) {
  const options = collectOptions();
  options[option.name] = input.value;
  try {
    const data = await api("/api/autocomplete", { user_id: state.userId, channel_id: state.channelId,
      name: state.command.name, options, focused: option.name });
    const list = $(input.getAttribute("list"));
    list.replaceChildren(...data.choices.map((c) => el("option", { value: String(c.value), label: c.name })));
  } catch (error) { toast(error.message); }
}

async function runCommand() {
  const command = state.command;
  const missing = (command.spec.options || []).filter((o) => o.required && (o.type === OPTION.ATTACHMENT
    ? !state.files[o.name] : collectOptions()[o.name] === undefined));
  if (missing.length) { toast(`Fill in: ${missing.map((o) => o.name).join(", ")}`); return; }
  const attachments = Object.entries(state.files).map(([option, file]) => ({ option, ...file }));
  const body = { user_id: state.userId, channel_id: state.channelId, name: command.name, options: collectOptions(), attachments };
  closeCommand();
  try {
    await afterInteraction(await api("/api/command", body));
  } catch (error) { toast(error.message); }
}

// -- plain messages and the composer ------------------------------------------------------------

function setPlainFile(file) {
  state.plainFile = file;
  $("attach-row").hidden = !file;
  $("attach-label").textContent = file ? `Attached: ${file.label}` : "";
}

function openPlusMenu() {
  const menu = $("plus-menu");
  menu.replaceChildren(...state.world.samples.map((s) => el("button", { type: "button", text: `Sample: ${s.title}`,
    "data-testid": `attach-sample-${s.name}`, onclick: () => { setPlainFile({ sample: s.name, label: s.filename }); menu.hidden = true; } })),
  el("button", { type: "button", text: "Upload a file…", "data-testid": "attach-upload", onclick: () => {
    menu.hidden = true;
    const picker = $("attach-file");
    picker.onchange = async () => { if (picker.files[0]) setPlainFile(await readFile(picker.files[0])); picker.value = ""; };
    picker.click();
  } }));
  menu.hidden = !menu.hidden;
}

async function submitComposer(event) {
  event.preventDefault();
  const input = $("composer-input");
  if (state.command) { await runCommand(); return; }
  const text = input.value;
  if (text.startsWith("/")) {
    const picker = $("command-picker");
    if (!picker.hidden && picker.found && picker.found.length) chooseCommand(picker.found[state.pickerIndex]);
    return;
  }
  if (!text.trim() && !state.plainFile) return;
  const attachments = state.plainFile ? [state.plainFile] : [];
  input.value = "";
  setPlainFile(null);
  try {
    await api("/api/message", { user_id: state.userId, channel_id: state.channelId, content: text, attachments });
    await refresh();
  } catch (error) { toast(error.message); }
}

function composerKeys(event) {
  const picker = $("command-picker");
  if (picker.hidden || !picker.found) return;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const n = picker.found.length;
    state.pickerIndex = (state.pickerIndex + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
    showPicker($("composer-input").value.slice(1));
  } else if (event.key === "Escape") {
    picker.hidden = true;
  }
}

async function start() {
  state.world = await api("/api/world");
  state.channelId = state.world.seeded.channel_id;
  $("guild-name").textContent = state.world.guild.name;
  $("guild-icon").textContent = initials(state.world.guild.name);
  $("guild-icon").title = state.world.guild.name;
  for (const who of state.world.people) {
    const button = $(`as-${who.role}`);
    button.replaceChildren(avatar(who), el("span", { text: `${nameOf(who)} (${who.role})` }));
    button.addEventListener("click", () => setUser(who.role));
  }
  $("composer").addEventListener("submit", submitComposer);
  $("composer-input").addEventListener("input", (event) => {
    const value = event.target.value;
    if (value.startsWith("/") && !state.command) { state.pickerIndex = 0; showPicker(value.slice(1)); } else $("command-picker").hidden = true;
  });
  $("composer-input").addEventListener("keydown", composerKeys);
  $("command-cancel").addEventListener("click", closeCommand);
  $("attach-button").addEventListener("click", openPlusMenu);
  $("attach-clear").addEventListener("click", () => setPlainFile(null));
  $("back-to-channel").addEventListener("click", () => openChannel(state.channels.channel.id));
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-cancel").addEventListener("click", () => { $("modal").hidden = true; });
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#message-menu")) $("message-menu").hidden = true;
  });
  setUser("member");
  listen();
  document.body.dataset.ready = "1";
}

start().catch((error) => toast(`The playground could not start: ${error.message}`));
