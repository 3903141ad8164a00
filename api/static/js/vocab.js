// The closed vocabularies of the API contract and the grading form's keys.

export const ENDPLATES = [
  "L1_sup", "L1_inf", "L2_sup", "L2_inf", "L3_sup", "L3_inf",
  "L4_sup", "L4_inf", "L5_sup", "L5_inf", "S1_sup",
];

export function endplateName(id) {
  const [vertebra, side] = id.split("_");
  return `${vertebra} ${side === "sup" ? "superior" : "inferior"}`;
}

// Types in canonical form with their one-key shortcut.
export const TYPES = [
  { value: "none", key: "0", alt: "n" },
  { value: "I", key: "1" },
  { value: "II", key: "2" },
  { value: "III", key: "3" },
  { value: "I/II", key: "4" },
  { value: "I/III", key: "5" },
  { value: "II/III", key: "6" },
  { value: "I/II/III", key: "7" },
];

export const SIZES = [
  { value: "A", hint: "endplate only" },
  { value: "B", hint: "up to 25 % of the body height" },
  { value: "C", hint: "25-50 %" },
  { value: "D", hint: "more than 50 %" },
];

export function typeForKey(key) {
  const k = key.toLowerCase();
  return TYPES.find((t) => t.key === k || t.alt === k)?.value ?? null;
}

export function sizeForKey(key) {
  const k = key.toUpperCase();
  return SIZES.some((s) => s.value === k) ? k : null;
}

// "L4_inf: I/II C (30 %)" style text of one endplate value.
const CORE_FIELDS = new Set(["type", "size", "extension_pct"]);

export function describe(value) {
  if (value?.not_assessable) return `not assessable (${value.not_assessable}${value.note ? `: ${value.note}` : ""})`;
  if (!value || !value.type) return "—";
  let text = value.type === "none" ? "none" : `${value.type} ${value.size ?? "?"}`;
  if (value.type !== "none" && value.extension_pct !== null && value.extension_pct !== undefined) text += ` (${value.extension_pct} %)`;
  // the protocol's other variables, e.g. "I C, location anterior"
  const extras = Object.entries(value).filter(([name, v]) => !CORE_FIELDS.has(name) && v !== null && v !== undefined);
  return extras.length ? `${text}, ${extras.map(([name, v]) => `${name} ${v}`).join(", ")}` : text;
}

export function sameValue(a, b) {
  return describe(a) === describe(b);
}

// The size class of an extension in % of the body height (grading.nordic.size_from_extension).
export function sizeForExtension(pct) {
  if (pct === 0) return "A";
  if (pct <= 25) return "B";
  if (pct <= 50) return "C";
  return "D";
}
