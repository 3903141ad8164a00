// Patient space (DICOM LPS, mm) <-> the pixels of a displayed slice PNG, from the series geometry
// of GET /series/{id}: display pixel (x, y) has its centre at origin + x * x_step + y * y_step.

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a) => Math.sqrt(dot(a, a));

export const add = (a, b, k = 1) => [a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2]];
export const distance = (a, b) => norm(sub(a, b));

// The patient-space point of display pixel (x, y) of one slice.
export function toPatient(slice, x, y) {
  return add(add(slice.origin, slice.x_step, x), slice.y_step, y);
}

// Display pixel (x, y) of a point projected on a slice, and its distance (mm) from the slice plane.
export function toPixel(slice, point) {
  const d = sub(point, slice.origin);
  const n = cross(slice.x_step, slice.y_step);
  return {
    x: dot(d, slice.x_step) / dot(slice.x_step, slice.x_step),
    y: dot(d, slice.y_step) / dot(slice.y_step, slice.y_step),
    off: dot(d, n) / norm(n),
  };
}

// The index of the slice whose plane is nearest to a point.
export function nearestSlice(geometry, point) {
  let best = 0;
  let bestOff = Infinity;
  geometry.slices.forEach((slice, i) => {
    const off = Math.abs(toPixel(slice, point).off);
    if (off < bestOff) {
      best = i;
      bestOff = off;
    }
  });
  return best;
}

// The centre of a slice in patient space.
export function sliceCentre(geometry, index) {
  return toPatient(geometry.slices[index], (geometry.width - 1) / 2, (geometry.height - 1) / 2);
}

// The letter of the patient direction a vector points to most (LPS: +x left, +y posterior, +z head).
export function directionLetter(vector) {
  const axis = [0, 1, 2].reduce((a, b) => (Math.abs(vector[b]) > Math.abs(vector[a]) ? b : a), 0);
  return ["RL", "AP", "FH"][axis][vector[axis] > 0 ? 1 : 0];
}

// The slice position along the patient axis its normal follows most, e.g. "L 12.0 mm" (sagittal).
export function slicePosition(geometry, index) {
  const slice = geometry.slices[index];
  const n = cross(slice.x_step, slice.y_step);
  const axis = [0, 1, 2].reduce((a, b) => (Math.abs(n[b]) > Math.abs(n[a]) ? b : a), 0);
  const value = sliceCentre(geometry, index)[axis];
  if (Math.abs(value) < 0.05) return "0.0 mm";
  const letter = ["RL", "AP", "FH"][axis][value > 0 ? 1 : 0];
  return `${letter} ${Math.abs(value).toFixed(1)} mm`;
}

// Pixel spacing (mm per display pixel) along x.
export function spacing(geometry) {
  return norm(geometry.slices[0].x_step);
}
