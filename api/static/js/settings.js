// The viewer settings a radiologist keeps across studies and page loads: zoom, pan, window and
// "smooth noise". Kept in localStorage of this browser; they are display settings, never data.

const KEY = "modic.view";

export function saveViewSettings(settings) {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    // storage full or disabled: the settings then last for this page only
  }
}

export function loadViewSettings() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
  } catch {
    return null;
  }
  const number = (v) => typeof v === "number" && Number.isFinite(v);
  if (!saved || !number(saved.zoom) || !number(saved.pan?.x) || !number(saved.pan?.y)) return null;
  if (!number(saved.window?.c) || !number(saved.window?.w) || typeof saved.preset !== "string") return null;
  return {
    zoom: saved.zoom,
    pan: { x: saved.pan.x, y: saved.pan.y },
    preset: saved.preset,
    window: { c: saved.window.c, w: saved.window.w },
    smooth: saved.smooth === true,
  };
}
