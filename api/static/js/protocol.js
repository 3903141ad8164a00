// The grading form's Nordic-record parts: "not assessable" (one key, X, in a row), the numbering
// reference, the chosen protocol, and the protocol's extra columns (only when it has them).
// The endplate form (endplate-form.js) calls these hooks; the protocols come from GET /api/v1/protocols.

import { get } from "./api.js";
import { newElement, option } from "./dom.js";
import { ENDPLATES } from "./vocab.js";

const SITE_PROTOCOL = "modic.protocol";
export const NOT_ASSESSABLE_KEY = "x";
export const REASONS = [
  { value: "artefact", key: "a", label: "artefact" },
  { value: "outside_fov", key: "f", label: "outside field of view" },
  { value: "transitional", key: "t", label: "transitional anatomy" },
  { value: "other", key: "o", label: "other (note)" },
];
const NUMBERING = {
  reference: ["sacrum", "last_rib", "other"],
  transitional: ["none", "lumbarised_s1", "sacralised_l5"],
};

function select(attributes, values, blank = "—") {
  const node = newElement("select", undefined, attributes);
  if (blank !== null) node.append(option("", blank));
  for (const value of values) node.append(option(value.value ?? value, value.label ?? value));
  return node;
}

export class ProtocolForm {
  constructor(form) {
    this.form = form;
    this.protocols = [];
    this.protocolId = "nordic-2007";
    this.fixed = false; // a reliability read: the study's protocol, not the site's choice
    this.hasPrior = false;
    this.rows = new Map();
    this.buildHeader();
    for (const endplate of ENDPLATES) this.buildRow(endplate);
  }

  buildHeader() {
    const box = newElement("fieldset", undefined, { class: "nordic-record", id: "nordic-record" });
    box.append(newElement("legend", "Record"));
    this.protocolSelect = select({ id: "grading-protocol", "aria-label": "Grading protocol" }, ["nordic-2007"], null);
    this.protocolSelect.addEventListener("change", () => {
      localStorage.setItem(SITE_PROTOCOL, this.protocolSelect.value);
      this.setProtocol(this.protocolSelect.value);
    });
    this.reference = select({ id: "numbering-reference", "aria-label": "Levels counted from" }, NUMBERING.reference);
    this.transitional = select({ id: "numbering-transitional", "aria-label": "Transitional vertebra" }, NUMBERING.transitional);
    for (const [label, control] of [["Protocol", this.protocolSelect], ["Levels counted from", this.reference], ["Transitional vertebra", this.transitional]]) {
      const wrap = newElement("label", `${label} `);
      wrap.append(control);
      box.append(wrap);
    }
    const table = this.form.tbody.closest("table");
    table.before(box);
    this.headRow = table.querySelector("thead tr");
    this.headRow.append(newElement("th", "Not assessable", { scope: "col" }));
  }

  buildRow(endplate) {
    const r = this.form.rows.get(endplate);
    const reason = select({ id: `na-${endplate}`, "aria-label": `${endplate} not assessable`, "data-field": "not_assessable" }, REASONS);
    const note = newElement("input", undefined, { id: `note-${endplate}`, type: "text", maxlength: "500", "aria-label": `${endplate} note`, "data-field": "note" });
    reason.tabIndex = -1; // reached with X from the row's type, so Tab walks type, size and extension
    const td = newElement("td", undefined, { class: "not-assessable" });
    td.append(reason, note);
    r.row.append(td);
    r.errorCell.setAttribute("colspan", "5");
    const extras = new Map();
    for (const control of [reason, note]) control.addEventListener("change", () => this.form.updateRow(endplate));
    this.rows.set(endplate, { reason, note, extras, cells: [] });
  }

  // The site's protocols, once signed in.
  async load() {
    if (this.protocols.length) return;
    const answer = await get("/protocols");
    this.protocols = answer.body.items;
    this.protocolSelect.replaceChildren(...this.protocols.map((p) => option(p.id, p.id)));
    const chosen = localStorage.getItem(SITE_PROTOCOL);
    this.setProtocol(this.protocols.some((p) => p.id === chosen) ? chosen : answer.body.default);
  }

  extraVariables() {
    const protocol = this.protocols.find((p) => p.id === this.protocolId);
    return (protocol?.variables ?? []).filter((v) => !v.core && (!v.requires_prior || this.hasPrior));
  }

  // Rebuilds the extra columns for the protocol (keeping values typed in columns that stay).
  setProtocol(id) {
    this.protocolId = id;
    this.protocolSelect.value = id;
    this.protocolSelect.disabled = this.fixed;
    for (const th of this.headRow.querySelectorAll("th[data-extra]")) th.remove();
    const variables = this.extraVariables();
    for (const v of variables) this.headRow.append(newElement("th", v.label, { scope: "col", "data-extra": v.name, title: v.quote }));
    for (const endplate of ENDPLATES) {
      const row = this.rows.get(endplate);
      const kept = new Map([...row.extras].map(([name, control]) => [name, control.value]));
      for (const cellNode of row.cells) cellNode.remove();
      row.extras = new Map();
      row.cells = variables.map((v) => {
        const control = select(
          { id: `${v.name}-${endplate}`, "aria-label": `${endplate} ${v.label}`, "data-field": v.name, "data-applies": v.applies_to },
          v.categories.map((c) => ({ value: c.value, label: c.value })),
        );
        for (const choice of control.options) {
          const category = v.categories.find((c) => c.value === choice.value);
          if (category) choice.title = category.definition;
        }
        control.value = kept.get(v.name) ?? "";
        control.addEventListener("change", () => this.form.updateRow(endplate));
        row.extras.set(v.name, control);
        const td = newElement("td", undefined, { "data-extra": v.name });
        td.append(control);
        this.form.rows.get(endplate).row.append(td);
        return td;
      });
      this.form.rows.get(endplate).errorCell.setAttribute("colspan", String(5 + variables.length));
      this.updateRow(endplate);
    }
  }

  // The study's protocol for a blinded read, or the site's choice for a clinical grading.
  async open({ protocol = null, hasPrior = false } = {}) {
    await this.load();
    this.fixed = protocol !== null;
    this.hasPrior = hasPrior;
    this.setProtocol(protocol ?? localStorage.getItem(SITE_PROTOCOL) ?? this.protocolId);
    this.protocolSelect.disabled = this.fixed;
    this.reference.value = "";
    this.transitional.value = "";
  }

  isNotAssessable(endplate) {
    return this.rows.get(endplate).reason.value !== "";
  }

  // The endplate's value: {not_assessable, note?}, or the graded value with the extra variables.
  valueOf(endplate, graded) {
    const row = this.rows.get(endplate);
    if (row.reason.value) {
      const value = { not_assessable: row.reason.value };
      if (row.note.value.trim()) value.note = row.note.value.trim();
      return value;
    }
    for (const [name, control] of row.extras) if (control.value && !control.disabled) graded[name] = control.value;
    return graded;
  }

  fillRow(endplate, value) {
    const row = this.rows.get(endplate);
    row.reason.value = value?.not_assessable ?? "";
    row.note.value = value?.note ?? "";
    for (const [name, control] of row.extras) control.value = value?.[name] ?? "";
  }

  updateRow(endplate) {
    const r = this.form.rows.get(endplate);
    const row = this.rows.get(endplate);
    const unread = row.reason.value !== "";
    r.row.classList.toggle("not-assessable", unread);
    if (unread) {
      r.type.value = "";
      r.size.value = "";
      r.ext.value = "";
      r.size.disabled = true;
      r.ext.disabled = true;
    }
    row.note.hidden = !unread;
    row.reason.tabIndex = unread ? 0 : -1;
    const change = r.type.value !== "" && r.type.value !== "none";
    for (const control of row.extras.values()) {
      control.disabled = unread || (control.dataset.applies === "change" && !change);
      if (control.disabled) control.value = "";
    }
    return unread;
  }

  // The body's protocol and numbering (a read's protocol is the study's: only endplates are sent).
  body() {
    const body = { protocol: this.protocolId };
    if (this.reference.value && this.transitional.value) {
      body.numbering = { reference: this.reference.value, transitional: this.transitional.value };
    }
    return body;
  }

  fillRecord(grading) {
    if (grading.protocol) this.setProtocol(grading.protocol);
    this.reference.value = grading.numbering?.reference ?? "";
    this.transitional.value = grading.numbering?.transitional ?? "";
  }

  // X on a row's type marks it not assessable and moves to the reason (A/F/T/O pick one and move on);
  // in an extra column, Enter moves to the next row. True when the key was handled here.
  handleKey(event, endplate) {
    const control = event.target;
    const row = this.rows.get(endplate);
    const key = event.key.toLowerCase();
    if (control.dataset.field === "type" && key === NOT_ASSESSABLE_KEY) {
      event.preventDefault();
      row.reason.value = row.reason.value ? "" : REASONS[0].value;
      this.form.updateRow(endplate);
      if (row.reason.value) row.reason.focus();
      return true;
    }
    if (control === row.reason) {
      const reason = REASONS.find((r) => r.key === key);
      if (!reason) return key.length === 1;
      event.preventDefault();
      row.reason.value = reason.value;
      this.form.updateRow(endplate);
      if (reason.value === "other") row.note.focus();
      else this.form.focusNextRow(endplate);
      return true;
    }
    if (row.extras.size && [...row.extras.values()].includes(control) && event.key === "Enter") {
      event.preventDefault();
      this.form.focusNextRow(endplate);
      return true;
    }
    return [...row.extras.values()].includes(control); // the select's own type-ahead picks a category
  }

  // After a size key: the row's first extra column that applies, if the protocol has one.
  firstExtra(endplate) {
    return [...this.rows.get(endplate).extras.values()].find((c) => !c.disabled) ?? null;
  }
}
